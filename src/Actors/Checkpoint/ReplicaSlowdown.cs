namespace Vios.Actors.Checkpoint;

/// <summary>
/// An artificially slowed secondary, for tests and S22 experiments: applying an epoch is made to cost
/// <see cref="PerPage"/> for each page it applied, on a secondary that applies one epoch at a time.
/// The pages are applied at once; what is held is the reply to the commit, until the apply would have
/// finished, so the primary sees exactly a secondary that slow. Lowering the primary's rate dirties
/// fewer pages per epoch and so really lightens the secondary's work. Replies leave in the order of
/// their commits. Pure: times are whatever the caller reads off its clock.
/// </summary>
/// <typeparam name="TReply">What is held (the reply and whom it goes to).</typeparam>
public sealed class ReplicaSlowdown<TReply>
{
    private readonly Queue<(TimeSpan Due, TReply Reply)> _held = new();
    private TimeSpan _busyUntil;

    /// <summary>The apply cost of one page; zero (the default) is a secondary at its own speed.</summary>
    public TimeSpan PerPage { get; private set; }

    /// <summary>Replies held, waiting for their apply to finish.</summary>
    public int Held => _held.Count;

    /// <summary>When the oldest held reply may leave; null when none is held.</summary>
    public TimeSpan? NextDue => _held.TryPeek(out var oldest) ? oldest.Due : null;

    /// <summary>
    /// Sets the cost per page; zero removes the slowdown and lets every held reply leave at the next
    /// <see cref="Release"/>.
    /// </summary>
    /// <returns>Why the cost was refused, or null.</returns>
    public string? Slow(TimeSpan perPage)
    {
        if (perPage < TimeSpan.Zero) return $"a slowdown is zero or more per page; got {perPage.TotalMilliseconds} ms";
        PerPage = perPage;
        return null;
    }

    /// <summary>
    /// A commit of <paramref name="pages"/> pages was applied at <paramref name="now"/>. Returns false
    /// when its reply may go now (no slowdown and nothing held before it); true when it is held.
    /// </summary>
    public bool Hold(TimeSpan now, int pages, TReply reply)
    {
        if (PerPage == TimeSpan.Zero && _held.Count == 0) return false;
        // One epoch at a time: this one starts when the one before it has finished.
        var start = now > _busyUntil ? now : _busyUntil;
        _busyUntil = start + (PerPage * pages);
        _held.Enqueue((_busyUntil, reply));
        return true;
    }

    /// <summary>The held replies whose apply has finished by <paramref name="now"/> (all of them without a slowdown), oldest first.</summary>
    public IReadOnlyList<TReply> Release(TimeSpan now)
    {
        var released = new List<TReply>();
        while (_held.TryPeek(out var oldest) && (oldest.Due <= now || PerPage == TimeSpan.Zero))
            released.Add(_held.Dequeue().Reply);
        return released;
    }
}
