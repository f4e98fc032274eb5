using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Pattern;
using Akka.Persistence;
using Vios.Actors.Checkpoint;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// The HA manager (S5, S17): a persistent cluster singleton (persistence id <c>ha-manager</c>,
/// cluster-wide journal) that keeps each partition's availability record and restarts the partitions
/// that fail. A partition has failed when its node is fenced or removed from the cluster (the S16
/// masters report the node silent and have it downed), or when its own heartbeats stop while its node
/// lives (it is stopped there first). It comes back on its consistency failover image node from the
/// latest committed image; for a second failure within the window on its boot failover image node from
/// the boot image; with a hot standby (S17) by promoting the replica. Failures and restart plans are
/// persisted before anything is done, so a handover in the middle of a failover neither loses nor
/// repeats one. Where a partition has an availability requirement, the manager picks hot or cold
/// standby for it, re-picks when the nodes change, and keeps the hot pairs replicating.
/// </summary>
public sealed class HaManagerActor : FencedPersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "ha-manager";

    /// <summary>Epoch interval of a hot pair: the replica is at most this far behind.</summary>
    public const int HotIntervalMs = 100;

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SurveyInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(250);
    private const int MaxAttempts = 40;

    /// <summary>
    /// After <see cref="MaxAttempts"/> quick attempts a restart is still pending, not given up: it is
    /// tried this often until it succeeds (a database restarting, a target node coming back), as
    /// long as this manager runs.
    /// </summary>
    private static readonly TimeSpan SlowRetryDelay = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LeaveRemembered = TimeSpan.FromMinutes(1);
    private const string PublishTimer = "publish-view";
    private const string PublishChangeTimer = "publish-view-on-change";
    private static readonly TimeSpan PublishChangeCheck = TimeSpan.FromMilliseconds(100);

    /// <summary>A snapshot every this many events keeps the journal and recovery short (issue 19); older events are deleted.</summary>
    public const int SnapshotEvery = 100;

    private readonly HaRegistry _registry;
    private readonly AvailabilitySettings _settings;
    private readonly IActorRef _partitions;
    private readonly Akka.Cluster.Cluster _cluster;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly HashSet<string> _inProgress = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    // Node names by cluster address, from every partition list this instance has seen.
    private readonly Dictionary<string, string> _nodeAt = new(StringComparer.Ordinal);
    // S16 reports: nodes the masters hold silent, by address; guests silent on a live node, by partition.
    private readonly Dictionary<string, NodeSilent> _silentNodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GuestSilent> _silentGuests = new(StringComparer.Ordinal);
    // Node names removed from the cluster while this instance ran: failed (downed), or left on purpose.
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    // Node names that left gracefully, with the address they left from: a registration from another
    // address is the node back (a new incarnation); one from that address is the leaving node's own,
    // still listed while its firmware's end reaches the partition manager.
    private readonly Dictionary<string, string> _left = new(StringComparer.Ordinal);
    // The graceful leaves in the journal and not yet settled by a rejoin: what a snapshot carries.
    private readonly Dictionary<string, NodeLeftGracefully> _leftRecorded = new(StringComparer.Ordinal);
    private int _sinceSnapshot;
    // Who waits for the events being persisted, told why if the journal rejects them.
    private (IActorRef ReplyTo, string Lpar)? _waiting;
    // Nodes the masters fenced, by name: the address to tell the partition manager about.
    private readonly Dictionary<string, string> _fencedAt = new(StringComparer.Ordinal);
    // S17: the hot pairs this instance has started, partition → (primary node, replica node).
    private readonly Dictionary<string, (string Primary, string Replica)> _paired = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pairing = new(StringComparer.Ordinal);
    private TimeSpan? _measuredCold;
    private TimeSpan? _measuredHot;
    private LparList? _lastList;
    private string? _published;

    public HaManagerActor(IActorRef partitionManager, AvailabilitySettings settings, OwnerClaim? claim = null) : base(claim)
    {
        _registry = new HaRegistry(settings.Policy);
        _settings = settings;
        _partitions = partitionManager;
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        JournalPluginId = PartitionManagerActor.ControlJournalPluginId;
        SnapshotPluginId = PartitionManagerActor.ControlSnapshotPluginId;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not HaSnapshot snapshot) return;
            _registry.Apply(snapshot);
            foreach (var left in snapshot.Left) LeftGracefully(left, recovering: true);
        });
        // Events after the snapshot count towards the next one, whichever instance wrote them.
        Recover<NodeLeftGracefully>(left =>
        {
            LeftGracefully(left, recovering: true);
            _sinceSnapshot++;
        });
        Recover<NodeRejoined>(back =>
        {
            BackAgain(back, recovering: true);
            _sinceSnapshot++;
        });
        Recover<IViosMessage>(e =>
        {
            _registry.Apply(e);
            _sinceSnapshot++;
        });

        Command<Survey>(_ => _partitions.Ask<LparList>(ListLpars.Instance, AskTimeout).PipeTo(Self, failure: e => new SurveyFailed(e.Message)));
        Command<SurveyFailed>(failed => _log.Debug("ha-manager: the partition manager did not answer: {0}", failed.Reason));
        Command<LparList>(list => Surveyed(list));
        Command<ClusterEvent.MemberRemoved>(removed => NodeRemoved(removed.Member.Address, left: removed.PreviousStatus == MemberStatus.Exiting));
        Command<ClusterEvent.MemberUp>(up =>
        {
            // A node back at the same address is a new incarnation: no longer silent, nor gone.
            _silentNodes.Remove(up.Member.Address.ToString());
            if (_nodeAt.TryGetValue(up.Member.Address.ToString(), out var back)) Rejoined(back, up.Member.Address.ToString());
            Self.Tell(Survey.Instance);
        });
        Command<ClusterEvent.MemberDowned>(_ => Self.Tell(Survey.Instance));
        // A graceful leave is known from its first step: the cluster's state can show the member removed
        // before this actor has its MemberRemoved (which says it left), and a survey in between would
        // take the node for a failed one (the chaos soak found it: a partition failed over during a leave).
        Command<ClusterEvent.MemberLeft>(left => Leaving(left.Member.Address));
        Command<ClusterEvent.MemberExited>(exited => Leaving(exited.Member.Address));
        Command<ClusterEvent.IMemberEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<NodeSilent>(silent =>
        {
            // One owner per partition (issue 12): a node that was frozen and runs again reports every peer
            // silent from its stale view before it learns it was downed; such a report would hold a live
            // node silent for good (only a MemberUp clears it). A report counts only from an Up member.
            if (!_cluster.State.Members.Any(m => m.Address.ToString() == silent.ReportedBy && m.Status == MemberStatus.Up)) return;
            // The masters repeat their reports for a while (for a successor of an HA manager that died with the node);
            // a report that the reporter has fenced the node replaces one that it is silent.
            var fencedNow = silent.FencedByReporter && _silentNodes.GetValueOrDefault(silent.Node) is { FencedByReporter: false };
            if (!_silentNodes.TryAdd(silent.Node, silent) && !fencedNow) return;
            if (fencedNow) _silentNodes[silent.Node] = silent;
            _log.Warning(silent.FencedByReporter ? "ha-manager: {0} has fenced {1}" : "ha-manager: {0} reports {1} silent", silent.ReportedBy, silent.Node);
            // Its partitions fail once it is fenced (downed); look again now and shortly after.
            Self.Tell(Survey.Instance);
            Timers.StartSingleTimer("fast-survey", Survey.Instance, RetryDelay);
        });
        Command<NodeHeardAgain>(heard =>
        {
            // Both Up: a node that was downed (fenced) stays failed whatever is heard of it since.
            bool Up(string address) => _cluster.State.Members.Any(m => m.Address.ToString() == address && m.Status == MemberStatus.Up);
            if (!Up(heard.ReportedBy) || !Up(heard.Node) || _silentNodes.GetValueOrDefault(heard.Node) is { FencedByReporter: true }
                || !_silentNodes.Remove(heard.Node)) return;
            _log.Info("ha-manager: {0} hears {1} again; it is no longer held silent", heard.ReportedBy, heard.Node);
            Self.Tell(Survey.Instance);
        });
        Command<GuestSilent>(silent =>
        {
            _silentGuests[silent.Lpar] = silent;
            Self.Tell(Survey.Instance);
        });
        Command<SetAvailabilityRequirement>(requirement =>
        {
            if (requirement.MaxRecovery <= TimeSpan.Zero)
            {
                Sender.Tell(new HaRefused(requirement.Lpar, $"the maximum recovery time of '{requirement.Lpar}' must be positive"));
                return;
            }
            // On a fresh list: a partition created a moment ago gets its availability record first.
            var replyTo = Sender;
            _partitions.Ask<LparList>(ListLpars.Instance, AskTimeout).PipeTo(Self,
                success: list => new RequireOn(requirement, list, replyTo),
                failure: e => new RequireOn(requirement, null, replyTo));
        });
        Command<RequireOn>(on =>
        {
            if (on.List is null)
            {
                on.ReplyTo.Tell(new HaRefused(on.Requirement.Lpar, "the partition manager did not answer; try again"));
                return;
            }
            // After the survey's events are recorded and applied: a partition created a moment ago has its record then.
            Surveyed(on.List, () => Require(on.Requirement, on.ReplyTo));
        });
        Command<RestartDone>(Completed);
        Command<RestartFailed>(failed =>
        {
            _inProgress.Remove(failed.Lpar);
            // Completed meanwhile (a survivor's takeover was recorded): nothing is pending any more.
            if (_registry.PendingRestarts.FirstOrDefault(p => p.Lpar == failed.Lpar) is not { } plan)
            {
                _attempts.Remove(failed.Lpar);
                _log.Info("ha-manager: {0}: an attempt ended ({1}), but no restart is pending any more", failed.Lpar, failed.Reason);
                return;
            }
            var attempts = _attempts.GetValueOrDefault(failed.Lpar) + 1;
            _attempts[failed.Lpar] = attempts;
            if (attempts < MaxAttempts)
            {
                // The partition manager may not have noticed the node is gone yet: try again shortly.
                _log.Info("ha-manager: {0} not restarted yet (attempt {1}): {2}", failed.Lpar, attempts, failed.Reason);
                Timers.StartSingleTimer($"retry-{failed.Lpar}", new Retry(plan), RetryDelay);
                return;
            }
            if (attempts == MaxAttempts || attempts % 12 == 0)
                _log.Error("ha-manager: {0} could not be restarted after {1} attempts: {2}; trying again every {3} s",
                    failed.Lpar, attempts, failed.Reason, SlowRetryDelay.TotalSeconds);
            Timers.StartSingleTimer($"retry-{failed.Lpar}", new Retry(plan), SlowRetryDelay);
        });
        Command<Retry>(retry => Execute(retry.Plan));
        Command<TakeoverCompleted>(TakenOver);
        Command<PairingDone>(done =>
        {
            _pairing.Remove(done.Lpar);
            if (done.Refusal is null)
            {
                _paired[done.Lpar] = (done.Primary, done.Replica);
                _log.Info("ha-manager: {0} on {1} now has its hot replica on {2}", done.Lpar, done.Primary, done.Replica);
            }
            else _log.Warning("ha-manager: the hot replica of {0} on {1} did not start: {2}", done.Lpar, done.Replica, done.Refusal);
        });
        Command<GetHaStatus>(_ => Sender.Tell(Status()));
        // Issue 12: every node's control view holds the last status, so `ha status` answers when this manager cannot.
        Command<PublishStatusTick>(tick =>
        {
            var status = Status();
            var fingerprint = ControlViewPublisher.Fingerprint(status);
            if (!tick.Periodic && fingerprint == _published) return;
            _published = fingerprint;
            ControlViewPublisher.Publish(Context.System, new HaStatusPublished(status, ControlViewPublisher.SelfAddress(Context.System)));
        });
        Command<GetFailures>(get =>
        {
            if (_registry.Find(get.Lpar) is { } record) Sender.Tell(record);
            else Sender.Tell(new HaRefused(get.Lpar, $"'{get.Lpar}' has no availability record"));
        });
        Command<SaveSnapshotSuccess>(success =>
        {
            DeleteMessages(success.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(failure => _log.Warning("ha-manager: snapshot not saved (the journal keeps every event): {0}", failure.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(failure => _log.Warning("ha-manager: events before the snapshot not deleted: {0}", failure.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
        Command<PartitionManagerActor.HandOver>(_ => Context.Stop(Self));
    }

    public override string PersistenceId => PersistenceIdValue;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef partitionManager, AvailabilitySettings settings, OwnerClaim? claim = null) =>
        Akka.Actor.Props.Create(() => new HaManagerActor(partitionManager, settings, claim));

    /// <summary>The HA manager behind its fence, under a back-off supervisor, for the cluster singleton manager.</summary>
    public static Props SingletonProps(IActorRef partitionManager, AvailabilitySettings settings, OwnershipSettings ownership) =>
        PartitionManagerActor.SingletonProps(PersistenceIdValue, claim => Props(partitionManager, settings, claim), ownership);

    protected override void OnReplaySuccess()
    {
        base.OnReplaySuccess();
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberDowned),
            typeof(ClusterEvent.MemberLeft), typeof(ClusterEvent.MemberExited));
        Self.Tell(Survey.Instance);
        Timers.StartPeriodicTimer("survey", Survey.Instance, SurveyInterval);
        Timers.StartPeriodicTimer(PublishTimer, PublishStatusTick.Every, ControlViewSettings.FromConfig(Context.System.Settings.Config).PublishInterval);
        Timers.StartPeriodicTimer(PublishChangeTimer, PublishStatusTick.OnChange, PublishChangeCheck);
        // Restarts planned by a predecessor and not completed: carry them out (they are not planned again).
        foreach (var pending in _registry.PendingRestarts) Execute(pending);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>
    /// The journal refused the events (they cannot be stored, such as one too large): nothing of them
    /// was applied, since events are applied once recorded; whoever waits hears why, and the next
    /// survey decides again. The manager keeps running.
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "ha-manager: the journal rejected {0} (sequence number {1}), nothing of it was applied: {2}", Payload(@event).GetType().Name, sequenceNr, cause.Message);
        if (_waiting is var (replyTo, lpar))
            replyTo.Tell(new HaRefused(lpar, $"the control plane's journal rejected it, nothing was changed: {cause.Message}"));
        _waiting = null;
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    /// <summary>The journal failed the write: whoever waits hears why; the manager stops and its supervisor starts it again, which recovers.</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "ha-manager: could not persist {0}: {1}", Payload(@event).GetType().Name, WhyNotRecorded(cause));
        if (_waiting is var (replyTo, lpar))
            replyTo.Tell(new HaRefused(lpar, $"the control plane's journal did not record it, nothing was changed: {WhyNotRecorded(cause)}"));
        _waiting = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>
    /// Every partition gets an availability record (failover image nodes chosen by policy); standby
    /// choices follow the nodes; hot pairs are started where missing; failed partitions are restarted.
    /// </summary>
    private void Surveyed(LparList list, Action? then = null)
    {
        _lastList = list;
        foreach (var (node, address) in list.NodeAddresses) _nodeAt[address] = node;
        // A node that left and came back is watched again.
        foreach (var (node, at) in list.NodeAddresses)
            if (_left.TryGetValue(node, out var leftFrom) && leftFrom != at) Rejoined(node, at);
        var online = list.Nodes.Select(n => n.Node).ToList();
        // Decided on a draft, persisted, then applied (issue 19): each decision sees the ones before it,
        // and the registry holds only what the journal recorded.
        var draft = _registry.Copy();
        var events = new List<IViosMessage>();
        foreach (var summary in list.Lpars.Where(l => draft.Find(l.Definition.Name) is null))
        {
            var (declared, _) = draft.Decide(new DeclareAvailability(summary.Definition.Name, summary.Definition.Node, null, null), online);
            if (declared is null) continue;
            draft.Apply(declared);
            events.Add(declared);
        }
        // A list that lacks live nodes (a new partition manager hears from the firmwares one by one)
        // would fail partitions over, and move replicas, away from nodes that are merely late.
        var dead = DeadNodes(list);
        var complete = Complete(list, dead);
        if (complete)
        {
            events.AddRange(CheckFailures(list, dead, draft));
            events.AddRange(Replan(list, draft));
            events.AddRange(Redesignate(list, dead, draft));
        }
        else Timers.StartSingleTimer("fast-survey", Survey.Instance, RetryDelay);
        // Persisted before anything is done: a handover in the middle neither loses nor repeats a restart.
        PersistThen(events, e =>
        {
            Applied(e);
            if (e is RestartPlanned planned) Execute(planned);
        }, () =>
        {
            if (complete) EnsurePairs(list);
            then?.Invoke();
        });
    }

    /// <summary>
    /// Persists the events, each handled once recorded, then runs <paramref name="then"/> after the
    /// last one's handler (at once when there are none). Not DeferAsync: in Akka.NET 1.5 a deferral
    /// beside a PersistAll in the same command is delivered ahead of it, and hands the handlers each
    /// other's events.
    /// </summary>
    private void PersistThen(IReadOnlyList<IViosMessage> events, Action<IViosMessage> each, Action then)
    {
        if (events.Count == 0)
        {
            then();
            return;
        }
        var last = events[^1];
        PersistAllFenced(events, e =>
        {
            each(e);
            if (ReferenceEquals(e, last)) then();
        });
    }

    /// <summary>An event of this manager is recorded: applied, and a snapshot every <see cref="SnapshotEvery"/> events.</summary>
    private void Applied(IViosMessage e)
    {
        _registry.Apply(e);
        Recorded();
    }

    private void Recorded()
    {
        _waiting = null;
        if (++_sinceSnapshot < SnapshotEvery) return;
        _sinceSnapshot = 0;
        SaveSnapshot(_registry.Snapshot() with { Left = _leftRecorded.Values.ToList() });
    }

    /// <summary>
    /// A graceful leave on record. For the successor of a manager whose node left: a leave older than
    /// <see cref="LeaveRemembered"/> is settled (the node came back, or its partitions were started
    /// elsewhere by hand), and must not hide a later failure.
    /// </summary>
    private void LeftGracefully(NodeLeftGracefully left, bool recovering)
    {
        _leftRecorded[left.Node] = left;
        if (!recovering || DateTimeOffset.UtcNow - left.At < LeaveRemembered) _left[left.Node] = left.Address;
        if (!recovering) Recorded();
    }

    private void BackAgain(NodeRejoined back, bool recovering)
    {
        _leftRecorded.Remove(back.Node);
        if (recovering) _left.Remove(back.Node);
        else Recorded();
    }

    /// <summary>
    /// A node that was downed has failed; one that left the cluster gracefully (an operator's stop,
    /// a shutdown) took its partitions down on purpose, and they are not failed over.
    /// </summary>
    private void NodeRemoved(Address address, bool left)
    {
        if (_nodeAt.TryGetValue(address.ToString(), out var node))
        {
            if (left)
            {
                _left[node] = address.ToString();
                _log.Info("ha-manager: {0} left the cluster; its partitions stopped with it and are not failed over", node);
            }
            else
            {
                _removed.Add(node);
                Rejoined(node, address.ToString());
            }
        }
        Self.Tell(Survey.Instance);
    }

    private void Rejoined(string node, string address)
    {
        if (_left.Remove(node)) PersistFenced(new NodeRejoined(node, address, DateTimeOffset.UtcNow), back => BackAgain(back, recovering: false));
    }

    private void Leaving(Address address)
    {
        if (!_nodeAt.TryGetValue(address.ToString(), out var node) || !_left.TryAdd(node, address.ToString())) return;
        _log.Info("ha-manager: {0} is leaving the cluster; its partitions stop with it and are not failed over", node);
        // Known to the next HA manager too: this one moves when its own node leaves.
        PersistFenced(new NodeLeftGracefully(node, address.ToString(), DateTimeOffset.UtcNow), left => LeftGracefully(left, recovering: false));
    }

    /// <summary>
    /// The nodes whose partitions have failed: removed from the cluster while this instance ran; held
    /// silent by the masters and fenced (downed, or no longer a member); and, once the startup grace
    /// is over, any node missing from the partition list (which also covers a removal this instance
    /// did not see, such as that of the node the previous HA manager ran on).
    /// </summary>
    private HashSet<string> DeadNodes(LparList list)
    {
        var dead = new HashSet<string>(_removed, StringComparer.Ordinal);
        var members = _cluster.State.Members.ToDictionary(m => m.Address.ToString(), m => m.Status);
        var fenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (address, silent) in _silentNodes)
        {
            // Fenced by the master that reported it (it had the cluster down it): gone now, before the down reaches this node.
            var gone = silent.FencedByReporter || !members.TryGetValue(address, out var status)
                       || status is MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting;
            if (!gone) continue;
            var names = new HashSet<string>(StringComparer.Ordinal);
            if (_nodeAt.TryGetValue(address, out var known)) names.Add(known);
            // A new instance may not know the address: the partitions the node last listed live tell where they ran.
            foreach (var lpar in silent.LastLiveLpars)
                if (list.Lpars.FirstOrDefault(l => l.Definition.Name == lpar) is { } summary) names.Add(summary.Definition.Node);
            // Fenced (downed) while still registered: dead now, not once the cluster removes it, unless
            // a node of that name registered again from another address (a new incarnation).
            foreach (var node in names.Where(n => !list.NodeAddresses.TryGetValue(n, out var at) || at == address))
            {
                fenced.Add(node);
                _fencedAt[node] = address;
            }
        }
        var registered = list.Nodes.Select(n => n.Node).ToHashSet(StringComparer.Ordinal);
        if (DateTimeOffset.UtcNow - _started >= _settings.StartupGrace)
            foreach (var summary in list.Lpars.Where(l => !registered.Contains(l.Definition.Node)))
            {
                // A node still a member is not dead: it is leaving (its firmware stopped first), or
                // registering again; its removal, downed or not, decides.
                var node = summary.Definition.Node;
                var addresses = _nodeAt.Where(a => a.Value == node).Select(a => a.Key).ToList();
                var statuses = addresses.Select(a => members.TryGetValue(a, out var status) ? status : MemberStatus.Removed).ToList();
                foreach (var leaving in addresses.Where(a => members.GetValueOrDefault(a) is MemberStatus.Leaving or MemberStatus.Exiting)) _left.TryAdd(node, leaving);
                if (statuses.Any(st => st is not (MemberStatus.Down or MemberStatus.Removed))) continue;
                dead.Add(node);
            }
        dead.ExceptWith(registered);
        dead.UnionWith(fenced);
        dead.ExceptWith(_left.Keys);
        return dead;
    }

    /// <summary>Failover image nodes that became the partition's own node, chosen again (<see cref="HaRegistry.Redesignate"/>), logged.</summary>
    private IEnumerable<IViosMessage> Redesignate(LparList list, HashSet<string> dead, HaRegistry draft)
    {
        var live = list.Nodes.Select(n => n.Node).Where(n => !dead.Contains(n)).ToList();
        var busy = draft.PendingRestarts.Select(p => p.Lpar).Concat(_inProgress).ToHashSet(StringComparer.Ordinal);
        foreach (var declared in draft.Redesignate(live, busy))
        {
            _log.Info("ha-manager: {0} runs on {1}: its failover image nodes are now {2} (consistency) and {3} (boot)",
                declared.Lpar, declared.Node, declared.ConsistencyNode, declared.BootNode);
            yield return declared;
        }
    }

    /// <summary>
    /// Whether the partition list has every live vios node registered: a new partition manager (after
    /// a handover) hears from the firmwares one by one, and a failover decided on half a list would
    /// take a designated node that is merely late for a gone one.
    /// </summary>
    private bool Complete(LparList list, HashSet<string> dead)
    {
        var members = _cluster.State.Members.Count(m => m.HasRole("vios") && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp
            && !_silentNodes.ContainsKey(m.Address.ToString()));
        return list.Nodes.Count(n => !dead.Contains(n.Node)) >= members;
    }

    /// <summary>
    /// A partition has failed when it was running on a dead node (<see cref="DeadNodes"/>), or its
    /// guest agent fell silent while its node lives. A partition with a restart planned or under way
    /// is not failed again; a report about a node the partition has since left is stale.
    /// </summary>
    private List<IViosMessage> CheckFailures(LparList list, HashSet<string> dead, HaRegistry draft)
    {
        var live = list.Nodes.Select(n => n.Node).Where(n => !dead.Contains(n)).ToList();
        var pending = draft.PendingRestarts.Select(p => p.Lpar).ToHashSet(StringComparer.Ordinal);
        var events = new List<IViosMessage>();
        var now = DateTimeOffset.UtcNow;
        foreach (var summary in list.Lpars)
        {
            var (name, node) = (summary.Definition.Name, summary.Definition.Node);
            if (summary.State is not (LparState.Running or LparState.Quiesced or LparState.Activating)) continue;
            if (pending.Contains(name) || _inProgress.Contains(name) || draft.Find(name) is not { } record || record.Node != node) continue;
            // A copy that runs on a live node the record does not place it on is a survivor's takeover
            // (the HA manager died with the node): not failed; its announcement moves the record there.
            if (list.Strays.Any(s => s.Name == name && s.Verdict == ReportedLparVerdict.PlacedElsewhere && live.Contains(s.Node)
                && s.State is LparState.Running or LparState.Activating)) continue;
            string cause;
            if (dead.Contains(node)) cause = $"{node} is no longer in the cluster";
            else if (_silentGuests.Remove(name, out var guest) && list.NodeAddresses.GetValueOrDefault(node) == guest.Node)
                cause = $"its heartbeats stopped at {guest.LastHeartbeat:HH:mm:ss.fff} while {node} lives";
            else continue;
            // The same failure reported twice (by two masters, or again after a handover) has the same id.
            var failureId = $"{name}@{node}#{record.Failures.Count(f => f.Completed)}";
            var decision = draft.Decide(new LparFailed(name, node, failureId, cause), live, now);
            if (decision.Refusal is { } refused) _log.Error("ha-manager: {0}: {1}", refused.Lpar, refused.Reason);
            // On the draft, so the next failure's placement counts this restart.
            foreach (var e in decision.Events) draft.Apply(e);
            events.AddRange(decision.Events);
        }
        return events;
    }

    /// <summary>Stops the partition where it is if that node lives, moves it to its target node and brings it up there.</summary>
    private void Execute(RestartPlanned plan)
    {
        if (!_inProgress.Add(plan.Lpar)) return;
        var failed = _registry.Find(plan.Lpar)?.Failures.FirstOrDefault(f => f.FailureId == plan.FailureId)?.FailedNode;
        var fenceFirst = failed is not null && _lastList?.Nodes.Any(n => n.Node == failed) == true && DeadNodes(_lastList).Contains(failed) == false;
        _log.Warning("ha-manager: restarting {0} on {1} from {2}: {3}", plan.Lpar, plan.TargetNode, Describe(plan.Image), plan.Reason);
        _paired.Remove(plan.Lpar);
        var fence = failed is not null && _fencedAt.TryGetValue(failed, out var address) ? new FenceNode(failed, address) : null;
        var retry = _attempts.ContainsKey(plan.Lpar);
        var deadline = _settings.RestartDeadline;
        // An attempt that does not finish by its deadline (a step whose reply never comes) is given up
        // and tried again, never left in progress for good; its steps may still complete late, which
        // the next attempt finds (the partition already running on its target).
        _ = RestartAsync(plan, failed, _partitions, fenceFirst, fence, retry, deadline).WaitAsync(deadline)
            .PipeTo(Self, failure: e => new RestartFailed(plan.Lpar, e is TimeoutException
                ? $"the attempt did not finish within {deadline.TotalSeconds:0.#} s (vios.availability.restart-deadline)"
                : e.GetBaseException().Message));
    }

    private static string Describe(FailoverImage image) => image switch
    {
        FailoverImage.Boot => "its boot image",
        FailoverImage.Replica => "its hot replica",
        _ => "its consistency image",
    };

    private static async Task<object> RestartAsync(RestartPlanned plan, string? failedNode, IActorRef partitions, bool fenceFirst, FenceNode? fence, bool retry, TimeSpan deadline)
    {
        var started = DateTimeOffset.UtcNow;
        // A previous attempt that was given up may have brought the partition up after all, or a
        // survivor took it over while the HA manager moved (then its record is on that node).
        if (retry && await partitions.Ask<LparList>(ListLpars.Instance, deadline) is var list
            // Reported by the node, not the intent a failed restore recorded before it was refused there.
            && list.Lpars.FirstOrDefault(l => l.Definition.Name == plan.Lpar) is { State: LparState.Running, NodeOnline: true, StateReported: true } running
            && running.Definition.Node != failedNode)
            return new RestartDone(plan.Lpar, plan.FailureId, running.Definition.Node, plan.Image, DateTimeOffset.UtcNow - started,
                $"running on {running.Definition.Node} since an earlier attempt", Measured: false);
        // A guest that stopped heartbeating on a live node is stopped there first, so it never runs twice.
        if (fenceFirst) await partitions.Ask<object>(new StopLpar(plan.Lpar), deadline);
        // A fenced node is out of the partition manager's placement at once, not when the cluster removes it.
        if (fence is not null) await partitions.Ask<object>(fence, deadline);
        var moved = await partitions.Ask<object>(new MoveLpar(plan.Lpar, plan.TargetNode, plan.Reason), deadline);
        if (moved is LparRefused { Reason: var moveRefusal } && !moveRefusal.Contains("already placed on", StringComparison.Ordinal))
            return new RestartFailed(plan.Lpar, moveRefusal);

        object restored;
        var fallback = "";
        if (plan.Image == FailoverImage.Replica)
        {
            restored = await partitions.Ask<object>(new PromoteReplica(plan.Lpar), deadline);
            if (restored is CheckpointRestored promoted)
                return Done(plan, promoted, started, $"promoted its replica at epoch {promoted.Epoch}");
            // The replica is gone or empty: the persisted image is what there is.
            fallback = $" (the replica could not be promoted: {(restored as LparRefused)?.Reason})";
        }
        long? epoch = plan.Image == FailoverImage.Boot ? 0 : null;
        restored = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, epoch), deadline);
        if (restored is CheckpointRestored { Verified: false } corrupt)
            return new RestartFailed(plan.Lpar, $"the image of epoch {corrupt.Epoch} restored with a different memory checksum than at its stun");
        if (restored is CheckpointRestored image)
            return Done(plan, image, started, (epoch == 0 ? "from the boot image" : $"from epoch {image.Epoch}") + fallback);
        // No committed consistency image yet: the boot image is what there is.
        if (epoch is null)
        {
            var boot = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, 0), deadline);
            if (boot is CheckpointRestored bootImage)
                return Done(plan, bootImage, started, $"from the boot image: no consistency image was committed{fallback}");
        }
        return new RestartFailed(plan.Lpar, (restored as LparRefused)?.Reason ?? $"unexpected reply {restored}");
    }

    private static RestartDone Done(RestartPlanned plan, CheckpointRestored restored, DateTimeOffset started, string how) =>
        new(plan.Lpar, plan.FailureId, restored.Node, plan.Image, DateTimeOffset.UtcNow - started,
            $"{how}, memory checksum {restored.MemoryChecksum:x16}{(restored.Verified == true ? " (equal to the image's)" : "")}");

    private void Completed(RestartDone done)
    {
        _inProgress.Remove(done.Lpar);
        _attempts.Remove(done.Lpar);
        var (completed, refusal) = _registry.Complete(done.Lpar, done.FailureId, done.Node, DateTimeOffset.UtcNow);
        if (completed is null)
        {
            _log.Warning("ha-manager: {0}: {1}", done.Lpar, refusal);
            return;
        }
        if (done.Measured && done.Image == FailoverImage.Replica) _measuredHot = done.Took;
        else if (done.Measured) _measuredCold = done.Took;
        PersistFenced(completed with { Detail = done.Detail }, e =>
        {
            Applied(e);
            _log.Info("ha-manager: {0} is running again on {1}, {2}", done.Lpar, done.Node, done.Detail);
            // Its node changed: a hot standby needs a replica elsewhere again (the next survey re-plans).
            Self.Tell(Survey.Instance);
        });
    }

    /// <summary>
    /// A survivor took the partition over while this manager moved (<see cref="TakeoverPlanner"/>): the
    /// failure and its restart go into the history as if planned here (the same failure id: a restart
    /// this instance planned for it meanwhile is completed by it). Answered once recorded; a repeat is answered at once.
    /// </summary>
    private void TakenOver(TakeoverCompleted done)
    {
        var replyTo = Sender;
        if (_registry.Find(done.Lpar) is not { } record)
        {
            replyTo.Tell(new HaRefused(done.Lpar, $"'{done.Lpar}' has no availability record"));
            return;
        }
        if (record.Failures.Any(f => f.FailureId == done.FailureId && f.Completed))
        {
            replyTo.Tell(new TakeoverRecorded(done.Lpar, done.FailureId));
            return;
        }
        // In the history at the survivor's times: when it began the takeover, and when the partition ran.
        var draft = _registry.Copy();
        var decision = draft.Decide(new LparFailed(done.Lpar, done.FailedNode, done.FailureId,
            $"{done.FailedNode} was downed with the HA manager on it; {done.Node} took the partition over"), [done.Node], done.StartedAt);
        foreach (var e in decision.Events) draft.Apply(e);
        var events = decision.Events.ToList();
        if (draft.Complete(done.Lpar, done.FailureId, done.Node, done.StartedAt + done.Took) is ({ } completed, _))
            events.Add(completed with { Detail = $"taken over by {done.Node}: {done.Detail}" });
        if (done.Image == FailoverImage.Replica) _measuredHot = done.Took;
        else _measuredCold = done.Took;
        _log.Info("ha-manager: {0} was taken over by {1} ({2}) while the HA manager moved", done.Lpar, done.Node, done.Detail);
        _waiting = (replyTo, done.Lpar);
        // A write the journal rejects is answered with the reason (the survivor asks again), and this is not run.
        PersistThen(events, Applied, () =>
        {
            replyTo.Tell(new TakeoverRecorded(done.Lpar, done.FailureId));
            Self.Tell(Survey.Instance);
        });
    }

    /// <summary>S17: records the requirement, chooses hot or cold standby for it, and answers with the choice.</summary>
    private void Require(SetAvailabilityRequirement requirement, IActorRef replyTo)
    {
        if (_registry.Check(requirement) is { } refusal)
        {
            replyTo.Tell(new HaRefused(requirement.Lpar, refusal));
            return;
        }
        if (_lastList?.Lpars.FirstOrDefault(l => l.Definition.Name == requirement.Lpar) is not { } summary)
        {
            replyTo.Tell(new HaRefused(requirement.Lpar, $"no partition named '{requirement.Lpar}'"));
            return;
        }
        var (planner, _) = Planner(_lastList, _registry);
        planner.Replan(StandbyNodes(_lastList));
        var choice = Chosen(planner.Require(RequirementOf(requirement, summary.Definition), Estimate()));
        _waiting = (replyTo, requirement.Lpar);
        PersistAllFenced(new IViosMessage[] { requirement, choice }, e =>
        {
            Applied(e);
            if (e is not StandbyChosen chosen) return;
            _log.Info("ha-manager: {0}: {1}", chosen.Lpar, chosen.Reason);
            replyTo.Tell(chosen);
            if (_lastList is { } list) EnsurePairs(list);
        });
    }

    /// <summary>
    /// S17: re-plans every partition with a requirement on the nodes and room there are now, from the
    /// choices on record (so a replica stays where it is while its node has room for it); returns the
    /// choices that changed, to persist.
    /// </summary>
    private List<IViosMessage> Replan(LparList list, HaRegistry draft)
    {
        var (planner, _) = Planner(list, draft);
        var changes = new List<IViosMessage>();
        foreach (var change in planner.Replan(StandbyNodes(list)))
        {
            var chosen = Chosen(change.After);
            if (draft.Find(chosen.Lpar)?.Standby is { } before
                && before.Mode == chosen.Mode && before.ReplicaNode == chosen.ReplicaNode && before.RequirementMet == chosen.RequirementMet)
                continue;
            _log.Info("ha-manager: {0}: {1}", chosen.Lpar, chosen.Reason);
            draft.Apply(chosen);
            changes.Add(chosen);
        }
        return changes;
    }

    /// <summary>A planner holding every partition's requirement and its choice on record.</summary>
    private (StandbyPlanner Planner, Dictionary<string, LparDefinition> Definitions) Planner(LparList list, HaRegistry registry)
    {
        var planner = new StandbyPlanner();
        var definitions = list.Lpars.ToDictionary(l => l.Definition.Name, l => l.Definition, StringComparer.Ordinal);
        foreach (var record in registry.Records)
        {
            if (record.Requirement is not { } requirement || !definitions.TryGetValue(record.Lpar, out var definition)) continue;
            var before = record.Standby is { } s ? new StandbyChoice(s.Lpar, s.Mode, s.ReplicaNode, s.RequirementMet, s.Reason) : null;
            planner.Restore(RequirementOf(requirement, definition), Estimate(), before);
        }
        return (planner, definitions);
    }

    /// <summary>The registered nodes with the vCPUs and memory their partitions leave free.</summary>
    private static List<StandbyNode> StandbyNodes(LparList list) =>
        list.Nodes.Select(n =>
        {
            var placed = list.Lpars.Where(l => l.Definition.Node == n.Node).Select(l => l.Definition).ToList();
            return new StandbyNode(n.Node, n.Cpus.Count - placed.Sum(d => d.Vcpus), n.Memory.Sum(m => m.SizeMb) - placed.Sum(d => d.MemoryMb));
        }).ToList();

    /// <summary>Starts the replication of each running hot-standby partition to its replica node, where it is not running yet.</summary>
    private void EnsurePairs(LparList list)
    {
        foreach (var record in _registry.Records)
        {
            if (record.Standby is not { Mode: StandbyMode.Hot, ReplicaNode: { } replica }) continue;
            if (list.Lpars.FirstOrDefault(l => l.Definition.Name == record.Lpar) is not { State: LparState.Running } summary) continue;
            var primary = summary.Definition.Node;
            if (primary == replica || _paired.GetValueOrDefault(record.Lpar) == (primary, replica)) continue;
            if (_inProgress.Contains(record.Lpar) || !_pairing.Add(record.Lpar)) continue;
            PairAsync(_partitions, record.Lpar, primary, replica).PipeTo(Self, failure: e => new PairingDone(record.Lpar, primary, replica, e.Message));
        }
    }

    /// <summary>
    /// Pairs the partition with a replica on <paramref name="replica"/>, unless it already is (a new
    /// HA manager after a handover finds the pairs its predecessor started, and keeps them).
    /// </summary>
    private static async Task<PairingDone> PairAsync(IActorRef partitions, string lpar, string primary, string replica)
    {
        if (await partitions.Ask<object>(new GetCheckpointStats(lpar), AskTimeout) is CheckpointStats stats
            && stats.Mode.StartsWith($"replicating to {replica} ", StringComparison.Ordinal))
            return new PairingDone(lpar, primary, replica, null);
        var reply = await partitions.Ask<object>(new ReplicateCheckpoints(lpar, replica, HotIntervalMs, Verify: true, TargetFirmware: null), AskTimeout);
        return new PairingDone(lpar, primary, replica, reply is LparRefused refused ? refused.Reason : null);
    }

    private static AvailabilityRequirement RequirementOf(SetAvailabilityRequirement requirement, LparDefinition definition) =>
        new(requirement.Lpar, definition.Node, definition.Vcpus, definition.MemoryMb, requirement.MaxRecovery, requirement.FullPerformance);

    private static StandbyChosen Chosen(StandbyChoice choice) =>
        new(choice.Lpar, choice.Mode, choice.ReplicaNode, choice.RequirementMet, choice.Reason, DateTimeOffset.UtcNow);

    /// <summary>
    /// S17's recovery estimates: the last measured restart of each kind plus the time to detect a
    /// failure (the heartbeats' silence limit), or the configured estimate until one is measured.
    /// </summary>
    private RecoveryEstimate Estimate()
    {
        var detection = _settings.Heartbeat.Interval * (_settings.Heartbeat.NodeMissedIntervals + 1);
        return new RecoveryEstimate(
            _measuredCold is { } cold ? cold + detection : _settings.Estimates.ColdRestart,
            _measuredHot is { } hot ? hot + detection : _settings.Estimates.HotPromotion);
    }

    private HaStatus Status() => new(_registry.Records.ToList(), _registry.PendingRestarts.ToList())
    {
        Estimates = Estimate(),
        SilentNodes = _silentNodes.Keys.Order(StringComparer.Ordinal).ToList(),
        Window = _settings.Policy.FailureWindow,
    };

    /// <summary>Published when something changed (checked this often), and at least every publish interval.</summary>
    private sealed record PublishStatusTick(bool Periodic)
    {
        public static PublishStatusTick Every { get; } = new(true);
        public static PublishStatusTick OnChange { get; } = new(false);
    }

    private sealed record Survey
    {
        public static Survey Instance { get; } = new();
    }

    private sealed record SurveyFailed(string Reason);

    /// <param name="Measured">Whether <paramref name="Took"/> is the restart's own time (not a check that found it done).</param>
    private sealed record RestartDone(string Lpar, string FailureId, string Node, FailoverImage Image, TimeSpan Took, string Detail, bool Measured = true);

    private sealed record RestartFailed(string Lpar, string Reason);

    private sealed record Retry(RestartPlanned Plan);

    private sealed record RequireOn(SetAvailabilityRequirement Requirement, LparList? List, IActorRef ReplyTo);

    private sealed record PairingDone(string Lpar, string Primary, string Replica, string? Refusal);
}

/// <summary>Asks the HA manager for every availability record and the restarts in progress.</summary>
public sealed record GetHaStatus : IViosMessage
{
    public static GetHaStatus Instance { get; } = new();
}

/// <summary>
/// Every availability record, the restarts planned and not completed, the recovery estimates the
/// standby choices rest on, the nodes the heartbeat masters hold silent, and the failure window.
/// </summary>
public sealed record HaStatus(IReadOnlyList<AvailabilityRecord> Records, IReadOnlyList<RestartPlanned> Pending) : IViosMessage
{
    public RecoveryEstimate? Estimates { get; init; }

    public IReadOnlyList<string> SilentNodes { get; init; } = [];

    public TimeSpan Window { get; init; }
}
