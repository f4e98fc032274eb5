namespace Vios.Actors.Availability;

/// <summary>
/// S22: the execution latency of a fault-tolerant pair, in checkpoint epochs, as
/// <see cref="LagController"/> observes it.
/// <para>
/// The primary's schedule makes one epoch <see cref="Due"/> per interval tick, whether or not that
/// epoch could start: a tick skipped because the pipeline already has its epochs awaiting their
/// acknowledgement, or because a capture is still running, is counted all the same. The secondary's
/// <see cref="Applied"/> epoch is its last acknowledged one, counted on the same schedule: at the tick
/// it was captured at. An epoch captured after skipped ticks carries every page written up to its own
/// tick, so once applied it brings the secondary up to that tick and makes up for the skipped ones.
/// </para>
/// <para>
/// <see cref="Lag"/> = <see cref="Due"/> − <see cref="Applied"/>. A secondary that keeps up shows 1
/// at each tick (the previous tick's epoch is acknowledged, this tick's is about to be captured); a
/// slow one shows a growing lag, because ticks keep coming due while its acknowledgements come late.
/// </para>
/// Counting the applied epoch by its sequence number instead would never forgive a skipped tick: the
/// lag could then only grow, and a primary slowed once could never be raised again.
/// </summary>
public sealed class ExecutionLag
{
    // The tick each epoch sent and not yet acknowledged was captured at: a pipeline's worth of entries.
    private readonly Dictionary<long, long> _capturedAt = [];

    /// <summary>Epochs the primary's schedule has made due since the pair was formed.</summary>
    public long Due { get; private set; }

    /// <summary>The schedule's tick that the secondary's last acknowledged epoch was captured at.</summary>
    public long Applied { get; private set; }

    public long Lag => Due - Applied;

    /// <summary>One interval tick of the primary's schedule; returns the epochs due now.</summary>
    public long Tick() => ++Due;

    /// <summary>
    /// Epoch <paramref name="epoch"/> is being captured now. An epoch number captured again (an
    /// earlier capture of it was refused and the number reused) takes the later tick.
    /// </summary>
    public void Capturing(long epoch) => _capturedAt[epoch] = Due;

    /// <summary>
    /// The secondary acknowledged <paramref name="epoch"/> (and, acknowledgements being in order,
    /// everything before it). An epoch never seen captured changes nothing.
    /// </summary>
    public void Acknowledged(long epoch)
    {
        if (!_capturedAt.TryGetValue(epoch, out var tick)) return;
        Applied = Math.Max(Applied, tick);
        foreach (var older in _capturedAt.Keys.Where(e => e <= epoch).ToList()) _capturedAt.Remove(older);
    }
}
