using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// The HA manager (S5, S17): a persistent cluster singleton (persistence id <c>ha-manager</c>, the
/// control plane's journal) that keeps each partition's availability record and restarts the
/// partitions that fail. The rules are plain classes: which nodes are dead and which partitions have
/// failed (<see cref="FailureDetector"/>), the decisions on the records (<see cref="HaRegistry"/>),
/// one restart attempt (<see cref="FailoverRestart"/>, retried by <see cref="RestartAttempts"/>), and
/// the standby choices and hot pairs (<see cref="StandbyUpkeep"/>), one survey over them all
/// (<see cref="HaSurvey"/>). This actor feeds them the cluster's events and the partition list,
/// persists their decisions before anything is done (so a handover in the middle of a failover
/// neither loses nor repeats one), and carries the restarts out (HaManagerActor.Restarts.cs).
/// </summary>
public sealed partial class HaManagerActor : FencedPersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "ha-manager";

    /// <summary>A snapshot every this many events keeps the journal and recovery short (issue 19); older events are deleted.</summary>
    public const int SnapshotEvery = 100;

    private const string SurveyTimer = "survey";
    private const string FastSurveyTimer = "fast-survey";
    private const string PublishTimer = "publish-view";
    private const string PublishChangeTimer = "publish-view-on-change";
    private static readonly TimeSpan PublishChangeCheck = TimeSpan.FromMilliseconds(100);

    private readonly HaRegistry _registry;
    private readonly AvailabilitySettings _settings;
    private readonly IActorRef _partitions;
    private readonly Akka.Cluster.Cluster _cluster;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly FailureDetector _detector;
    private readonly RestartAttempts _attempts;
    private readonly StandbyUpkeep _standby;
    private int _sinceSnapshot;
    // Who waits for the events being persisted, told why if the journal rejects them.
    private (IActorRef ReplyTo, string Lpar)? _waiting;
    private LparList? _lastList;
    private readonly ListNumbering _lists = new();
    private string? _published;

    public HaManagerActor(IActorRef partitionManager, AvailabilitySettings settings, OwnerClaim? claim = null) : base(claim)
    {
        _registry = new HaRegistry(settings.Policy);
        _settings = settings;
        _partitions = partitionManager;
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _detector = new FailureDetector(settings.StartupGrace, settings.LeaveRemembered, DateTimeOffset.UtcNow);
        _attempts = new RestartAttempts(settings);
        _standby = new StandbyUpkeep(settings);
        JournalPluginId = PersistencePlugins.ControlJournal;
        SnapshotPluginId = PersistencePlugins.ControlSnapshots;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not HaSnapshot snapshot) return;
            _registry.Apply(snapshot);
            foreach (var left in snapshot.Left) _detector.LeaveRecorded(left, recovering: true, DateTimeOffset.UtcNow);
        });
        // Events after the snapshot count towards the next one, whichever instance wrote them.
        Recover<IViosMessage>(e =>
        {
            if (e is NodeLeftGracefully left) _detector.LeaveRecorded(left, recovering: true, DateTimeOffset.UtcNow);
            else if (e is NodeRejoined back) _detector.RejoinRecorded(back, recovering: true);
            else _registry.Apply(e);
            _sinceSnapshot++;
        });

        Command<Survey>(_ =>
        {
            var asked = _lists.Ask();
            _partitions.Ask<LparList>(ListLpars.Instance, _settings.AskTimeout).PipeTo(Self, success: list => new Listed(list, asked), failure: e => new SurveyFailed(e.Message));
        });
        Command<SurveyFailed>(failed => _log.Debug("ha-manager: the partition manager did not answer: {0}", failed.Reason));
        Command<Listed>(listed => Surveyed(listed.List, listed.Asked));
        // A list pushed here is as new as any change recorded so far.
        Command<LparList>(list => Surveyed(list, _lists.Ask()));
        Command<ClusterEvent.MemberRemoved>(removed => NodeRemoved(removed.Member.Address.ToString(), left: removed.PreviousStatus == MemberStatus.Exiting));
        Command<ClusterEvent.MemberUp>(up =>
        {
            if (_detector.MemberUp(up.Member.Address.ToString()) is { } back) RecordRejoin(back, up.Member.Address.ToString());
            Self.Tell(Survey.Instance);
            // The new member's control view hears the status at once: it may be a takeover node within the second.
            if (up.Member.HasRole("vios"))
                ControlViewPublisher.PublishTo(Context.System, up.Member.Address, new HaStatusPublished(Status(), ControlViewPublisher.SelfAddress(Context.System)));
        });
        Command<ClusterEvent.MemberDowned>(_ => Self.Tell(Survey.Instance));
        // A graceful leave is known from its first step: the cluster's state can show the member removed
        // before this actor has its MemberRemoved (which says it left), and a survey in between would
        // take the node for a failed one (the chaos soak found it: a partition failed over during a leave).
        Command<ClusterEvent.MemberLeft>(left => Leaving(left.Member.Address.ToString()));
        Command<ClusterEvent.MemberExited>(exited => Leaving(exited.Member.Address.ToString()));
        Command<ClusterEvent.IMemberEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<NodeSilent>(silent =>
        {
            if (!_detector.Silent(silent, MemberView.Of(_cluster))) return;
            _log.Warning(silent.FencedByReporter ? "ha-manager: {0} has fenced {1}" : "ha-manager: {0} reports {1} silent", silent.ReportedBy, silent.Node);
            // Its partitions fail once it is fenced (downed); look again now and shortly after.
            Self.Tell(Survey.Instance);
            Timers.StartSingleTimer(FastSurveyTimer, Survey.Instance, _settings.RetryDelay);
        });
        Command<NodeHeardAgain>(heard =>
        {
            if (!_detector.HeardAgain(heard, MemberView.Of(_cluster))) return;
            _log.Info("ha-manager: {0} hears {1} again; it is no longer held silent", heard.ReportedBy, heard.Node);
            Self.Tell(Survey.Instance);
        });
        Command<GuestSilent>(silent =>
        {
            _detector.GuestSilent(silent);
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
            var asked = _lists.Ask();
            _partitions.Ask<LparList>(ListLpars.Instance, _settings.AskTimeout).PipeTo(Self,
                success: list => new RequireOn(requirement, list, asked, replyTo),
                failure: _ => new RequireOn(requirement, null, asked, replyTo));
        });
        Command<RequireOn>(on =>
        {
            if (on.List is null) on.ReplyTo.Tell(new HaRefused(on.Requirement.Lpar, "the partition manager did not answer; try again"));
            // After the survey's events are recorded and applied: a partition created a moment ago has its record then.
            else Surveyed(on.List, on.Asked, () => Require(on.Requirement, on.ReplyTo));
        });
        Command<RestartDone>(Completed);
        Command<RestartFailed>(Failed);
        Command<Retry>(retry => Execute(retry.Plan));
        Command<TakeoverCompleted>(TakenOver);
        Command<PairingDone>(done =>
        {
            _standby.PairingEnded(done);
            if (done.Refusal is null) _log.Info("ha-manager: {0} on {1} now has its hot replica on {2}", done.Lpar, done.Primary, done.Replica);
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
        TrimAfterSnapshots(_log);
        Command<FencedSingleton.HandOver>(_ => Context.Stop(Self));
    }

    public override string PersistenceId => PersistenceIdValue;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef partitionManager, AvailabilitySettings settings, OwnerClaim? claim = null) =>
        Akka.Actor.Props.Create(() => new HaManagerActor(partitionManager, settings, claim));

    /// <summary>The HA manager behind its fence, under a back-off supervisor, for the cluster singleton manager.</summary>
    public static Props SingletonProps(IActorRef partitionManager, AvailabilitySettings settings, OwnershipSettings ownership) =>
        FencedSingleton.Props(PersistenceIdValue, claim => Props(partitionManager, settings, claim), ownership);

    protected override void OnReplaySuccess()
    {
        base.OnReplaySuccess();
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberDowned),
            typeof(ClusterEvent.MemberLeft), typeof(ClusterEvent.MemberExited));
        Self.Tell(Survey.Instance);
        Timers.StartPeriodicTimer(SurveyTimer, Survey.Instance, _settings.SurveyInterval);
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
    /// Decided (<see cref="HaSurvey"/>), persisted, then applied (issue 19): the registry holds only
    /// what the journal recorded.
    /// </summary>
    private void Surveyed(LparList list, long asked, Action? then = null)
    {
        _lastList = list;
        // A node that left and came back is watched again.
        foreach (var (node, at) in _detector.Learn(list)) RecordRejoin(node, at);
        var decision = HaSurvey.Decide(list, _registry, _detector, _standby, MemberView.Of(_cluster), _attempts.InProgress, DateTimeOffset.UtcNow,
            _lists.ChangedSince(asked));
        foreach (var (level, text) in decision.Describe()) _log.Log(level, text);
        if (!decision.Complete) Timers.StartSingleTimer(FastSurveyTimer, Survey.Instance, _settings.RetryDelay);
        // Persisted before anything is done: a handover in the middle neither loses nor repeats a restart.
        PersistAllFencedThen(decision.Events, e =>
        {
            Applied(e);
            if (e is RestartPlanned planned) Execute(planned);
        }, () =>
        {
            if (decision.Complete) EnsurePairs(list);
            then?.Invoke();
        });
    }

    /// <summary>An event of this manager is recorded: applied, and a snapshot every <see cref="SnapshotEvery"/> events.</summary>
    private void Applied(IViosMessage e)
    {
        if (e is NodeLeftGracefully left) _detector.LeaveRecorded(left, recovering: false, DateTimeOffset.UtcNow);
        else if (e is NodeRejoined back) _detector.RejoinRecorded(back, recovering: false);
        else _registry.Apply(e);
        _lists.Recorded(e);
        _waiting = null;
        if (++_sinceSnapshot < SnapshotEvery) return;
        _sinceSnapshot = 0;
        SaveSnapshot(_registry.Snapshot() with { Left = _detector.LeavesOnRecord });
    }

    private void NodeRemoved(string address, bool left)
    {
        var (node, leaveEnded) = _detector.Removed(address, left);
        if (node is not null && left) _log.Info("ha-manager: {0} left the cluster; its partitions stopped with it and are not failed over", node);
        if (node is not null && leaveEnded) RecordRejoin(node, address);
        Self.Tell(Survey.Instance);
    }

    private void RecordRejoin(string node, string address) => PersistFenced(new NodeRejoined(node, address, DateTimeOffset.UtcNow), Applied);

    private void Leaving(string address)
    {
        if (_detector.Leaving(address) is not { } node) return;
        _log.Info("ha-manager: {0} is leaving the cluster; its partitions stop with it and are not failed over", node);
        // Known to the next HA manager too: this one moves when its own node leaves.
        PersistFenced(new NodeLeftGracefully(node, address, DateTimeOffset.UtcNow), Applied);
    }

    /// <summary>S17: records the requirement, chooses hot or cold standby for it, and answers with the choice.</summary>
    private void Require(SetAvailabilityRequirement requirement, IActorRef replyTo)
    {
        if (_registry.Check(requirement) is { } refusal)
        {
            replyTo.Tell(new HaRefused(requirement.Lpar, refusal));
            return;
        }
        if (_lastList is not { } list || list.Lpars.FirstOrDefault(l => l.Definition.Name == requirement.Lpar) is not { } summary)
        {
            replyTo.Tell(new HaRefused(requirement.Lpar, $"no partition named '{requirement.Lpar}'"));
            return;
        }
        var choice = _standby.Choose(requirement, summary.Definition, list, _registry, DateTimeOffset.UtcNow);
        _waiting = (replyTo, requirement.Lpar);
        PersistAllFenced(new IViosMessage[] { requirement, choice }, e =>
        {
            Applied(e);
            if (e is not StandbyChosen chosen) return;
            _log.Info("ha-manager: {0}: {1}", chosen.Lpar, chosen.Reason);
            replyTo.Tell(chosen);
            if (_lastList is { } latest) EnsurePairs(latest);
        });
    }

    private HaStatus Status() => new(_registry.Records.ToList(), _registry.PendingRestarts.ToList())
    {
        Estimates = _standby.Estimate(),
        SilentNodes = _detector.SilentNodes,
        Window = _settings.Policy.FailureWindow,
    };

}
