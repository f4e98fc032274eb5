using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Pattern;
using Akka.Persistence;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// The HA manager (S5): a persistent cluster singleton (persistence id <c>ha-manager</c>, cluster-wide
/// journal) that keeps each partition's availability record and, when a vios node is removed from the
/// cluster (downed or left), restarts the partitions that were running there: on their consistency
/// failover image node from the latest committed image, or, for a second failure within the window,
/// on their boot failover image node from the boot image. Failures and restart plans are persisted
/// before anything is done, so a handover in the middle of a failover neither loses nor repeats one.
/// </summary>
public sealed class HaManagerActor : ReceivePersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "ha-manager";

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SurveyInterval = TimeSpan.FromSeconds(2);

    private readonly HaRegistry _registry;
    private readonly IActorRef _partitions;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<string> _inProgress = new(StringComparer.Ordinal);
    private LparList? _lastList;
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);

    private const int MaxAttempts = 20;

    /// <summary>How long a new HA manager waits before it treats nodes missing from the partition list as failed.</summary>
    private static readonly TimeSpan StartupGrace = TimeSpan.FromSeconds(10);

    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    public HaManagerActor(IActorRef partitionManager, FailoverPolicy policy)
    {
        _registry = new HaRegistry(policy);
        _partitions = partitionManager;
        JournalPluginId = PartitionManagerActor.ClusterJournalPluginId;
        SnapshotPluginId = PartitionManagerActor.ClusterSnapshotPluginId;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is HaSnapshot snapshot) _registry.Apply(snapshot);
        });
        Recover<IViosMessage>(_registry.Apply);

        Command<Survey>(_ => _partitions.Ask<LparList>(ListLpars.Instance, AskTimeout).PipeTo(Self, failure: e => new SurveyFailed(e.Message)));
        Command<SurveyFailed>(failed => _log.Debug("ha-manager: the partition manager did not answer: {0}", failed.Reason));
        Command<LparList>(Surveyed);
        Command<ClusterEvent.MemberRemoved>(removed => NodeRemoved(removed.Member.Address));
        Command<ClusterEvent.IMemberEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<RestartDone>(done =>
        {
            _inProgress.Remove(done.Lpar);
            _attempts.Remove(done.Lpar);
            var (completed, refusal) = _registry.Complete(done.Lpar, done.FailureId, done.Node, DateTimeOffset.UtcNow);
            if (completed is null)
            {
                _log.Warning("ha-manager: {0}: {1}", done.Lpar, refusal);
                return;
            }
            Persist(completed, e =>
            {
                _registry.Apply(e);
                _log.Info("ha-manager: {0} is running again on {1} ({2})", done.Lpar, done.Node, done.Detail);
            });
        });
        Command<RestartFailed>(failed =>
        {
            _inProgress.Remove(failed.Lpar);
            var attempts = _attempts.GetValueOrDefault(failed.Lpar) + 1;
            _attempts[failed.Lpar] = attempts;
            if (attempts < MaxAttempts && _registry.PendingRestarts.FirstOrDefault(p => p.Lpar == failed.Lpar) is { } plan)
            {
                // The partition manager may not have noticed the node is gone yet: try again shortly.
                _log.Warning("ha-manager: {0} not restarted yet (attempt {1}): {2}", failed.Lpar, attempts, failed.Reason);
                Timers.StartSingleTimer($"retry-{failed.Lpar}", new Retry(plan), RetryDelay);
                return;
            }
            _log.Error("ha-manager: {0} could not be restarted: {1}", failed.Lpar, failed.Reason);
        });
        Command<Retry>(retry => Execute(retry.Plan));
        Command<GetHaStatus>(_ => Sender.Tell(new HaStatus(_registry.Records.ToList(), _registry.PendingRestarts.ToList())));
        Command<SaveSnapshotSuccess>(success => DeleteMessages(success.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
        Command<PartitionManagerActor.HandOver>(_ => Context.Stop(Self));
    }

    public override string PersistenceId => PersistenceIdValue;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef partitionManager, FailoverPolicy policy) =>
        Akka.Actor.Props.Create(() => new HaManagerActor(partitionManager, policy));

    /// <summary>The HA manager under a back-off supervisor, for the cluster singleton manager.</summary>
    public static Props SingletonProps(IActorRef partitionManager, FailoverPolicy policy) => BackoffSupervisor.Props(
        Backoff.OnStop(Props(partitionManager, policy), "manager", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 0.2, maxNrOfRetries: -1)
            .WithFinalStopMessage(message => message is PartitionManagerActor.HandOver));

    protected override void OnReplaySuccess()
    {
        base.OnReplaySuccess();
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberRemoved));
        Self.Tell(Survey.Instance);
        Timers.StartPeriodicTimer("survey", Survey.Instance, SurveyInterval);
        // Restarts planned by a predecessor and not completed: carry them out (they are not planned again).
        foreach (var pending in _registry.PendingRestarts) Execute(pending);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    /// <summary>Every partition gets an availability record (failover image nodes chosen by policy); the list is kept for failures.</summary>
    private void Surveyed(LparList list)
    {
        _lastList = list;
        var online = list.Nodes.Select(n => n.Node).ToList();
        var declarations = new List<AvailabilityDeclared>();
        foreach (var summary in list.Lpars.Where(l => _registry.Find(l.Definition.Name) is null))
        {
            var (declared, _) = _registry.Decide(new DeclareAvailability(summary.Definition.Name, summary.Definition.Node, null, null), online);
            if (declared is null) continue;
            // Applied at once so the next declaration sees this one's nodes; a failed write stops the
            // actor, which recovers from the journal.
            _registry.Apply(declared);
            declarations.Add(declared);
        }
        if (declarations.Count > 0) PersistAll(declarations, _ => { });
        // A node can be missing from the list because it has not registered yet (a cluster starting up):
        // only after a grace period does this instance take a missing node for a failed one.
        if (DateTimeOffset.UtcNow - _started >= StartupGrace) CheckFailures(list, removed: null);
    }

    private void NodeRemoved(Address address)
    {
        var list = _lastList;
        var node = list?.NodeAddresses.FirstOrDefault(a => a.Value == address.ToString()).Key;
        if (list is not null && node is not null) CheckFailures(list, node);
    }

    /// <summary>
    /// A partition has failed when it was running on a node that is gone: removed from the cluster
    /// (<paramref name="removed"/>), or no longer registered with the partition manager (which also
    /// covers a removal this instance did not see, such as that of the node the previous HA manager
    /// ran on). A partition with a restart planned or under way is not failed again.
    /// </summary>
    private void CheckFailures(LparList list, string? removed)
    {
        var live = list.Nodes.Select(n => n.Node).Where(n => n != removed).ToList();
        var pending = _registry.PendingRestarts.Select(p => p.Lpar).ToHashSet(StringComparer.Ordinal);
        var events = new List<IViosMessage>();
        var now = DateTimeOffset.UtcNow;
        foreach (var summary in list.Lpars)
        {
            var (name, node) = (summary.Definition.Name, summary.Definition.Node);
            if (live.Contains(node) || summary.State is not (LparState.Running or LparState.Quiesced or LparState.Activating)) continue;
            if (pending.Contains(name) || _inProgress.Contains(name) || _registry.Find(name) is null) continue;
            var failure = new LparFailed(name, node, $"{node}@{now:O}", $"{node} is no longer in the cluster");
            var decision = _registry.Decide(failure, live, now);
            if (decision.Refusal is { } refused) _log.Error("ha-manager: {0}: {1}", refused.Lpar, refused.Reason);
            // Applied at once so the next failure's placement counts this restart; a failed write
            // stops the actor, which recovers from the journal (and re-plans what was not recorded).
            foreach (var e in decision.Events) _registry.Apply(e);
            events.AddRange(decision.Events);
        }
        if (events.Count == 0) return;
        // Persisted before anything is done: a handover in the middle neither loses nor repeats a restart.
        PersistAll(events, e =>
        {
            if (e is RestartPlanned planned) Execute(planned);
        });
    }

    /// <summary>Moves the partition to its target node and restores it there from the planned image.</summary>
    private void Execute(RestartPlanned plan)
    {
        if (!_inProgress.Add(plan.Lpar)) return;
        _log.Warning("ha-manager: restarting {0} on {1} from its {2} image: {3}", plan.Lpar, plan.TargetNode,
            plan.Image == FailoverImage.Boot ? "boot" : "consistency", plan.Reason);
        var partitions = _partitions;
        var self = Self;
        _ = RestartAsync(plan, partitions).PipeTo(self);
    }

    private static async Task<object> RestartAsync(RestartPlanned plan, IActorRef partitions)
    {
        var moved = await partitions.Ask<object>(new MoveLpar(plan.Lpar, plan.TargetNode, plan.Reason), AskTimeout);
        if (moved is LparRefused { Reason: var moveRefusal } && !moveRefusal.Contains("already placed on", StringComparison.Ordinal))
            return new RestartFailed(plan.Lpar, moveRefusal);
        long? epoch = plan.Image == FailoverImage.Boot ? 0 : null;
        var restored = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, epoch), AskTimeout);
        if (restored is CheckpointRestored { Verified: false } corrupt)
            return new RestartFailed(plan.Lpar, $"the image of epoch {corrupt.Epoch} restored with a different memory checksum than at its stun");
        if (restored is CheckpointRestored image)
            return new RestartDone(plan.Lpar, plan.FailureId, image.Node, $"from epoch {image.Epoch}, memory checksum {image.MemoryChecksum:x16}");
        // No committed consistency image yet: the boot image is what there is.
        if (epoch is null)
        {
            var boot = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, 0), AskTimeout);
            if (boot is CheckpointRestored bootImage)
                return new RestartDone(plan.Lpar, plan.FailureId, bootImage.Node, "from the boot image: no consistency image was committed");
        }
        return new RestartFailed(plan.Lpar, (restored as LparRefused)?.Reason ?? $"unexpected reply {restored}");
    }

    private sealed record Survey
    {
        public static Survey Instance { get; } = new();
    }

    private sealed record SurveyFailed(string Reason);

    private sealed record RestartDone(string Lpar, string FailureId, string Node, string Detail);

    private sealed record RestartFailed(string Lpar, string Reason);

    private sealed record Retry(RestartPlanned Plan);
}

/// <summary>Asks the HA manager for every availability record and the restarts in progress.</summary>
public sealed record GetHaStatus : IViosMessage
{
    public static GetHaStatus Instance { get; } = new();
}

public sealed record HaStatus(IReadOnlyList<AvailabilityRecord> Records, IReadOnlyList<RestartPlanned> Pending) : IViosMessage;
