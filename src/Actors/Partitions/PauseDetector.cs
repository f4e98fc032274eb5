namespace Vios.Actors.Partitions;

/// <summary>
/// Notices that this process was frozen (SIGSTOP, a long GC pause, a suspended host): fed a periodic
/// tick with the monotonic clock's reading, it reports a gap between two ticks longer than
/// <see cref="Threshold"/>. A process frozen that long may have been taken for dead and its
/// partitions failed over, so it must check ownership before it lets any partition act again.
/// </summary>
public sealed class PauseDetector(TimeSpan threshold)
{
    private TimeSpan? _last;

    public TimeSpan Threshold { get; } = threshold > TimeSpan.Zero
        ? threshold
        : throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the pause threshold must be positive");

    /// <summary>Forgets the last tick (the ticks stopped on purpose and start again).</summary>
    public void Reset() => _last = null;

    /// <summary>One tick at monotonic time <paramref name="now"/>; returns the gap when it exceeds the threshold, else null.</summary>
    public TimeSpan? Tick(TimeSpan now)
    {
        var last = _last;
        _last = now;
        if (last is not { } previous) return null;
        var gap = now - previous;
        return gap > Threshold ? gap : null;
    }
}
