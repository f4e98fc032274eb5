namespace Vios.Actors.Partitions;

/// <summary>
/// Remus's output commit, for one partition: while <see cref="Holding"/> (continuous checkpointing
/// or replication runs), what the guest sends is held with the epoch it was produced in, and leaves
/// only once that epoch commits, so nothing outside ever sees a state a failover could roll back.
/// Otherwise outputs leave at once. A copy that lost the partition drops what it holds: the epochs
/// those outputs belong to never commit.
/// </summary>
public sealed class OutputGate
{
    private long _open;
    private readonly Queue<(long Epoch, long Count)> _sealed = new();

    /// <summary>Whether outputs wait for their epoch's commit.</summary>
    public bool Holding { get; set; }

    /// <summary>Outputs produced and not yet released: the open epoch's and those of epochs awaiting their commit.</summary>
    public long Held => _open + _sealed.Sum(h => h.Count);

    public long Released { get; private set; }

    /// <summary>Outputs dropped when this copy lost its ownership: never released.</summary>
    public long Dropped { get; private set; }

    /// <summary>The guest sent <paramref name="count"/> outputs.</summary>
    public void Produced(long count)
    {
        if (Holding) _open += count;
        else Released += count;
    }

    /// <summary>The stun of <paramref name="epoch"/>: the outputs produced so far belong to it and leave when it commits.</summary>
    public void Seal(long epoch)
    {
        if (!Holding) return;
        _sealed.Enqueue((epoch, _open));
        _open = 0;
    }

    /// <summary>Epoch <paramref name="epoch"/> committed: the outputs sealed up to it leave.</summary>
    public void Commit(long epoch)
    {
        while (_sealed.TryPeek(out var held) && held.Epoch <= epoch)
        {
            _sealed.Dequeue();
            Released += held.Count;
        }
    }

    /// <summary>A newer owner runs the partition: what is held is dropped.</summary>
    public void Drop()
    {
        Dropped += Held;
        Clear();
    }

    /// <summary>Checkpointing stopped: nothing is held any more, and what was held leaves.</summary>
    public void ReleaseAll()
    {
        Holding = false;
        Released += Held;
        Clear();
    }

    private void Clear()
    {
        _sealed.Clear();
        _open = 0;
    }
}
