namespace Vios.Actors.Checkpoint;

/// <summary>
/// A partition's checkpoint counters: epochs committed and failed, stun times (p50 and p99 over the
/// last <see cref="Window"/> epochs), dirty bytes captured and bytes sent.
/// </summary>
public sealed class CheckpointCounters
{
    public const int Window = 4096;

    private readonly double[] _stuns = new double[Window];
    private int _stunCount;
    private int _next;

    public long Epochs { get; private set; }
    public long FailedEpochs { get; private set; }
    public long DirtyBytes { get; private set; }
    public long BytesSent { get; private set; }
    public string? LastFailure { get; private set; }

    public void Committed(TimeSpan stun, long dirtyBytes, long bytesSent)
    {
        Epochs++;
        DirtyBytes += dirtyBytes;
        BytesSent += bytesSent;
        _stuns[_next] = stun.TotalMicroseconds;
        _next = (_next + 1) % Window;
        _stunCount = Math.Min(_stunCount + 1, Window);
    }

    public void Failed(string reason)
    {
        FailedEpochs++;
        LastFailure = reason;
    }

    /// <summary>The stun time below which <paramref name="percentile"/> of the recent epochs fall, in microseconds.</summary>
    public double StunPercentile(double percentile)
    {
        if (_stunCount == 0) return 0;
        var sorted = _stuns.AsSpan(0, _stunCount).ToArray();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
