using Vios.Actors.Availability;
using Vios.Actors.Partitions;

namespace Vios.Actors.Checkpoint;

/// <summary>What the checkpoint coordinator's actor does for <see cref="EpochCoordinator{TRequester}"/>: one step each, in order.</summary>
public abstract record EpochAction;

/// <summary>Tell the LPAR (its actor is the coordinator's parent): capture, pre-copy, commit, hold outputs, CPU share.</summary>
public sealed record ToLpar(object Message) : EpochAction;

/// <summary>Tell the pair's replica: an epoch's parts and its commit, or stop.</summary>
public sealed record ToReplica(object Message) : EpochAction;

/// <summary>Answer whoever asked.</summary>
public sealed record Reply<TRequester>(TRequester To, object Message) : EpochAction;

/// <summary>Write the epoch to the partition's journal; its outcome comes back as <see cref="EpochCoordinator{T}.Persisted"/> or <see cref="EpochCoordinator{T}.PersistFailed"/>.</summary>
public sealed record Persist(EpochCapture Capture) : EpochAction;

/// <summary>Write the partition's boot image (once).</summary>
public sealed record PersistBoot(EpochCapture Capture) : EpochAction;

/// <summary>An epoch every <paramref name="Interval"/> (<see cref="EpochCoordinator{T}.Tick"/>), or none any more.</summary>
public sealed record EpochTicks(TimeSpan? Interval) : EpochAction;

/// <summary>Give the replica until <paramref name="Timeout"/> to acknowledge <paramref name="Epoch"/>, or no longer (null).</summary>
public sealed record AckDeadline(long Epoch, TimeSpan? Timeout) : EpochAction;

/// <summary>Ask <paramref name="Firmware"/> for a replica, and give it <paramref name="Timeout"/> (null: the request is over).</summary>
public sealed record AskForReplica(string? Firmware, StartReplica? Request, TimeSpan? Timeout) : EpochAction;

/// <summary>The pair is over: stop watching the replica (the stop itself is a <see cref="ToReplica"/> before this).</summary>
public sealed record ReplicaReleased : EpochAction
{
    public static ReplicaReleased Instance { get; } = new();
}

/// <summary>For the log: a warning.</summary>
public sealed record Warn(string Text) : EpochAction;

/// <summary>
/// A partition's checkpoint epochs as a plain state machine (S23, S24, S22), driven by the coordinator
/// actor and by specs alike: each method takes an event (and the time where it matters) and returns
/// the actions to carry out, in order. One epoch is captured at a time, in a phase of its own
/// (<see cref="Flight"/>); a persisted epoch commits when the journal has it, a replicated one when
/// the replica acknowledges it, with up to <see cref="PipelineDepth"/> awaiting acknowledgement while
/// the next is captured (as Remus pipelines). S22: at every tick of a pair the secondary's lag
/// (<see cref="ExecutionLag"/>) steers the primary's CPU share (<see cref="LagController"/>).
/// Periodic epochs after a failed one back off (<see cref="EpochBackoff"/>). Ownership (the fence) is
/// the actor's: it calls <see cref="Lose"/> when this copy lost the partition.
/// </summary>
/// <typeparam name="TRequester">Whoever asked for an epoch or a pair, answered through <see cref="Reply{TRequester}"/>.</typeparam>
public sealed class EpochCoordinator<TRequester>(string lpar, string node, long pageCount, CheckpointSettings settings) where TRequester : class
{
    /// <summary>Epochs that may await their acknowledgement at once: two, so the send of one overlaps the next's run.</summary>
    public const int PipelineDepth = 2;

    /// <summary>Pages saved per message while the guest runs: 2 MiB, a few hundred microseconds between workload ticks.</summary>
    public const int CowBatchPages = 512;

    private readonly CheckpointCounters _counters = new();
    private readonly EpochBackoff _backoff = new();
    private long _lastEpoch;
    private int _deltasSinceFull;
    private bool _needFull = true;
    private CheckpointMode _periodicMode;
    private bool _periodicVerify;
    private TimeSpan _cowStun;
    private (ReplicateCheckpoints Request, TRequester ReplyTo)? _pairingRequest;
    private string? _note;
    // Pages sent as diffs and whole, and S22 decisions, of earlier pairings (the current one counts its own); decisions null until the first pairing.
    private long _diffPages;
    private long _wholePages;
    private (long Lowered, long Raised, long Held)? _earlierDecisions;

    /// <summary>The epoch being captured (and, persisted, written), if any.</summary>
    public Flight? InFlight { get; private set; }

    /// <summary>The pair with the replica, while replicating (S23).</summary>
    public Pair? Pairing { get; private set; }

    /// <summary>The periodic interval, while epochs are periodic or replicated.</summary>
    public int? IntervalMs { get; private set; }

    public long LastEpoch => _lastEpoch;

    /// <summary>Whether the next epoch must be a full image (first, after a restore, a failure or a new pair).</summary>
    public bool NeedFull => _needFull;

    /// <summary>The partition's journal recovered: where its epochs stand.</summary>
    public void Recovered(long lastEpoch, int deltasSinceFull)
    {
        _lastEpoch = Math.Max(_lastEpoch, lastEpoch);
        _deltasSinceFull = deltasSinceFull;
    }

    /// <summary>Memory came from an image, not from this dirty log: the next epoch is whole.</summary>
    public void ImageInstalled() => _needFull = true;

    /// <summary>The LPAR's first activation: its boot image.</summary>
    public IReadOnlyList<EpochAction> WriteBootImage() => [new ToLpar(new CaptureEpoch(0, Full: true, Checksum: true, ForBoot: true))];

    /// <summary><c>checkpoint take</c>: now, and with an interval, every interval from now on.</summary>
    public IReadOnlyList<EpochAction> Take(TakeCheckpoint take, TRequester? requester)
    {
        var actions = new List<EpochAction>();
        if (take.IntervalMs is { } interval)
        {
            if (interval < settings.MinimumIntervalMs) return Refuse(requester, $"the epoch interval is at least {settings.MinimumIntervalMs} ms");
            _periodicMode = take.Mode == CheckpointMode.Full ? CheckpointMode.Full : CheckpointMode.Incremental;
            IntervalMs = interval;
            _periodicVerify = take.Verify;
            actions.Add(new ToLpar(new HoldOutputs(true)));
            actions.Add(new EpochTicks(TimeSpan.FromMilliseconds(interval)));
        }
        if (InFlight is { } flight)
        {
            if (take.IntervalMs is not null) actions.AddRange(Answer(requester, Taken(null, periodic: true)));
            else actions.AddRange(Refuse(requester, $"epoch {flight.Epoch} is in flight; try again"));
            return actions;
        }
        actions.AddRange(Begin(take.Mode, requester, periodic: take.IntervalMs is not null));
        return actions;
    }

    /// <summary>
    /// A tick of the epoch schedule at <paramref name="now"/>: S22 steers a pair on it, whether or not an
    /// epoch can start; a periodic epoch starts when none is being captured, the pipeline has room and
    /// no back-off holds it.
    /// </summary>
    public IReadOnlyList<EpochAction> Tick(DateTimeOffset now)
    {
        var actions = new List<EpochAction>();
        if (Pairing is { } pair && pair.Steer() is { } share) actions.Add(new ToLpar(new AllocatePrimaryCpu(share)));
        if (InFlight is null && IntervalMs is not null && (Pairing?.Unacknowledged.Count ?? 0) < PipelineDepth && _backoff.Due(now))
            actions.AddRange(Begin(_periodicMode, default, periodic: true));
        return actions;
    }

    /// <summary>The LPAR's stun is over: the epoch's pages go to the replica or the journal.</summary>
    public IReadOnlyList<EpochAction> Captured(EpochCaptureResult result)
    {
        if (result.ForBoot) return result.Capture is { } boot ? [new PersistBoot(boot)] : [];
        if (InFlight is not { } flight || result.Capture?.Epoch is { } e && e != flight.Epoch) return [];
        if (result.Capture is not { } capture)
        {
            InFlight = null;
            _lastEpoch--;
            var refused = Refuse(flight.ReplyTo, result.Refusal!).ToList();
            if (flight.Periodic) refused.AddRange(StopPeriodic());
            return refused;
        }
        if (Pairing is { } pair)
        {
            var actions = new List<EpochAction>();
            pair.Sender.RecordEpoch([.. capture.Frames, .. pair.PreCopiedFrames]);
            actions.AddRange(pair.Send(capture.Epoch, capture.Frames, i => capture.Page(i), preCopy: false));
            actions.Add(new ToReplica(new ReplicaCommit(lpar, capture.Epoch, pair.Parts, capture.VcpuState, capture.MemoryChecksum)));
            pair.DirtyBytes += capture.Bytes;
            // Sent: the epoch commits when the replica acknowledges it; the next one may start now.
            var summary = new EpochSummary(capture.Epoch, capture.Kind, capture.Frames.Length, capture.Bytes,
                (long)capture.Stun.TotalMicroseconds, capture.MemoryChecksum, capture.At);
            pair.Unacknowledged.Enqueue(new Unacknowledged(capture.Epoch, summary, capture.Stun, pair.DirtyBytes, pair.BytesSent, flight.ReplyTo, flight.Periodic));
            // The first epoch carries every page the guest has written: give it time in proportion.
            var timeout = capture.Kind == ImageKind.Full
                ? pair.AckTimeout + TimeSpan.FromMilliseconds(capture.Bytes / (1024 * 1024) * 100)
                : pair.AckTimeout;
            actions.Add(new AckDeadline(capture.Epoch, timeout));
            InFlight = null;
            _needFull = false;
            return actions;
        }
        InFlight = flight with { Capture = capture };
        return [new Persist(capture)];
    }

    /// <summary>The journal has the epoch: it commits, and its outputs leave.</summary>
    public IReadOnlyList<EpochAction> Persisted(long epoch, EpochSummary summary)
    {
        if (epoch == 0 || InFlight is not { Capture: { } capture } flight || flight.Epoch != epoch) return [];
        InFlight = null;
        _needFull = false;
        _deltasSinceFull = capture.Kind == ImageKind.Full ? 0 : _deltasSinceFull + 1;
        _counters.Committed(capture.Stun, capture.Bytes, capture.Bytes);
        _backoff.Clear();
        var actions = new List<EpochAction> { new ToLpar(new CommitEpoch(capture.Epoch)) };
        if (flight.Mode == CheckpointMode.Cow && !flight.Periodic) actions.Add(new ToLpar(new CommitCowLayer(capture.Epoch)));
        actions.AddRange(Answer(flight.ReplyTo, Taken(summary, flight.Periodic)));
        return actions;
    }

    /// <summary>
    /// The partition's journal actor stopped (its recovery failed, or a write did): an epoch it was
    /// persisting is lost unanswered, and fails here, or no epoch would ever start again (the
    /// PostgreSQL soak found one stuck for a minute after a database restart, its hot pair empty).
    /// </summary>
    public IReadOnlyList<EpochAction> JournalStopped(string reason, DateTimeOffset now) =>
        InFlight is { Capture: not null } flight ? PersistFailed(flight.Epoch, reason, now) : [];

    /// <summary>The journal did not record the epoch: it is not committed, the partition keeps running, and the next epoch is full.</summary>
    public IReadOnlyList<EpochAction> PersistFailed(long epoch, string reason, DateTimeOffset now)
    {
        if (InFlight is not { } flight || flight.Epoch != epoch) return [];
        InFlight = null;
        // The dirty pages of the failed epoch were collected and not kept: only a full image is whole again.
        _needFull = true;
        _counters.Failed(reason);
        var actions = new List<EpochAction>();
        if (flight.Periodic && IntervalMs is { } interval)
        {
            _backoff.Failed(TimeSpan.FromMilliseconds(interval), now);
            actions.Add(new Warn($"{lpar}: checkpoint epoch {epoch} failed, the partition keeps running: {reason}; {_backoff.Describe(now)}"));
        }
        else actions.Add(new Warn($"{lpar}: checkpoint epoch {epoch} failed, the partition keeps running: {reason}"));
        actions.AddRange(Refuse(flight.ReplyTo, $"checkpoint epoch {epoch} failed: {reason}; the partition keeps running and the next epoch retries"));
        return actions;
    }

    /// <summary>S24: the stun is over; the pages are saved in batches while the guest runs.</summary>
    public IReadOnlyList<EpochAction> CowStunned(CowStunned stunned)
    {
        if (InFlight?.Epoch != stunned.Epoch) return [];
        _cowStun = stunned.Stun;
        return [new ToLpar(new SaveCowBatch(stunned.Epoch, CowBatchPages))];
    }

    public IReadOnlyList<EpochAction> CowProgress(CowProgress progress)
    {
        if (InFlight?.Epoch != progress.Epoch) return [];
        object next = progress.Remaining > 0 ? new SaveCowBatch(progress.Epoch, CowBatchPages) : new CompleteCow(progress.Epoch, _cowStun);
        return [new ToLpar(next)];
    }

    /// <summary><c>checkpoint replicate</c>: ask the backup node's firmware for a replica (S23).</summary>
    public IReadOnlyList<EpochAction> Replicate(ReplicateCheckpoints request, TRequester requester)
    {
        if (request.IntervalMs < settings.MinimumIntervalMs) return Refuse(requester, $"the epoch interval is at least {settings.MinimumIntervalMs} ms");
        if (request.TargetFirmware is null)
            return Refuse(requester, "replication is started through the partition manager, which knows where the backup node is");
        var actions = new List<EpochAction>();
        if (Pairing is not null) actions.AddRange(Unpair(null));
        _pairingRequest = (request, requester);
        actions.Add(new AskForReplica(request.TargetFirmware, new StartReplica(lpar, pageCount, node), PairingTimeout));
        return actions;
    }

    /// <summary>How long a replica has to start.</summary>
    public static readonly TimeSpan PairingTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The replica on <paramref name="replicaNode"/> is ready: epochs go to it every interval from now on.</summary>
    /// <param name="replicaAddress">The cluster address of the replica's process (<see cref="CheckpointStats.ReplicaAddress"/>).</param>
    public IReadOnlyList<EpochAction> Paired(string replicaNode, string? replicaAddress = null)
    {
        if (_pairingRequest is not var (request, replyTo)) return [];
        _pairingRequest = null;
        var actions = new List<EpochAction> { new AskForReplica(null, null, null) };
        // A pair in place of another, or of persisted epochs: those stop, but what the guest output since
        // the last commit stays held until the first replicated epoch commits it (StopPeriodic would
        // release it uncommitted: a failover to that commit's epoch would then have shown outputs of a
        // state it never reached; found in the PostgreSQL soak's logs).
        if (Pairing is not null) actions.AddRange(Unpair(null));
        _backoff.Clear();
        Pairing = new Pair(lpar, replicaNode, replicaAddress, pageCount, request.Verify, TimeSpan.FromMilliseconds(Math.Max(2000, 50 * request.IntervalMs)), settings.FaultTolerantPair);
        _earlierDecisions ??= (0, 0, 0);
        _note = null;
        // The backup starts empty: the first epoch sends every page the guest has written.
        _needFull = true;
        _periodicMode = CheckpointMode.Incremental;
        IntervalMs = request.IntervalMs;
        actions.Add(new ToLpar(new HoldOutputs(true)));
        actions.Add(new EpochTicks(TimeSpan.FromMilliseconds(request.IntervalMs)));
        actions.Add(new Reply<TRequester>(replyTo, Stats(new StatsQuery(false, 0, 0), DateTimeOffset.UtcNow)));
        return actions;
    }

    /// <summary>No replica started in time.</summary>
    public IReadOnlyList<EpochAction> PairingTimedOut()
    {
        if (_pairingRequest is not var (request, replyTo)) return [];
        _pairingRequest = null;
        return Refuse(replyTo, $"no replica started on {request.ToNode} within {PairingTimeout.TotalSeconds:0} s");
    }

    /// <summary>S23 pre-copy: the cold dirty pages were read while the guest ran; they go now, and the stun takes the rest.</summary>
    public IReadOnlyList<EpochAction> PreCopied(PreCopied preCopied)
    {
        if (Pairing is not { } pair || InFlight?.Epoch != preCopied.Epoch) return [];
        pair.PreCopiedFrames = preCopied.Frames;
        pair.DirtyBytes += (long)preCopied.Frames.Length * Memory.GuestMemory.PageSize;
        var actions = pair.Send(preCopied.Epoch, preCopied.Frames,
            i => preCopied.Pages.AsSpan(i * Memory.GuestMemory.PageSize, Memory.GuestMemory.PageSize), preCopy: true).ToList();
        // With --verify the stun also hashes all of memory, so its pages are copied in it; otherwise the
        // stun only marks them copy-on-write.
        actions.Add(new ToLpar(new CaptureEpoch(preCopied.Epoch, Full: false, Checksum: pair.Verify, ForBoot: false, Deferred: !pair.Verify)));
        return actions;
    }

    /// <summary>The replica applied the oldest epoch awaiting it: that epoch commits.</summary>
    public IReadOnlyList<EpochAction> Acknowledged(ReplicaAck ack)
    {
        if (Pairing is not { } pair || !pair.Unacknowledged.TryPeek(out var oldest) || oldest.Epoch != ack.Epoch) return [];
        pair.Unacknowledged.Dequeue();
        pair.Lag.Acknowledged(ack.Epoch);
        pair.Sender.Feedback(ack.Added, ack.Dropped);
        if (ack.Verified == false) pair.Mismatches++;
        else if (ack.Verified == true) pair.Verified++;
        _counters.Committed(oldest.Stun, oldest.DirtyBytes, oldest.BytesSent);
        var actions = new List<EpochAction> { new AckDeadline(ack.Epoch, null), new ToLpar(new CommitEpoch(ack.Epoch)) };
        actions.AddRange(Answer(oldest.ReplyTo, Taken(oldest.Summary, oldest.Periodic)));
        return actions;
    }

    /// <summary>The replica failed an epoch, stopped acknowledging (<paramref name="epoch"/>'s deadline passed) or is gone: the pair falls back to persisted checkpoints.</summary>
    public IReadOnlyList<EpochAction> AckOverdue(long epoch) =>
        Pairing is { } pair && pair.Unacknowledged.Any(u => u.Epoch == epoch)
            ? Unpair($"the replica on {pair.Node} stopped acknowledging at epoch {epoch}")
            : [];

    public IReadOnlyList<EpochAction> ReplicaFailed(ReplicaFailed failed) =>
        Pairing is { } pair ? Unpair($"the replica on {pair.Node} could not apply epoch {failed.Epoch} ({failed.Reason})") : [];

    public IReadOnlyList<EpochAction> ReplicaGone() => Pairing is { } pair ? Unpair($"the replica on {pair.Node} is gone") : [];

    /// <summary><c>checkpoint stop</c>: no more periodic epochs, no pair; what was held leaves.</summary>
    public IReadOnlyList<EpochAction> StopPeriodic()
    {
        var actions = new List<EpochAction>();
        if (Pairing is not null) actions.AddRange(Unpair(null));
        actions.Add(new EpochTicks(null));
        IntervalMs = null;
        _backoff.Clear();
        actions.Add(new ToLpar(new HoldOutputs(false)));
        return actions;
    }

    /// <summary>A newer owner raised the fence: whoever waits hears so, and nothing more is captured or sent (the replica is left alone: after a failover it may be the new owner).</summary>
    public IReadOnlyList<EpochAction> Lose()
    {
        var actions = new List<EpochAction>();
        if (Pairing is not null) actions.Add(ReplicaReleased.Instance);
        Pairing?.Sender.Dispose();
        Pairing = null;
        if (InFlight is { } flight) actions.AddRange(Refuse(flight.ReplyTo, "this copy of the partition lost its ownership"));
        InFlight = null;
        IntervalMs = null;
        return actions;
    }

    public CheckpointStats Stats(StatsQuery query, DateTimeOffset now)
    {
        var diffs = _diffPages + (Pairing?.Sender.DiffPages ?? 0);
        var wholes = _wholePages + (Pairing?.Sender.WholePages ?? 0);
        var mode = Pairing is { } p
            ? $"replicating to {p.Node} every {IntervalMs} ms (S23){(p.Verify ? $", {p.Verified:N0} epochs verified, {p.Mismatches:N0} mismatches" : "")}, {p.Sender.PreCopiedPages:N0} pages sent before the stun"
            : IntervalMs is null ? "manual" : $"{_periodicMode.ToString().ToLowerInvariant()} every {IntervalMs} ms, persisted"
                + (_backoff.Describe(now) is { } backingOff ? $", {backingOff}" : "");
        return new CheckpointStats(lpar, mode, IntervalMs, _counters.Epochs, _counters.FailedEpochs, _counters.StunPercentile(50),
            _counters.StunPercentile(99), _counters.DirtyBytes, _counters.BytesSent, diffs + wholes == 0 ? 0 : (double)diffs / (diffs + wholes),
            query.OutputsHeld, query.OutputsReleased, _counters.LastFailure, _note, PairStats())
        {
            Checkpointing = Pairing is not null ? Checkpointing.Replicating : IntervalMs is null ? Checkpointing.Manual : Checkpointing.Periodic,
            ReplicaNode = Pairing?.Node,
            ReplicaAddress = Pairing?.Address,
        };
    }

    private IReadOnlyList<EpochAction> Begin(CheckpointMode mode, TRequester? requester, bool periodic)
    {
        var full = mode == CheckpointMode.Full || _needFull || _deltasSinceFull >= settings.FullEvery;
        var epoch = ++_lastEpoch;
        InFlight = new Flight(epoch, requester, mode, periodic);
        if (Pairing is { } pair)
        {
            pair.BeginEpoch();
            pair.Lag.Capturing(epoch);
            // S23: pages the modification history calls cold are sent while the guest runs; the stun
            // then collects only what is left (and whatever was written again since).
            object start = full ? new CaptureEpoch(epoch, Full: true, Checksum: pair.Verify, ForBoot: false) : new PreCopyPages(epoch, pair.Sender.IsCold);
            return [new ToLpar(start)];
        }
        // S24: a full image whose pages are saved after the stun, while the guest runs.
        if (mode == CheckpointMode.Cow && !periodic) return [new ToLpar(new BeginCow(epoch))];
        // A manual checkpoint records the checksum of all of memory, to prove a restore byte for byte;
        // frequent epochs do not pay for it, and their pages are copied after the stun.
        var checksum = (requester is not null && !periodic) || _periodicVerify;
        return [new ToLpar(new CaptureEpoch(epoch, full, Checksum: checksum, ForBoot: false, Deferred: !checksum && !full))];
    }

    /// <summary>The replica is gone or failing (or replication stops): the pair falls back to persisted checkpoints at the same interval.</summary>
    private List<EpochAction> Unpair(string? reason)
    {
        var pair = Pairing!;
        Pairing = null;
        var actions = new List<EpochAction>();
        foreach (var unacknowledged in pair.Unacknowledged)
        {
            actions.Add(new AckDeadline(unacknowledged.Epoch, null));
            actions.AddRange(Refuse(unacknowledged.ReplyTo, reason ?? "replication stopped"));
        }
        actions.Add(new ToReplica(new StopReplica(lpar)));
        actions.Add(ReplicaReleased.Instance);
        _diffPages += pair.Sender.DiffPages;
        _wholePages += pair.Sender.WholePages;
        pair.Sender.Dispose();
        // S22: without a secondary to wait for, the primary runs on all of its CPU again.
        var (lowered, raised, held) = _earlierDecisions!.Value;
        _earlierDecisions = (lowered + pair.Steering.Lowered, raised + pair.Steering.Raised, held + pair.Steering.Held);
        if (pair.Steering.Rate != 1.0) actions.Add(new ToLpar(new AllocatePrimaryCpu(1.0)));
        if (InFlight is { } flight)
        {
            InFlight = null;
            if (reason is not null) _counters.Failed(reason);
            actions.AddRange(Refuse(flight.ReplyTo, reason ?? "replication stopped"));
        }
        if (reason is null) return actions;
        _note = $"{reason}: back to persisted checkpoints";
        actions.Add(new Warn($"{lpar}: {_note}"));
        _needFull = true;
        _periodicMode = CheckpointMode.Incremental;
        return actions;
    }

    private FaultTolerantPairStats? PairStats()
    {
        if (_earlierDecisions is not var (lowered, raised, held)) return null;
        if (Pairing is not { } pair) return new FaultTolerantPairStats(0, 1.0, lowered, raised, held);
        var steering = pair.Steering;
        return new FaultTolerantPairStats(pair.ObservedLag, steering.Rate, lowered + steering.Lowered, raised + steering.Raised, held + steering.Held);
    }

    private CheckpointTaken Taken(EpochSummary? summary, bool periodic) => new(lpar, node, summary?.Epoch ?? _lastEpoch,
        summary?.Kind ?? ImageKind.Delta, summary?.Pages ?? 0, summary?.Bytes ?? 0, summary?.StunMicroseconds ?? 0, summary?.MemoryChecksum, periodic);

    private IReadOnlyList<EpochAction> Refuse(TRequester? requester, string reason) => Answer(requester, new LparRefused(lpar, reason));

    private static IReadOnlyList<EpochAction> Answer(TRequester? requester, object message) =>
        requester is null ? [] : [new Reply<TRequester>(requester, message)];

    /// <summary>
    /// An epoch in flight: its number, who asked (none for a periodic one), how, and once captured for
    /// the journal, what is being written (<see cref="Capture"/>); a replicated epoch leaves the flight
    /// once sent and awaits its acknowledgement in <see cref="Pair.Unacknowledged"/>.
    /// </summary>
    public sealed record Flight(long Epoch, TRequester? ReplyTo, CheckpointMode Mode, bool Periodic)
    {
        public EpochCapture? Capture { get; init; }
    }

    /// <summary>A replicated epoch sent and not yet acknowledged.</summary>
    public sealed record Unacknowledged(long Epoch, EpochSummary Summary, TimeSpan Stun, long DirtyBytes, long BytesSent, TRequester? ReplyTo, bool Periodic);

    /// <summary>A partition paired with its replica on another node (S23), and S22's steering of the pair.</summary>
    public sealed class Pair(string lpar, string node, string? address, long pageCount, bool verify, TimeSpan ackTimeout, LagControllerSettings steering)
    {
        public string Node { get; } = node;
        public string? Address { get; } = address;
        public ReplicationSender Sender { get; } = new(pageCount);
        public bool Verify { get; } = verify;
        public TimeSpan AckTimeout { get; } = ackTimeout;
        public int Parts { get; private set; }
        public uint[] PreCopiedFrames { get; set; } = [];
        public long DirtyBytes { get; set; }
        public long BytesSent { get; private set; }
        public long Verified { get; set; }
        public long Mismatches { get; set; }

        /// <summary>Epochs sent and not yet acknowledged, oldest first.</summary>
        public Queue<Unacknowledged> Unacknowledged { get; } = new();

        /// <summary>S22: how far the secondary lags the primary's schedule.</summary>
        public ExecutionLag Lag { get; } = new();

        /// <summary>S22: the primary's CPU share, steered by <see cref="Lag"/>; a new pair starts at the maximum.</summary>
        public LagController Steering { get; } = new(steering);

        /// <summary>The lag <see cref="Steering"/> saw at the last tick, the one its rate follows from.</summary>
        public long ObservedLag { get; private set; }

        public void BeginEpoch()
        {
            Parts = 0;
            PreCopiedFrames = [];
            DirtyBytes = 0;
            BytesSent = 0;
        }

        /// <summary>S22: one epoch more is due; the controller observes the lag. Returns the new CPU share when it changed.</summary>
        public double? Steer()
        {
            var decision = Steering.Observe(Lag.Tick(), Lag.Applied);
            ObservedLag = decision.Lag;
            return decision.Action == LagAction.Held ? null : decision.Rate;
        }

        /// <summary>The pages, encoded against the replica's copy (S23), as parts for the replica.</summary>
        public IEnumerable<EpochAction> Send(long epoch, uint[] frames, Func<int, ReadOnlySpan<byte>> page, bool preCopy)
        {
            var writer = new ReplicaPayload.Writer();
            Sender.Encode(frames, page, writer, preCopy);
            var parts = new List<EpochAction>();
            foreach (var part in writer.Complete())
            {
                parts.Add(new ToReplica(new ReplicaPart(lpar, epoch, Parts++, part)));
                BytesSent += part.Length;
            }
            return parts;
        }
    }
}
