using Akka.Actor;
using Akka.Event;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// One partition's checkpoint coordinator (a child of its LPAR actor). An epoch runs in order: the
/// LPAR stuns the guest, collects its dirty pages and vCPU and device state, and resumes (one
/// message, <see cref="CaptureEpoch"/>); the coordinator then persists what was collected and, once
/// the journal (or the replica, S23) has it, commits: the outputs the guest produced in that epoch
/// are released. One epoch is captured at a time; a periodic tick that finds one being captured is
/// skipped. Replicated epochs are pipelined: up to <see cref="PipelineDepth"/> may await their
/// acknowledgement while the next is captured.
/// <para>
/// S22: a replicated pair is fault tolerant, and the primary is kept only as far ahead of its
/// secondary as the secondary can follow. At every tick of the epoch schedule the coordinator
/// measures the secondary's execution lag (<see cref="ExecutionLag"/>), lets a
/// <see cref="LagController"/> decide, and gives the LPAR the resulting share of its CPU
/// (<see cref="AllocatePrimaryCpu"/>); the guest's workload runs at its rate times that share. When
/// the pair is stopped or comes apart, the primary gets all of its CPU back.
/// </para>
/// <para>
/// One owner per partition: before it reads or writes the partition's journals the coordinator
/// raises the partition's fence (<see cref="IOwnershipFence"/>) to its <see cref="OwnerClaim"/>
/// epoch, holding every message until the fence answers. A fence above its claim, a write the fence
/// refused, or a check after the node was frozen (<see cref="CheckOwnership"/>) that finds a newer
/// owner ends it: it tells the LPAR <see cref="OwnershipLost"/> and commits nothing more, so no
/// output of this copy is released.
/// </para>
/// </summary>
public sealed class CheckpointCoordinatorActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private const string TickTimer = "epoch";
    private const string FenceRetryTimer = "fence-retry";

    private readonly OwnerClaim _claim;
    private readonly IOwnershipFence _fence;
    private OwnershipPhase _ownership = OwnershipPhase.Raising;

    private readonly string _lpar;
    private readonly string _node;
    private readonly long _pageCount;
    private Pairing? _pairing;
    private (ReplicateCheckpoints Request, IActorRef ReplyTo)? _pairingRequest;
    private string? _note;
    private readonly CheckpointSettings _settings;
    private readonly CheckpointCounters _counters = new();
    private readonly EpochBackoff _backoff = new();
    private DateTimeOffset _settleUntil = DateTimeOffset.MinValue;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _store;
    private IActorRef? _bootStore;
    private long _lastEpoch;
    private int _deltasSinceFull;
    private bool _needFull = true;
    private (long Epoch, IActorRef? ReplyTo, CheckpointMode Mode, bool Periodic)? _inFlight;
    private CheckpointMode _periodicMode;
    private int? _intervalMs;
    private int _readers;
    private TimeSpan _cowStun;
    private (RestoreCheckpoint Restore, IActorRef ReplyTo)? _pendingRestore;
    private EpochCapture? _pendingCapture;
    // Pages sent as diffs and whole by earlier pairings (the current one counts its own).
    private long _diffPages;
    private long _wholePages;
    // S22 decisions of earlier pairings (the current one counts its own); null until the first pairing.
    private (long Lowered, long Raised, long Held)? _earlierDecisions;

    /// <summary>Pages saved per message while the guest runs: 2 MiB, a few hundred microseconds between workload ticks.</summary>
    private const int CowBatchPages = 512;

    public CheckpointCoordinatorActor(string lpar, string node, CheckpointSettings settings, long pageCount, OwnerClaim claim)
    {
        _lpar = lpar;
        _node = node;
        _pageCount = pageCount;
        _settings = settings;
        _claim = claim;
        _fence = OwnershipFences.Get(Context.System).Fence;

        // Ownership first: these handlers come before every other, so nothing touches the journal
        // or commits an epoch while the fence is being raised or checked, or after it was lost.
        Receive<FenceAnswered>(Answered);
        Receive<FenceUnanswered>(unanswered =>
        {
            _log.Warning("{0}: the ownership fence {1} did not answer ({2}); the partition holds and asks again in {3}",
                _lpar, _claim.FenceKey, unanswered.Reason, _settings.Ownership.FenceRetry);
            Timers.StartSingleTimer(FenceRetryTimer, RetryFence.Instance, _settings.Ownership.FenceRetry);
        });
        Receive<RetryFence>(_ => AskFence());
        Receive<CheckOwnership>(check =>
        {
            if (_ownership == OwnershipPhase.Lost)
            {
                Context.Parent.Tell(_lost!);
                return;
            }
            if (_ownership == OwnershipPhase.Owned) _ownership = OwnershipPhase.Checking;
            if (check.AfterFreeze)
            {
                var until = DateTimeOffset.UtcNow + _settings.Ownership.SettleAfterFreeze;
                if (until > _settleUntil) _settleUntil = until;
            }
            // The LPAR holds until it hears back, whichever answer (a raise still under way, or this read) settles it.
            _checkRequested = true;
            _log.Warning("{0}: {1}; holding until the fence {2} confirms owner epoch {3}", _lpar, check.Why, _claim.FenceKey, _claim.Epoch);
            AskFence();
        });
        Receive<StatsQuery>(_ => _ownership is not OwnershipPhase.Owned, query => Sender.Tell(Stats(query)));
        Receive<object>(_ => _ownership is OwnershipPhase.Raising or OwnershipPhase.Checking, _ => Stash.Stash());
        Receive<object>(_ => _ownership is OwnershipPhase.Lost, message =>
        {
            if (message is ILparCommand command) Sender.Tell(new LparRefused(command.Name, _lost!.Reason));
        });

        Receive<CheckpointJournalState>(state =>
        {
            _lastEpoch = Math.Max(_lastEpoch, state.LastEpoch);
            _deltasSinceFull = state.DeltasSinceFull;
        });
        Receive<WriteBootImage>(_ => Context.Parent.Tell(new CaptureEpoch(0, Full: true, Checksum: true, ForBoot: true)));
        Receive<TakeCheckpoint>(Take);
        Receive<EpochTick>(_ =>
        {
            // S22: each tick makes an epoch due, whether or not it can start; the pair steers on it.
            if (_pairing is { } paired) Steer(paired);
            // Replication is pipelined, as in Remus: the guest runs the next epoch while the previous one
            // is still on its way; at most PipelineDepth epochs wait for their acknowledgement.
            if (_inFlight is null && _intervalMs is not null && (_pairing?.Unacknowledged.Count ?? 0) < PipelineDepth
                && _backoff.Due(DateTimeOffset.UtcNow))
                Begin(_periodicMode, replyTo: null, periodic: true);
        });
        Receive<ReplicateCheckpoints>(Replicate);
        Receive<ReplicaReady>(Paired);
        Receive<PairingTimeout>(_ =>
        {
            if (_pairingRequest is not var (request, replyTo)) return;
            _pairingRequest = null;
            replyTo.Tell(new LparRefused(_lpar, $"no replica started on {request.ToNode} within 10 s"));
        });
        Receive<PreCopied>(PreCopied);
        Receive<CowStunned>(stunned =>
        {
            if (_inFlight?.Epoch != stunned.Epoch) return;
            _cowStun = stunned.Stun;
            Sender.Tell(new SaveCowBatch(stunned.Epoch, CowBatchPages));
        });
        Receive<CowProgress>(progress =>
        {
            if (_inFlight?.Epoch != progress.Epoch) return;
            Sender.Tell(progress.Remaining > 0
                ? new SaveCowBatch(progress.Epoch, CowBatchPages)
                : new CompleteCow(progress.Epoch, _cowStun));
        });
        Receive<ReplicaAck>(Acknowledged);
        Receive<ReplicaFailed>(failed =>
        {
            if (_pairing is not null && Sender.Equals(_pairing.Replica)) Unpair($"the replica on {_pairing.Node} could not apply epoch {failed.Epoch} ({failed.Reason})");
        });
        Receive<AckTimeout>(timeout =>
        {
            if (_pairing is not null && _pairing.Unacknowledged.Any(u => u.Epoch == timeout.Epoch))
                Unpair($"the replica on {_pairing.Node} stopped acknowledging at epoch {timeout.Epoch}");
        });
        Receive<EpochCaptureResult>(Captured);
        Receive<EpochPersisted>(Persisted);
        Receive<EpochPersistFailed>(failed =>
        {
            // The epoch is not committed either way.
            Fail(failed.Epoch, failed.Reason);
            // The fence refused a write of this node's journal batch: this copy's, or another partition's
            // in the same batch (the journal writes several actors' events in one transaction). The
            // fence row says which.
            if (failed.FenceRefused) Self.Tell(new CheckOwnership($"the ownership fence refused a journal write ({failed.Reason})"));
        });
        Receive<StatsQuery>(query =>
        {
            if (query.Stop) StopPeriodic();
            Sender.Tell(Stats(query));
        });
        Receive<ListCheckpoints>(list =>
        {
            var replyTo = Sender;
            Store().Ask<CheckpointJournalState>(GetJournalState.Instance, TimeSpan.FromSeconds(10))
                .PipeTo(replyTo, success: state => new CheckpointList(list.Name, state.ConsistencyEpoch, state.Epochs),
                    failure: e => new LparRefused(list.Name, $"the checkpoint journal did not answer: {e.Message}"));
        });
        Receive<RestoreCheckpoint>(restore =>
        {
            // One restore at a time: a second one would take the first's reply, and its requester
            // (an operator, or the HA manager's failover) would wait for an answer that never comes.
            if (_pendingRestore is var (pending, _))
            {
                Sender.Tell(new LparRefused(restore.Name,
                    $"a restore of '{restore.Name}' from '{pending.Source}'{(pending.Epoch is { } e ? $" at epoch {e}" : "")} is under way; try again once it is done"));
                return;
            }
            var pid = restore.Epoch == 0
                ? CheckpointStoreActor.BootPersistenceIdFor(restore.Source)
                : CheckpointStoreActor.PersistenceIdFor(restore.Source);
            Context.ActorOf(ImageReaderActor.Props(pid, restore.Epoch, Self), $"reader-{++_readers}");
            _pendingRestore = (restore, Sender);
        });
        Receive<ImageRead>(read =>
        {
            if (_pendingRestore is not var (restore, replyTo)) return;
            _pendingRestore = null;
            Context.Parent.Tell(new InstallImage(read.Image, restore.Source, replyTo));
            // Memory came from an image, not from this dirty log: the next epoch must be whole.
            _needFull = true;
        });
        Receive<ImageUnreadable>(unreadable =>
        {
            if (_pendingRestore is not var (restore, replyTo)) return;
            _pendingRestore = null;
            replyTo.Tell(new LparRefused(restore.Name, $"cannot restore '{restore.Name}' from '{restore.Source}': {unreadable.Reason}"));
        });
        Receive<Terminated>(terminated =>
        {
            if (_pairing is not null && terminated.ActorRef.Equals(_pairing.Replica))
            {
                Unpair($"the replica on {_pairing.Node} is gone");
                return;
            }
            // A journal that failed a write stops; the next epoch starts a fresh one, which recovers.
            if (terminated.ActorRef.Equals(_store)) _store = null;
            if (terminated.ActorRef.Equals(_bootStore)) _bootStore = null;
        });
    }


    public ITimerScheduler Timers { get; set; } = null!;

    // Periodic persisted epochs record the memory checksum at their stun (checkpoint take --verify).
    private bool _periodicVerify;

    public IStash Stash { get; set; } = null!;

    private OwnershipLost? _lost;
    private bool _checkRequested;

    /// <param name="claim">The fence and epoch this copy owns the partition under (<see cref="OwnerClaim.For"/> its definition).</param>
    public static Props Props(string lpar, string node, CheckpointSettings settings, long pageCount, OwnerClaim claim) =>
        Akka.Actor.Props.Create(() => new CheckpointCoordinatorActor(lpar, node, settings, pageCount, claim));

    /// <summary>The fence is raised before the journal is read: what an older owner wrote before is then there to recover, and what it writes after is refused.</summary>
    protected override void PreStart() => AskFence();

    private void AskFence()
    {
        var timeout = _settings.Ownership.FenceTimeout;
        var (fence, claim, raise) = (_fence, _claim, _ownership == OwnershipPhase.Raising);
        // Off the actor's thread: Microsoft.Data.Sqlite runs its "async" calls synchronously, and a fence
        // row behind another process's write lock would hold this dispatcher thread (and its node's actors).
        Task.Run(Answer).WaitAsync(timeout).PipeTo(Self,
            success: fence => new FenceAnswered(fence),
            failure: e => new FenceUnanswered(e is TimeoutException ? $"no answer within {timeout.TotalSeconds:0.#} s" : (e.InnerException ?? e).Message));

        async Task<long?> Answer() => raise ? await fence.RaiseAsync(claim.FenceKey, claim.Epoch) : await fence.ReadAsync(claim.FenceKey);
    }

    private void Answered(FenceAnswered answered)
    {
        if (_ownership is not (OwnershipPhase.Raising or OwnershipPhase.Checking)) return;
        if (Ownership.Judge(_claim.Epoch, answered.Fence) == OwnershipVerdict.Lost)
        {
            Lose(answered.Fence!.Value);
            return;
        }
        if (_checkRequested && _settleUntil - DateTimeOffset.UtcNow is { } settling && settling > TimeSpan.Zero)
        {
            // Not yet: a newer owner's raise may still come. Read again shortly; the partition holds.
            _ownership = OwnershipPhase.Checking;
            Timers.StartSingleTimer(FenceRetryTimer, RetryFence.Instance, settling < _settings.Ownership.FenceRetry ? settling : _settings.Ownership.FenceRetry);
            return;
        }
        _ownership = OwnershipPhase.Owned;
        // The journal is recovered now (once: Store() keeps the one it started), also when the first raise
        // was answered during a settle after a freeze.
        Store();
        if (_checkRequested)
        {
            _checkRequested = false;
            _log.Info("{0}: the fence {1} confirms owner epoch {2}; the partition goes on", _lpar, _claim.FenceKey, _claim.Epoch);
        }
        // Whatever asked (a freeze, a refused write, or nobody: a coordinator restarted while its partition
        // held), the partition may go on; one that is not holding ignores it.
        Context.Parent.Tell(new OwnershipConfirmed(_claim.Epoch));
        Stash.UnstashAll();
    }

    /// <summary>A newer owner raised the fence: nothing of this copy is committed or released any more.</summary>
    private void Lose(long fence)
    {
        _ownership = OwnershipPhase.Lost;
        Timers.CancelAll();
        // The pair is over without a word to the replica: after a failover it may be the new owner.
        if (_pairing is { } pairing)
        {
            Context.Unwatch(pairing.Replica);
            pairing.Sender.Dispose();
            _pairing = null;
        }
        if (_inFlight is { ReplyTo: { } waiting }) waiting.Tell(new LparRefused(_lpar, "this copy of the partition lost its ownership"));
        _inFlight = null;
        _pendingCapture = null;
        _intervalMs = null;
        _lost = new OwnershipLost(_lpar, _claim.Epoch, fence,
            $"'{_lpar}' on {_node} lost its ownership: this copy has owner epoch {_claim.Epoch}, the fence {_claim.FenceKey} is at {fence} (the partition runs elsewhere)");
        _log.Error("{0}: ownership lost: this copy has owner epoch {1}, the fence {2} is at {3}; stopping it, nothing of epoch {1} is written or released",
            _lpar, _claim.Epoch, _claim.FenceKey, fence);
        Stash.ClearStash();
        Context.Parent.Tell(_lost);
    }

    /// <summary>A restarted coordinator has no pair: whatever share a pair had lowered the primary to is given back.</summary>
    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Context.Parent.Tell(new AllocatePrimaryCpu(1.0));
    }

    private void Take(TakeCheckpoint take)
    {
        if (take.IntervalMs is { } interval)
        {
            if (interval < _settings.MinimumIntervalMs)
            {
                Sender.Tell(new LparRefused(take.Name, $"the epoch interval is at least {_settings.MinimumIntervalMs} ms"));
                return;
            }
            _periodicMode = take.Mode == CheckpointMode.Full ? CheckpointMode.Full : CheckpointMode.Incremental;
            _intervalMs = interval;
            _periodicVerify = take.Verify;
            Context.Parent.Tell(new HoldOutputs(true));
            Timers.StartPeriodicTimer(TickTimer, EpochTick.Instance, TimeSpan.FromMilliseconds(interval));
        }
        if (_inFlight is not null)
        {
            if (take.IntervalMs is not null) Sender.Tell(Taken(null, periodic: true));
            else Sender.Tell(new LparRefused(take.Name, $"epoch {_inFlight.Value.Epoch} is in flight; try again"));
            return;
        }
        Begin(take.Mode, Sender, periodic: take.IntervalMs is not null);
    }

    private void Begin(CheckpointMode mode, IActorRef? replyTo, bool periodic)
    {
        var full = mode == CheckpointMode.Full || _needFull || _deltasSinceFull >= _settings.FullEvery;
        var epoch = ++_lastEpoch;
        _inFlight = (epoch, replyTo, mode, periodic);
        if (_pairing is { } pairing)
        {
            pairing.BeginEpoch();
            pairing.Lag.Capturing(epoch);
            // S23: pages the modification history calls cold are sent while the guest runs; the stun
            // then collects only what is left (and whatever was written again since).
            if (full) Context.Parent.Tell(new CaptureEpoch(epoch, Full: true, Checksum: pairing.Verify, ForBoot: false));
            else Context.Parent.Tell(new PreCopyPages(epoch, pairing.Sender.IsCold));
            return;
        }
        if (mode == CheckpointMode.Cow && !periodic)
        {
            // S24: a full image whose pages are saved after the stun, while the guest runs.
            Context.Parent.Tell(new BeginCow(epoch));
            return;
        }
        // A manual checkpoint records the checksum of all of memory, to prove a restore byte for byte;
        // frequent epochs do not pay for it, and their pages are copied after the stun.
        var checksum = (replyTo is not null && !periodic) || _periodicVerify;
        Context.Parent.Tell(new CaptureEpoch(epoch, full, Checksum: checksum, ForBoot: false, Deferred: !checksum && !full));
    }

    private void Captured(EpochCaptureResult result)
    {
        if (result.ForBoot)
        {
            if (result.Capture is { } boot) BootStore().Tell(new PersistEpoch(boot));
            return;
        }
        if (_inFlight is not { } flight || result.Capture?.Epoch is { } e && e != flight.Epoch) return;
        if (result.Capture is not { } capture)
        {
            _inFlight = null;
            _lastEpoch--;
            flight.ReplyTo?.Tell(new LparRefused(_lpar, result.Refusal!));
            if (flight.Periodic) StopPeriodic();
            return;
        }
        if (_pairing is { } pairing)
        {
            pairing.Sender.RecordEpoch([.. capture.Frames, .. pairing.PreCopiedFrames]);
            pairing.Send(capture.Epoch, capture.Frames, i => capture.Page(i), preCopy: false, Self);
            pairing.Replica.Tell(new ReplicaCommit(_lpar, capture.Epoch, pairing.Parts, capture.VcpuState, capture.MemoryChecksum), Self);
            pairing.DirtyBytes += capture.Bytes;
            // Sent: the epoch commits when the replica acknowledges it; the next one may start now.
            var summary = new EpochSummary(capture.Epoch, capture.Kind, capture.Frames.Length, capture.Bytes,
                (long)capture.Stun.TotalMicroseconds, capture.MemoryChecksum, capture.At);
            pairing.Unacknowledged.Enqueue(new Unacknowledged(capture.Epoch, summary, capture.Stun, pairing.DirtyBytes, pairing.BytesSent, flight.ReplyTo, flight.Periodic));
            // The first epoch carries every page the guest has written: give it time in proportion.
            var timeout = capture.Kind == ImageKind.Full
                ? pairing.AckTimeout + TimeSpan.FromMilliseconds(capture.Bytes / (1024 * 1024) * 100)
                : pairing.AckTimeout;
            Timers.StartSingleTimer($"ack-{capture.Epoch}", new AckTimeout(capture.Epoch), timeout);
            _inFlight = null;
            _needFull = false;
            return;
        }
        Store().Tell(new PersistEpoch(capture));
        _pendingCapture = capture;
    }

    private void Replicate(ReplicateCheckpoints request)
    {
        if (request.IntervalMs < _settings.MinimumIntervalMs)
        {
            Sender.Tell(new LparRefused(_lpar, $"the epoch interval is at least {_settings.MinimumIntervalMs} ms"));
            return;
        }
        if (request.TargetFirmware is null)
        {
            Sender.Tell(new LparRefused(_lpar, "replication is started through the partition manager, which knows where the backup node is"));
            return;
        }
        if (_pairing is not null) Unpair(null);
        _pairingRequest = (request, Sender);
        Context.ActorSelection(request.TargetFirmware).Tell(new StartReplica(_lpar, _pageCount, _node), Self);
        Timers.StartSingleTimer("pairing", PairingTimeout.Instance, TimeSpan.FromSeconds(10));
    }

    private void Paired(ReplicaReady ready)
    {
        if (_pairingRequest is not var (request, replyTo)) return;
        _pairingRequest = null;
        Timers.Cancel("pairing");
        StopPeriodic();
        _pairing = new Pairing(_lpar, Sender, ready.Node, _pageCount, request.Verify,
            TimeSpan.FromMilliseconds(Math.Max(2000, 50 * request.IntervalMs)), _settings.FaultTolerantPair);
        _earlierDecisions ??= (0, 0, 0);
        Context.Watch(Sender);
        _note = null;
        // The backup starts empty: the first epoch sends every page the guest has written.
        _needFull = true;
        _periodicMode = CheckpointMode.Incremental;
        _intervalMs = request.IntervalMs;
        Context.Parent.Tell(new HoldOutputs(true));
        Timers.StartPeriodicTimer(TickTimer, EpochTick.Instance, TimeSpan.FromMilliseconds(request.IntervalMs));
        replyTo.Tell(Stats(new StatsQuery(false, 0, 0)));
    }

    private void PreCopied(PreCopied preCopied)
    {
        if (_pairing is not { } pairing || _inFlight?.Epoch != preCopied.Epoch) return;
        pairing.PreCopiedFrames = preCopied.Frames;
        pairing.DirtyBytes += (long)preCopied.Frames.Length * Memory.GuestMemory.PageSize;
        pairing.Send(preCopied.Epoch, preCopied.Frames, i => preCopied.Pages.AsSpan(i * Memory.GuestMemory.PageSize, Memory.GuestMemory.PageSize),
            preCopy: true, Self);
        // With --verify the stun also hashes all of memory, so its pages are copied in it; otherwise the
        // stun only marks them copy-on-write.
        Context.Parent.Tell(new CaptureEpoch(preCopied.Epoch, Full: false, Checksum: pairing.Verify, ForBoot: false, Deferred: !pairing.Verify));
    }

    private void Acknowledged(ReplicaAck ack)
    {
        if (_pairing is not { } pairing || !pairing.Unacknowledged.TryPeek(out var oldest) || oldest.Epoch != ack.Epoch) return;
        pairing.Unacknowledged.Dequeue();
        Timers.Cancel($"ack-{ack.Epoch}");
        pairing.Lag.Acknowledged(ack.Epoch);
        pairing.Sender.Feedback(ack.Added, ack.Dropped);
        if (ack.Verified == false) pairing.Mismatches++;
        else if (ack.Verified == true) pairing.Verified++;
        _counters.Committed(oldest.Stun, oldest.DirtyBytes, oldest.BytesSent);
        Context.Parent.Tell(new CommitEpoch(ack.Epoch));
        oldest.ReplyTo?.Tell(Taken(oldest.Summary, oldest.Periodic));
    }

    /// <summary>The replica is gone or failing: the pair falls back to persisted checkpoints at the same interval.</summary>
    private void Unpair(string? reason)
    {
        var pairing = _pairing!;
        _pairing = null;
        foreach (var unacknowledged in pairing.Unacknowledged)
        {
            Timers.Cancel($"ack-{unacknowledged.Epoch}");
            unacknowledged.ReplyTo?.Tell(new LparRefused(_lpar, reason ?? "replication stopped"));
        }
        Context.Unwatch(pairing.Replica);
        pairing.Replica.Tell(new StopReplica(_lpar));
        _diffPages += pairing.Sender.DiffPages;
        _wholePages += pairing.Sender.WholePages;
        pairing.Sender.Dispose();
        // S22: without a secondary to wait for, the primary runs on all of its CPU again.
        var (lowered, raised, held) = _earlierDecisions!.Value;
        _earlierDecisions = (lowered + pairing.Steering.Lowered, raised + pairing.Steering.Raised, held + pairing.Steering.Held);
        if (pairing.Steering.Rate != 1.0) Context.Parent.Tell(new AllocatePrimaryCpu(1.0));
        if (_inFlight is { } flight)
        {
            _inFlight = null;
            _pendingCapture = null;
            if (reason is not null) _counters.Failed(reason);
            flight.ReplyTo?.Tell(new LparRefused(_lpar, reason ?? "replication stopped"));
        }
        if (reason is null) return;
        _note = $"{reason}: back to persisted checkpoints";
        _log.Warning("{0}: {1}", _lpar, _note);
        _needFull = true;
        _periodicMode = CheckpointMode.Incremental;
    }

    /// <summary>Epochs that may await their acknowledgement at once: two, so the send of one overlaps the next's run.</summary>
    public const int PipelineDepth = 2;

    /// <summary>S22: one epoch more is due; the controller observes the lag and, on a change, the LPAR gets the new share of its CPU.</summary>
    private void Steer(Pairing pairing)
    {
        var decision = pairing.Steering.Observe(pairing.Lag.Tick(), pairing.Lag.Applied);
        pairing.ObservedLag = decision.Lag;
        if (decision.Action != LagAction.Held) Context.Parent.Tell(new AllocatePrimaryCpu(decision.Rate));
    }

    private sealed record Unacknowledged(long Epoch, EpochSummary Summary, TimeSpan Stun, long DirtyBytes, long BytesSent, IActorRef? ReplyTo, bool Periodic);


    /// <summary>A partition paired with its replica on another node (S23).</summary>
    private sealed class Pairing(string lpar, IActorRef replica, string node, long pageCount, bool verify, TimeSpan ackTimeout, LagControllerSettings steering)
    {
        public IActorRef Replica { get; } = replica;
        public string Node { get; } = node;
        public ReplicationSender Sender { get; } = new(pageCount);
        public bool Verify { get; } = verify;
        public TimeSpan AckTimeout { get; } = ackTimeout;
        public int Parts { get; private set; }
        public uint[] PreCopiedFrames { get; set; } = [];
        public long DirtyBytes { get; set; }
        public long BytesSent { get; private set; }
        public long Verified { get; set; }

        /// <summary>Epochs sent and not yet acknowledged, oldest first.</summary>
        public Queue<Unacknowledged> Unacknowledged { get; } = new();
        public long Mismatches { get; set; }

        /// <summary>S22: how far the secondary lags the primary's schedule.</summary>
        public ExecutionLag Lag { get; } = new();

        /// <summary>S22: the primary's CPU share, steered by <see cref="Lag"/>; a new pair starts at the maximum.</summary>
        public LagController Steering { get; } = new(steering);

        /// <summary>The lag <see cref="Steering"/> saw at the last tick, the one its rate follows from.</summary>
        public long ObservedLag { get; set; }

        public void BeginEpoch()
        {
            Parts = 0;
            PreCopiedFrames = [];
            DirtyBytes = 0;
            BytesSent = 0;
        }

        public void Send(long epoch, uint[] frames, Func<int, ReadOnlySpan<byte>> page, bool preCopy, IActorRef self)
        {
            var writer = new ReplicaPayload.Writer();
            Sender.Encode(frames, page, writer, preCopy);
            foreach (var part in writer.Complete())
            {
                Replica.Tell(new ReplicaPart(lpar, epoch, Parts++, part), self);
                BytesSent += part.Length;
            }
        }
    }


    private void Persisted(EpochPersisted persisted)
    {
        if (persisted.Epoch == 0) return;
        if (_inFlight is not { } flight || flight.Epoch != persisted.Epoch) return;
        var capture = _pendingCapture!;
        _inFlight = null;
        _pendingCapture = null;
        _needFull = false;
        _deltasSinceFull = capture.Kind == ImageKind.Full ? 0 : _deltasSinceFull + 1;
        _counters.Committed(capture.Stun, capture.Bytes, capture.Bytes);
        _backoff.Clear();
        // Commit: what the guest sent during the epoch may now leave.
        Context.Parent.Tell(new CommitEpoch(capture.Epoch));
        if (flight.Mode == CheckpointMode.Cow && !flight.Periodic) Context.Parent.Tell(new CommitCowLayer(capture.Epoch));
        flight.ReplyTo?.Tell(Taken(persisted.Summary, flight.Periodic));
    }

    private void Fail(long epoch, string reason)
    {
        if (_inFlight is not { } flight || flight.Epoch != epoch) return;
        _inFlight = null;
        _pendingCapture = null;
        // The dirty pages of the failed epoch were collected and not kept: only a full image is whole again.
        _needFull = true;
        _counters.Failed(reason);
        if (flight.Periodic && _intervalMs is { } interval)
        {
            var now = DateTimeOffset.UtcNow;
            _backoff.Failed(TimeSpan.FromMilliseconds(interval), now);
            _log.Warning("{0}: checkpoint epoch {1} failed, the partition keeps running: {2}; {3}", _lpar, epoch, reason, _backoff.Describe(now));
        }
        else _log.Warning("{0}: checkpoint epoch {1} failed, the partition keeps running: {2}", _lpar, epoch, reason);
        flight.ReplyTo?.Tell(new LparRefused(_lpar, $"checkpoint epoch {epoch} failed: {reason}; the partition keeps running and the next epoch retries"));
    }

    private void StopPeriodic()
    {
        if (_pairing is not null) Unpair(null);
        Timers.Cancel(TickTimer);
        _intervalMs = null;
        _backoff.Clear();
        Context.Parent.Tell(new HoldOutputs(false));
    }

    private CheckpointTaken Taken(EpochSummary? summary, bool periodic) => new(_lpar, _node, summary?.Epoch ?? _lastEpoch,
        summary?.Kind ?? ImageKind.Delta, summary?.Pages ?? 0, summary?.Bytes ?? 0, summary?.StunMicroseconds ?? 0, summary?.MemoryChecksum, periodic);

    private CheckpointStats Stats(StatsQuery query)
    {
        var diffs = _diffPages + (_pairing?.Sender.DiffPages ?? 0);
        var wholes = _wholePages + (_pairing?.Sender.WholePages ?? 0);
        var mode = _pairing is { } p
            ? $"replicating to {p.Node} every {_intervalMs} ms (S23){(p.Verify ? $", {p.Verified:N0} epochs verified, {p.Mismatches:N0} mismatches" : "")}, {p.Sender.PreCopiedPages:N0} pages sent before the stun"
            : _intervalMs is null ? "manual" : $"{_periodicMode.ToString().ToLowerInvariant()} every {_intervalMs} ms, persisted"
                + (_backoff.Describe(DateTimeOffset.UtcNow) is { } backingOff ? $", {backingOff}" : "");
        return new CheckpointStats(_lpar, mode, _intervalMs, _counters.Epochs, _counters.FailedEpochs, _counters.StunPercentile(50),
            _counters.StunPercentile(99), _counters.DirtyBytes, _counters.BytesSent, diffs + wholes == 0 ? 0 : (double)diffs / (diffs + wholes),
            query.OutputsHeld, query.OutputsReleased, _counters.LastFailure, _note, PairStats())
        {
            Checkpointing = _pairing is not null ? Checkpointing.Replicating : _intervalMs is null ? Checkpointing.Manual : Checkpointing.Periodic,
            ReplicaNode = _pairing?.Node,
        };
    }

    private FaultTolerantPairStats? PairStats()
    {
        if (_earlierDecisions is not var (lowered, raised, held)) return null;
        if (_pairing is not { } pairing) return new FaultTolerantPairStats(0, 1.0, lowered, raised, held);
        var steering = pairing.Steering;
        return new FaultTolerantPairStats(pairing.ObservedLag, steering.Rate, lowered + steering.Lowered, raised + steering.Raised, held + steering.Held);
    }

    private IActorRef Store()
    {
        if (_store is null)
        {
            _store = Context.ActorOf(CheckpointStoreActor.Props(CheckpointStoreActor.PersistenceIdFor(_lpar), claim: _claim), $"journal-{++_readers}");
            Context.Watch(_store);
            _store.Tell(GetJournalState.Instance);
        }
        return _store;
    }

    private IActorRef BootStore()
    {
        if (_bootStore is null)
        {
            _bootStore = Context.ActorOf(CheckpointStoreActor.Props(CheckpointStoreActor.BootPersistenceIdFor(_lpar), writeOnce: true, _claim), $"boot-{++_readers}");
            Context.Watch(_bootStore);
        }
        return _bootStore;
    }

    private sealed record EpochTick
    {
        public static EpochTick Instance { get; } = new();
    }

    private enum OwnershipPhase
    {
        /// <summary>Raising the fence to this copy's epoch; nothing has read the journal yet.</summary>
        Raising,
        Owned,
        /// <summary>Reading the fence (after a freeze or a refused write); nothing commits meanwhile.</summary>
        Checking,
        Lost,
    }

    private sealed record FenceAnswered(long? Fence);

    private sealed record FenceUnanswered(string Reason);

    private sealed record RetryFence
    {
        public static RetryFence Instance { get; } = new();
    }
}
