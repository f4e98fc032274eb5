namespace Vios.Actors.Checkpoint;

/// <summary>
/// A partition's restores, one at a time: a second one would take the first's reply, and its
/// requester (an operator, or the HA manager's failover) would wait for an answer that never comes.
/// The coordinator reads the image <see cref="Begin"/> names, then hands what it read (or why it
/// could not) to <see cref="Read"/> or <see cref="Unreadable"/>. Pure.
/// </summary>
public sealed class RestoreGate<TRequester>
{
    private (RestoreCheckpoint Restore, TRequester ReplyTo)? _pending;

    public bool Busy => _pending is not null;

    /// <summary>The journal to read the image from (the boot image's for epoch 0), or the refusal while another restore is under way.</summary>
    public (string? PersistenceId, string? Refusal) Begin(RestoreCheckpoint restore, TRequester replyTo)
    {
        if (_pending is var (pending, _))
            return (null, $"a restore of '{restore.Name}' from '{pending.Source}'{(pending.Epoch is { } e ? $" at epoch {e}" : "")} is under way; try again once it is done");
        _pending = (restore, replyTo);
        return (restore.Epoch == 0 ? CheckpointStoreActor.BootPersistenceIdFor(restore.Source) : CheckpointStoreActor.PersistenceIdFor(restore.Source), null);
    }

    /// <summary>The image was read: the restore it belongs to, which is over (null when none was pending).</summary>
    public (RestoreCheckpoint Restore, TRequester ReplyTo)? Read() => Take();

    /// <summary>The image could not be read: whom to tell, and what.</summary>
    public (TRequester ReplyTo, Partitions.LparRefused Refusal)? Unreadable(string reason) =>
        Take() is var (restore, replyTo)
            ? (replyTo, new Partitions.LparRefused(restore.Name, $"cannot restore '{restore.Name}' from '{restore.Source}': {reason}"))
            : null;

    private (RestoreCheckpoint Restore, TRequester ReplyTo)? Take()
    {
        var pending = _pending;
        _pending = null;
        return pending;
    }
}
