using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Vios.Actors.Partitions;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// A partition's checkpoint journal, <c>lpar-&lt;name&gt;</c> in the cluster-wide journal (so another
/// node can restore it): each epoch's pages as <see cref="ImageChunk"/> events, then its
/// <see cref="EpochCommitted"/>. After a full image it saves a snapshot (the consistency image's
/// place in the journal) and deletes the events and snapshots before that image. The boot image is
/// the same kind of journal under <c>lpar-&lt;name&gt;-boot</c>, written once.
/// <para>
/// An epoch is written in bounded writes of <see cref="ChunksPerWrite"/> chunks, the commit with
/// the last ones; it counts only once its commit is in the journal.
/// </para>
/// <para>
/// One owner per partition: each write's last event carries the writer's <see cref="OwnerClaim"/> as a
/// journal tag (<c>owner-epoch:&lt;epoch&gt;:lpar-&lt;name&gt;</c>). A write's events are one transaction, so
/// when the database's fence refuses the tag it refuses the whole write, and with it the epoch.
/// </para>
/// </summary>
public sealed class CheckpointStoreActor : ReceivePersistentActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly bool _writeOnce;
    private CheckpointJournalState _state = CheckpointJournalState.Empty;
    private (IActorRef ReplyTo, long Epoch)? _persisting;
    private readonly OwnerClaim? _claim;

    public CheckpointStoreActor(string persistenceId, bool writeOnce, OwnerClaim? claim)
    {
        PersistenceId = persistenceId;
        _writeOnce = writeOnce;
        _claim = claim;
        JournalPluginId = PersistencePlugins.ClusterJournal;
        SnapshotPluginId = PersistencePlugins.ClusterSnapshots;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is CheckpointJournalState state) _state = state;
        });
        Recover<ImageChunk>(_ => { });
        Recover<EpochCommitted>(Apply);

        Command<PersistEpoch>(persist =>
        {
            if (_writeOnce && _state.Epochs.Count > 0)
            {
                Sender.Tell(new EpochPersisted(persist.Capture.Epoch, _state.Epochs[0], AlreadyThere: true));
                return;
            }
            var capture = persist.Capture;
            var chunks = ImageChunker.ChunkCount(capture);
            var commit = new EpochCommitted(capture.Epoch, capture.Kind, LastSequenceNr + 1, chunks, capture.Frames.Length, capture.PageCount,
                capture.VcpuState, ImageChecksum.OfState(capture.VcpuState), capture.MemoryChecksum, (long)capture.Stun.TotalMicroseconds, capture.At);
            _persisting = (Sender, capture.Epoch);
            WriteFrom(capture, commit, 0, Sender);
        });
        Command<GetJournalState>(_ => Sender.Tell(_state));
        Command<SaveSnapshotSuccess>(success =>
        {
            // The consistency image is the newest full one: what comes before it is never needed again.
            if (_state.ConsistencyFirstSeqNr > 1) DeleteMessages(_state.ConsistencyFirstSeqNr - 1);
            DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(failure => _log.Warning("{0}: snapshot failed: {1}", PersistenceId, failure.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(failure => _log.Warning("{0}: old events not deleted: {1}", PersistenceId, failure.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId { get; }

    /// <summary>
    /// Chunks per journal write: 16 of 256 KiB, 4 MiB. A 2 GiB image is 512 short transactions, each
    /// well inside the journal's call timeout, instead of one that outlasts it (issue 19); other
    /// partitions' writes go between them.
    /// </summary>
    public const int ChunksPerWrite = 16;

    public static string PersistenceIdFor(string lpar) => $"lpar-{lpar}";

    public static string BootPersistenceIdFor(string lpar) => $"lpar-{lpar}-boot";

    /// <param name="claim">The owner's claim each commit carries; null writes untagged (no fence checks it).</param>
    public static Props Props(string persistenceId, bool writeOnce = false, OwnerClaim? claim = null) =>
        Akka.Actor.Props.Create(() => new CheckpointStoreActor(persistenceId, writeOnce, claim));

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (_persisting is var (replyTo, epoch))
            replyTo.Tell(new EpochPersistFailed(epoch, $"the journal did not record epoch {epoch}: {Innermost(cause).Message}")
            {
                FenceRefused = Ownership.IsFenceRefusal(cause),
            });
        _persisting = null;
        _log.Warning("{0}: epoch not recorded: {1}", PersistenceId, cause.Message);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        if (_persisting is var (replyTo, epoch))
            replyTo.Tell(new EpochPersistFailed(epoch, $"the journal rejected epoch {epoch}: {cause.Message}"));
        _persisting = null;
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "{0}: the checkpoint journal cannot be read: {1}", PersistenceId, reason.Message);
        base.OnRecoveryFailure(reason, message);
    }

    /// <summary>
    /// Writes the epoch's chunks from <paramref name="firstChunk"/>, <see cref="ChunksPerWrite"/> at a
    /// time, each write persisted from the previous one's handler (so each is its own journal call),
    /// then the commit with the last chunks. The chunks of an epoch are contiguous: commands wait
    /// until the commit is written. Every write carries the owner's tag on its last event, so the
    /// fence refuses a stale owner's first write, not only its commit; chunks written before a
    /// failure are never committed, and a restore ignores them.
    /// </summary>
    private void WriteFrom(EpochCapture capture, EpochCommitted commit, int firstChunk, IActorRef replyTo)
    {
        var count = Math.Min(ChunksPerWrite, commit.Chunks - firstChunk);
        var final = firstChunk + count == commit.Chunks;
        var events = ImageChunker.Split(capture, firstChunk, count).Cast<object>().ToList();
        if (final) events.Add(commit);
        var last = events[^1];
        if (_claim is { } claim) events[^1] = new Tagged(last, new[] { claim.Tag });
        PersistAll(events, e =>
        {
            if (!ReferenceEquals(e is Tagged t ? t.Payload : e, last)) return;
            if (!final)
            {
                WriteFrom(capture, commit, firstChunk + count, replyTo);
                return;
            }
            _persisting = null;
            Apply(commit);
            replyTo.Tell(new EpochPersisted(commit.Epoch, _state.Epochs[^1], AlreadyThere: false));
            if (commit.Kind == ImageKind.Full) SaveSnapshot(_state);
        });
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    private void Apply(EpochCommitted committed)
    {
        var summary = new EpochSummary(committed.Epoch, committed.Kind, committed.Pages, (long)committed.Pages * Memory.GuestMemory.PageSize,
            committed.StunMicroseconds, committed.MemoryChecksum, committed.At);
        _state = committed.Kind == ImageKind.Full
            ? new CheckpointJournalState(committed.Epoch, committed.FirstChunkSeqNr, [summary])
            : _state with { Epochs = [.. _state.Epochs, summary] };
    }
}

/// <summary>Persist this epoch (local, from the coordinator).</summary>
public sealed record PersistEpoch(EpochCapture Capture);

public sealed record EpochPersisted(long Epoch, EpochSummary Summary, bool AlreadyThere);

public sealed record EpochPersistFailed(long Epoch, string Reason)
{
    /// <summary>The database's ownership fence refused the write (this copy's, or another's in the same batch).</summary>
    public bool FenceRefused { get; init; }
}

public sealed record GetJournalState
{
    public static GetJournalState Instance { get; } = new();
}

/// <summary>
/// Reads a checkpoint journal from its start (ignoring snapshots) into an <see cref="ImageAssembler"/>
/// and answers <see cref="ImageRead"/> or <see cref="ImageUnreadable"/>, then stops. It never writes.
/// </summary>
public sealed class ImageReaderActor : ReceivePersistentActor
{
    private readonly ImageAssembler _assembler;
    private readonly IActorRef _replyTo;

    public ImageReaderActor(string persistenceId, long? targetEpoch, IActorRef replyTo)
    {
        PersistenceId = persistenceId;
        _assembler = new ImageAssembler(targetEpoch);
        _replyTo = replyTo;
        JournalPluginId = PersistencePlugins.ClusterJournal;
        SnapshotPluginId = PersistencePlugins.ClusterSnapshots;

        Recover<ImageChunk>(chunk => _assembler.OnChunk(LastSequenceNr, chunk));
        Recover<EpochCommitted>(commit => _assembler.OnCommit(LastSequenceNr, commit));
        Recover<RecoveryCompleted>(_ =>
        {
            var image = _assembler.Complete();
            _replyTo.Tell(image is not null ? new ImageRead(image) : new ImageUnreadable(_assembler.Refusal!));
            Context.Stop(Self);
        });
        CommandAny(_ => { });
    }

    public override string PersistenceId { get; }

    public override Recovery Recovery => new(SnapshotSelectionCriteria.None);

    public static Props Props(string persistenceId, long? targetEpoch, IActorRef replyTo) =>
        Akka.Actor.Props.Create(() => new ImageReaderActor(persistenceId, targetEpoch, replyTo));

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _replyTo.Tell(new ImageUnreadable(
            $"the journal {PersistenceId} cannot be read after sequence number {LastSequenceNr}: {reason.Message}"));
        _assembler.Dispose();
        base.OnRecoveryFailure(reason, message);
    }

    protected override void PostStop() => _assembler.Dispose();
}

public sealed record ImageRead(RestoredImage Image);

public sealed record ImageUnreadable(string Reason);
