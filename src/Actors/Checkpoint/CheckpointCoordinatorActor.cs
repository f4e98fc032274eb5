using Akka.Actor;
using Akka.Event;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Actors.Storage;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// One partition's checkpoint coordinator (a child of its LPAR actor), the shell that carries out
/// what its epoch state machine (<see cref="EpochCoordinator{TRequester}"/>) decides: it feeds it the
/// LPAR's, the journal's and the replica's messages and executes the actions it returns. An epoch runs in order: the
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
/// owner (the rules: <see cref="OwnershipGate"/>) ends it: it tells the LPAR <see cref="OwnershipLost"/> and commits nothing more, so no
/// output of this copy is released.
/// </para>
/// </summary>
public sealed class CheckpointCoordinatorActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private const string TickTimer = "epoch";
    private const string FenceRetryTimer = "fence-retry";
    private const string PairingTimer = "pairing";

    /// <summary>Epochs that may await their acknowledgement at once (<see cref="EpochCoordinator{T}.PipelineDepth"/>).</summary>
    public const int PipelineDepth = EpochCoordinator<IActorRef>.PipelineDepth;

    private readonly OwnerClaim _claim;
    private readonly IOwnershipFence _fence;
    private readonly OwnershipGate _ownership;

    private readonly string _lpar;
    private readonly string _node;
    private readonly CheckpointSettings _settings;
    private readonly EpochCoordinator<IActorRef> _epochs;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _store;
    private IActorRef? _bootStore;
    private IActorRef? _replica;
    private int _readers;
    private readonly RestoreGate<IActorRef> _restores = new();

    public CheckpointCoordinatorActor(string lpar, string node, CheckpointSettings settings, long pageCount, OwnerClaim claim)
    {
        _lpar = lpar;
        _node = node;
        _settings = settings;
        _claim = claim;
        _fence = OwnershipFences.Get(Context.System).Fence;
        _epochs = new EpochCoordinator<IActorRef>(lpar, node, pageCount, settings);
        _ownership = new OwnershipGate(lpar, node, claim, settings.Ownership);

        // Ownership first: these handlers come before every other, so nothing touches the journal
        // or commits an epoch while the fence is being raised or checked, or after it was lost.
        Receive<FenceAnswered>(answered => Answered(_ownership.Answered(answered.Fence, DateTimeOffset.UtcNow)));
        Receive<FenceUnanswered>(unanswered =>
        {
            _log.Warning("{0}: the ownership fence {1} did not answer ({2}); the partition holds and asks again in {3}",
                _lpar, _claim.FenceKey, unanswered.Reason, _settings.Ownership.FenceRetry);
            Timers.StartSingleTimer(FenceRetryTimer, RetryFence.Instance, _settings.Ownership.FenceRetry);
        });
        Receive<RetryFence>(_ => AskFence());
        Receive<CheckOwnership>(check =>
        {
            if (!_ownership.Check(check, DateTimeOffset.UtcNow))
            {
                Context.Parent.Tell(_ownership.Lost!);
                return;
            }
            // The LPAR holds until it hears back, whichever answer (a raise still under way, or this read) settles it.
            _log.Warning("{0}: {1}; holding until the fence {2} confirms owner epoch {3}", _lpar, check.Why, _claim.FenceKey, _claim.Epoch);
            AskFence();
        });
        Receive<StatsQuery>(_ => _ownership.Phase is not OwnershipPhase.Owned, query => Sender.Tell(_epochs.Stats(query, DateTimeOffset.UtcNow)));
        Receive<object>(_ => _ownership.Holding, _ => Stash.Stash());
        Receive<object>(_ => _ownership.Phase is OwnershipPhase.Lost, message =>
        {
            if (message is ILparCommand command) Sender.Tell(new LparRefused(command.Name, _ownership.Lost!.Reason));
        });

        Receive<CheckpointJournalState>(state => _epochs.Recovered(state.LastEpoch, state.DeltasSinceFull));
        Receive<WriteBootImage>(_ => Execute(_epochs.WriteBootImage()));
        Receive<TakeCheckpoint>(take => Execute(_epochs.Take(take, Sender)));
        Receive<EpochTick>(_ => Execute(_epochs.Tick(DateTimeOffset.UtcNow)));
        Receive<ReplicateCheckpoints>(request => Execute(_epochs.Replicate(request, Sender)));
        Receive<ReplicaReady>(ready =>
        {
            var replica = Sender;
            var actions = _epochs.Paired(ready.Node, replica.Path.Address.ToString());
            if (actions.Count == 0) return;
            Execute(actions);
            _replica = replica;
            Context.Watch(replica);
        });
        Receive<PairingTimeout>(_ => Execute(_epochs.PairingTimedOut()));
        Receive<PreCopied>(preCopied => Execute(_epochs.PreCopied(preCopied)));
        Receive<CowStunned>(stunned => Execute(_epochs.CowStunned(stunned)));
        Receive<CowProgress>(progress => Execute(_epochs.CowProgress(progress)));
        Receive<ReplicaAck>(ack => Execute(_epochs.Acknowledged(ack)));
        Receive<ReplicaFailed>(failed =>
        {
            if (_replica is not null && Sender.Equals(_replica)) Execute(_epochs.ReplicaFailed(failed));
        });
        Receive<AckTimeout>(timeout => Execute(_epochs.AckOverdue(timeout.Epoch)));
        Receive<EpochCaptureResult>(result => Execute(_epochs.Captured(result)));
        Receive<EpochPersisted>(persisted => Execute(_epochs.Persisted(persisted.Epoch, persisted.Summary)));
        Receive<EpochPersistFailed>(failed =>
        {
            // The epoch is not committed either way.
            Execute(_epochs.PersistFailed(failed.Epoch, failed.Reason, DateTimeOffset.UtcNow));
            // The fence refused a write of this node's journal batch: this copy's, or another partition's
            // in the same batch (the journal writes several actors' events in one transaction). The
            // fence row says which.
            if (failed.FenceRefused) Self.Tell(new CheckOwnership($"the ownership fence refused a journal write ({failed.Reason})"));
        });
        Receive<StatsQuery>(query =>
        {
            if (query.Stop) Execute(_epochs.StopPeriodic());
            Sender.Tell(_epochs.Stats(query, DateTimeOffset.UtcNow));
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
            var (pid, refusal) = _restores.Begin(restore, Sender);
            if (refusal is not null) Sender.Tell(new LparRefused(restore.Name, refusal));
            else Context.ActorOf(ImageReaderActor.Props(pid!, restore.Epoch, Self), $"reader-{++_readers}");
        });
        Receive<ImageRead>(read =>
        {
            if (_restores.Read() is not var (restore, replyTo)) return;
            Context.Parent.Tell(new InstallImage(read.Image, restore.Source, replyTo));
            _epochs.ImageInstalled();
        });
        Receive<ImageUnreadable>(unreadable =>
        {
            if (_restores.Unreadable(unreadable.Reason) is var (replyTo, refused)) replyTo.Tell(refused);
        });
        Receive<Terminated>(terminated =>
        {
            if (_replica is not null && terminated.ActorRef.Equals(_replica))
            {
                Execute(_epochs.ReplicaGone());
                return;
            }
            // A journal that failed a write, or its recovery, stops; the epoch it was persisting fails,
            // and the next epoch starts a fresh one, which recovers.
            if (terminated.ActorRef.Equals(_store))
            {
                _store = null;
                Execute(_epochs.JournalStopped("the checkpoint journal stopped before it recorded the epoch", DateTimeOffset.UtcNow));
            }
            if (terminated.ActorRef.Equals(_bootStore)) _bootStore = null;
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    /// <param name="claim">The fence and epoch this copy owns the partition under (<see cref="OwnerClaim.For"/> its definition).</param>
    public static Props Props(string lpar, string node, CheckpointSettings settings, long pageCount, OwnerClaim claim) =>
        Akka.Actor.Props.Create(() => new CheckpointCoordinatorActor(lpar, node, settings, pageCount, claim));

    /// <summary>The fence is raised before the journal is read: what an older owner wrote before is then there to recover, and what it writes after is refused.</summary>
    protected override void PreStart() => AskFence();

    /// <summary>A restarted coordinator has no pair: whatever share a pair had lowered the primary to is given back.</summary>
    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Context.Parent.Tell(new AllocatePrimaryCpu(1.0));
    }

    /// <summary>Carries out the state machine's actions, in order.</summary>
    private void Execute(IReadOnlyList<EpochAction> actions)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case ToLpar toLpar:
                    Context.Parent.Tell(toLpar.Message);
                    break;
                case ToReplica toReplica:
                    _replica?.Tell(toReplica.Message, Self);
                    break;
                case Reply<IActorRef> reply:
                    reply.To.Tell(reply.Message);
                    break;
                case Persist persist:
                    Store().Tell(new PersistEpoch(persist.Capture));
                    break;
                case PersistBoot boot:
                    BootStore().Tell(new PersistEpoch(boot.Capture));
                    break;
                case EpochTicks { Interval: { } interval }:
                    Timers.StartPeriodicTimer(TickTimer, EpochTick.Instance, interval);
                    break;
                case EpochTicks:
                    Timers.Cancel(TickTimer);
                    break;
                case AckDeadline { Timeout: { } timeout } deadline:
                    Timers.StartSingleTimer($"ack-{deadline.Epoch}", new AckTimeout(deadline.Epoch), timeout);
                    break;
                case AckDeadline deadline:
                    Timers.Cancel($"ack-{deadline.Epoch}");
                    break;
                case AskForReplica { Firmware: { } firmware, Request: { } request, Timeout: { } timeout }:
                    Context.ActorSelection(firmware).Tell(request, Self);
                    Timers.StartSingleTimer(PairingTimer, PairingTimeout.Instance, timeout);
                    break;
                case AskForReplica:
                    Timers.Cancel(PairingTimer);
                    break;
                case ReplicaReleased:
                    if (_replica is not null) Context.Unwatch(_replica);
                    _replica = null;
                    break;
                case Warn warn:
                    _log.Warning("{0}", warn.Text);
                    break;
                default:
                    throw new InvalidOperationException($"the checkpoint coordinator has no way to carry out {action}");
            }
        }
    }

    private void AskFence()
    {
        var timeout = _settings.Ownership.FenceTimeout;
        var (fence, claim, raise) = (_fence, _claim, _ownership.Raise);
        // Off the actor's thread: Microsoft.Data.Sqlite runs its "async" calls synchronously, and a fence
        // row behind another process's write lock would hold this dispatcher thread (and its node's actors).
        Task.Run(Answer).WaitAsync(timeout).PipeTo(Self,
            success: fence => new FenceAnswered(fence),
            failure: e => new FenceUnanswered(e is TimeoutException ? $"no answer within {timeout.TotalSeconds:0.#} s" : (e.InnerException ?? e).Message));

        async Task<long?> Answer() => raise ? await fence.RaiseAsync(claim.FenceKey, claim.Epoch) : await fence.ReadAsync(claim.FenceKey);
    }

    /// <summary>Carries out what the fence's answer means (<see cref="OwnershipGate.Answered"/>).</summary>
    private void Answered(FenceVerdict verdict)
    {
        switch (verdict.Outcome)
        {
            case FenceOutcome.Lost:
                // A newer owner raised the fence: nothing of this copy is committed or released any more.
                Timers.CancelAll();
                // The pair is over without a word to the replica: after a failover it may be the new owner.
                Execute(_epochs.Lose());
                _log.Error("{0}: ownership lost: this copy has owner epoch {1}, the fence {2} is at {3}; stopping it, nothing of epoch {1} is written or released",
                    _lpar, _claim.Epoch, _claim.FenceKey, _ownership.Lost!.Fence);
                Stash.ClearStash();
                Context.Parent.Tell(_ownership.Lost);
                return;
            case FenceOutcome.ReadAgain:
                Timers.StartSingleTimer(FenceRetryTimer, RetryFence.Instance, verdict.After);
                return;
            case FenceOutcome.Owned or FenceOutcome.ConfirmedAfterCheck:
                // The journal is recovered now (once: Store() keeps the one it started), also when the first raise
                // was answered during a settle after a freeze.
                Store();
                if (verdict.Outcome == FenceOutcome.ConfirmedAfterCheck)
                    _log.Info("{0}: the fence {1} confirms owner epoch {2}; the partition goes on", _lpar, _claim.FenceKey, _claim.Epoch);
                // Whatever asked (a freeze, a refused write, or nobody: a coordinator restarted while its partition
                // held), the partition may go on; one that is not holding ignores it.
                Context.Parent.Tell(new OwnershipConfirmed(_claim.Epoch));
                Stash.UnstashAll();
                return;
        }
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

    private sealed record FenceAnswered(long? Fence);

    private sealed record FenceUnanswered(string Reason);

    private sealed record RetryFence
    {
        public static RetryFence Instance { get; } = new();
    }
}
