using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using Vios.Actors.Operations;

namespace Vios.Actors.Partitions;

/// <summary>
/// The cluster's partition manager: a persistent cluster singleton (persistence id
/// <c>partition-manager</c>, in the control plane's cluster-wide journal every vios node shares) that holds every
/// partition's definition and placement. Reached through the proxy at
/// <c>/user/partition-manager-proxy</c> on every vios node. Commands for one partition go on to the
/// firmware of the node it is placed on.
/// </summary>
public sealed class PartitionManagerActor : FencedPersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "partition-manager";
    /// <summary>A snapshot every this many events keeps recovery short.</summary>
    private const int SnapshotEvery = 100;

    /// <summary>Timer key of the periodic publication of the partition list to every node's control view.</summary>
    private const string PublishTimer = "publish-view";

    private readonly PartitionRegistry _registry = new();
    private readonly Dictionary<IActorRef, string> _firmware = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ControlViewSettings _viewSettings = ControlViewSettings.FromConfig(Context.System.Settings.Config);

    /// <summary>Who waits for the event being persisted, told why if the journal fails it.</summary>
    private (IActorRef ReplyTo, string Name)? _persisting;

    public PartitionManagerActor(OwnerClaim? claim = null) : base(claim)
    {
        JournalPluginId = PersistencePlugins.ControlJournal;
        SnapshotPluginId = PersistencePlugins.ControlSnapshots;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is PartitionManagerSnapshot snapshot) _registry.Apply(snapshot);
        });
        Recover<LparDefined>(_registry.Apply);
        Recover<LparRemoved>(_registry.Apply);
        Recover<LparMoved>(_registry.Apply);
        Recover<LparIntent>(_registry.Apply);

        Command<RegisterFirmware>(register =>
        {
            var decisions = _registry.Register(register.Resources, register.States);
            // A node started again (a new address) replaces its earlier incarnation once that one is no
            // longer a live member: this manager may never hear it end (it left while another manager
            // ran). One still Up is kept: an old incarnation that runs again after a freeze and
            // registers before it learns it was downed must not displace the live one.
            foreach (var earlier in _firmware.Where(f => f.Value == register.Resources.Node && !f.Key.Equals(Sender) && !IsLiveMember(f.Key))
                         .Select(f => f.Key).ToList())
            {
                _firmware.Remove(earlier);
                Context.Unwatch(earlier);
                _log.Info("partition firmware of {0} registered again from {1}; the one at {2} is replaced", register.Resources.Node, Sender.Path.Address, earlier.Path.Address);
            }
            if (_firmware.TryAdd(Sender, register.Resources.Node)) Context.Watch(Sender);
            Sender.Tell(new FirmwareRegistered(_registry.PlacedOn(register.Resources.Node).ToList()));
            Resolve(decisions);
            // Adopted as an announced takeover would be (persisted through the same handler); nobody waits for the answer.
            foreach (var taken in _registry.UnannouncedTakeovers(register.Resources.Node, register.States, register.OwnerEpochs))
            {
                _log.Warning("partition {0}: {1}; the record follows it", taken.Name, taken.Reason);
                Self.Tell(taken, ActorRefs.Nobody);
            }
            PublishView();
        });
        Command<Terminated>(terminated =>
        {
            if (!_firmware.Remove(terminated.ActorRef, out var node)) return;
            if (_firmware.ContainsValue(node)) return;
            _registry.Unregister(node);
            _log.Info("partition firmware of {0} is gone; nothing new is placed there", node);
            PublishView();
        });
        Command<LparStateChanged>(changed =>
        {
            // From a firmware that has not registered (yet), the state is taken as its placed node's.
            if (_firmware.TryGetValue(Sender, out var node))
            {
                Resolve(_registry.Report(node, changed.Name, changed.State, changed.OwnerEpoch));
                foreach (var taken in _registry.UnannouncedTakeovers(node, new Dictionary<string, LparState> { [changed.Name] = changed.State },
                             new Dictionary<string, long> { [changed.Name] = changed.OwnerEpoch }))
                    Self.Tell(taken, ActorRefs.Nobody);
            }
            else _registry.Report(changed.Name, changed.State, changed.OwnerEpoch);
            PublishView();
        });
        Command<FenceNode>(fence =>
        {
            // Only the firmware at the fenced address: a node of that name that registered again
            // from a new address (a restart) is a new incarnation and stays.
            var fenced = _firmware.Where(f => f.Value == fence.Node && f.Key.Path.Address.ToString() == fence.Address).Select(f => f.Key).ToList();
            foreach (var firmware in fenced)
            {
                _firmware.Remove(firmware);
                Context.Unwatch(firmware);
            }
            if (fenced.Count > 0 && !_firmware.ContainsValue(fence.Node))
            {
                _registry.Unregister(fence.Node);
                _log.Warning("vios node {0} was fenced; nothing is placed there and its partitions may move", fence.Node);
            }
            Sender.Tell(new NodeFenced(fence.Node, fenced.Count > 0));
            PublishView();
        });

        Command<CreateLpar>(create =>
        {
            var (defined, refusal) = _registry.Decide(create, DateTimeOffset.UtcNow);
            if (defined is null)
            {
                Sender.Tell(refusal!);
                return;
            }
            var replyTo = Sender;
            _persisting = (replyTo, create.Name);
            PersistFenced(defined, e =>
            {
                _persisting = null;
                _registry.Apply(e);
                FirmwareOf(e.Definition.Node)?.Tell(new HostLpar(e.Definition));
                replyTo.Tell(new LparCreated(e.Definition));
                PublishView();
                MaybeSnapshot();
            });
        });
        // The move's epoch is above the partition's fence as well as its record: read the fence first.
        Command<MoveLpar>(move =>
        {
            var replyTo = Sender;
            ReadFence(move.Name).PipeTo(Self, success: fence => new MoveAtFence(move, replyTo, fence));
        });
        Command<MoveAtFence>(atFence =>
        {
            var (move, replyTo, fence) = atFence;
            var (moved, refusal) = _registry.Decide(move, fence);
            if (moved is null)
            {
                replyTo.Tell(refusal!);
                return;
            }
            _persisting = (replyTo, move.Name);
            PersistFenced(moved, e =>
            {
                _persisting = null;
                _registry.Apply(e);
                _log.Info("partition {0} moved from {1} to {2}: {3}", e.Definition.Name, e.FromNode, e.Definition.Node, e.Reason);
                FirmwareOf(e.FromNode)?.Tell(new UnhostLpar(e.Definition.Name));
                FirmwareOf(e.Definition.Node)?.Tell(new HostLpar(e.Definition));
                replyTo.Tell(e);
                PublishView();
                MaybeSnapshot();
            });
        });
        Command<Availability.LparTakenOver>(taken =>
        {
            // A new manager hears from the firmwares one by one: the takeover is announced again until its node has registered.
            if (!_registry.IsOnline(taken.Node)) return;
            var (moved, refusal) = _registry.Decide(taken);
            if (moved is null)
            {
                Sender.Tell(refusal is null ? new Availability.TakeoverAdopted(taken.Name, taken.Node, taken.OwnerEpoch) : new LparRefused(taken.Name, refusal));
                return;
            }
            var replyTo = Sender;
            // With the intent that it runs: a manager that recovers this record while the node is
            // gone must know it was running there (a move alone reads as Defined until the node
            // reports), or the HA manager would never fail it over from that node.
            PersistAllFenced(new IViosMessage[] { moved, new LparIntent(taken.Name, true) }, e =>
            {
                _registry.Apply(e);
                MaybeSnapshot();
                if (e is not LparIntent) return;
                // It runs there: the takeover's own report, not the Defined a move starts from.
                Resolve(_registry.Report(taken.Node, taken.Name, LparState.Running, taken.OwnerEpoch));
                _log.Warning("partition {0} was taken over by {1} from {2} at owner epoch {3}", taken.Name, taken.Node, taken.FromNode, taken.OwnerEpoch);
                if (moved.FromNode != taken.Node) FirmwareOf(moved.FromNode)?.Tell(new UnhostLpar(taken.Name));
                replyTo.Tell(new Availability.TakeoverAdopted(taken.Name, taken.Node, taken.OwnerEpoch));
                PublishView();
            });
        });
        Command<DeleteLpar>(delete =>
        {
            var (removed, refusal) = _registry.Decide(delete);
            if (removed is null)
            {
                Sender.Tell(new LparRefused(delete.Name, refusal!));
                return;
            }
            var replyTo = Sender;
            var node = _registry.Find(delete.Name)!.Node;
            _persisting = (replyTo, delete.Name);
            PersistFenced(removed, e =>
            {
                _persisting = null;
                _registry.Apply(e);
                FirmwareOf(node)?.Tell(new UnhostLpar(e.Name));
                replyTo.Tell(new LparDeleted(e.Name));
                PublishView();
                MaybeSnapshot();
            });
        });
        Command<ListLpars>(_ => Sender.Tell(List()));
        Command<PublishViewTick>(_ => PublishView());
        Command<ClusterEvent.MemberUp>(up =>
        {
            if (up.Member.HasRole("vios"))
                ControlViewPublisher.PublishTo(Context.System, up.Member.Address, new PartitionListPublished(List(), ControlViewPublisher.SelfAddress(Context.System)));
        });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        Command<Checkpoint.ReplicateCheckpoints>(replicate =>
        {
            if (_registry.Find(replicate.Name) is not { } definition)
                Sender.Tell(new LparRefused(replicate.Name, $"no partition named '{replicate.Name}'"));
            else if (replicate.ToNode == definition.Node)
                Sender.Tell(new LparRefused(replicate.Name, $"'{replicate.Name}' runs on {replicate.ToNode}: its replica must be on another node"));
            else if (FirmwareOf(replicate.ToNode) is not { } target)
                Sender.Tell(new LparRefused(replicate.Name, $"no vios node '{replicate.ToNode}' is in the cluster"));
            else if ((Unavailable(replicate.Name, definition.Node) ?? Unavailable(replicate.Name, replicate.ToNode)) is { } unavailable)
                // A refusal, as every other reason not to pair: the HA manager pairs again on its next survey.
                Sender.Tell(new LparRefused(replicate.Name, unavailable.Reason));
            else if (FirmwareOf(definition.Node) is not { } firmware)
                Sender.Tell(new LparRefused(replicate.Name, $"'{replicate.Name}' is placed on {definition.Node}, which is not in the cluster"));
            else
                // With its address even when the target firmware is local to the manager: the primary resolves it on its own node.
                firmware.Forward(replicate with { TargetFirmware = target.Path.ToStringWithAddress(Akka.Cluster.Cluster.Get(Context.System).SelfAddress) });
        });
        Command<ILparCommand>(command =>
        {
            if (_registry.Find(command.Name) is null && _registry.Strays.FirstOrDefault(s => s.Name == command.Name) is { } stray)
                Sender.Tell(new LparRefused(command.Name, stray.Reason));
            else if (_registry.Find(command.Name) is not { } definition)
                Sender.Tell(new LparRefused(command.Name, $"no partition named '{command.Name}'"));
            else if (Unavailable(command.Name, definition.Node) is { } unavailable)
                // Never forwarded to a node that cannot answer: whoever asked hears at once what is known.
                Sender.Tell(unavailable);
            else if (FirmwareOf(definition.Node) is not { } firmware)
                Sender.Tell(new LparRefused(command.Name, $"'{command.Name}' is placed on {definition.Node}, which is not in the cluster"));
            else if (IntentOf(command) is { } running)
            {
                // The intent is recorded first: it outlives this manager, the command's outcome is reported by the node.
                var sender = Sender;
                PersistFenced(new LparIntent(command.Name, running), e =>
                {
                    _registry.Apply(e);
                    firmware.Tell(command, sender);
                    PublishView();
                MaybeSnapshot();
                });
            }
            else
                firmware.Forward(command);
        });

        TrimAfterSnapshots(_log);
        Command<FencedSingleton.HandOver>(_ => Context.Stop(Self));
    }

    public override string PersistenceId => PersistenceIdValue;

    private static readonly TimeSpan FenceReadTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Where partition <paramref name="lpar"/>'s fence stands, off this actor's thread (SQLite's
    /// async calls run synchronously); null when it cannot be read in time, logged: the move then
    /// goes one above its record, as before the fence was read.
    /// </summary>
    private Task<long?> ReadFence(string lpar)
    {
        var fence = OwnershipFences.Get(Context.System).Fence;
        var log = _log;
        return Task.Run(() => fence.ReadAsync(OwnerClaim.FenceKeyFor(lpar))).WaitAsync(FenceReadTimeout).ContinueWith(read =>
        {
            if (read.IsCompletedSuccessfully) return read.Result;
            log.Warning("partition manager: the fence of {0} could not be read for its move ({1}); the move's epoch is one above the record's",
                lpar, read.Exception?.GetBaseException().Message ?? "timed out");
            return (long?)null;
        }, TaskScheduler.Default);
    }

    private sealed record MoveAtFence(MoveLpar Move, IActorRef ReplyTo, long? Fence);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(OwnerClaim? claim = null) => Akka.Actor.Props.Create(() => new PartitionManagerActor(claim));

    /// <summary>What the cluster singleton manager runs: the manager behind its fence, under the back-off supervisor (<see cref="FencedSingleton.Props"/>).</summary>
    public static Props SingletonProps(OwnershipSettings ownership) => FencedSingleton.Props(PersistenceIdValue, claim => Props(claim), ownership);

    protected override void OnReplaySuccess()
    {
        base.OnReplaySuccess();
        _log.Info("partition manager recovered {0} partition(s)", _registry.Definitions.Count);
        // A new instance (first start, a move, a restart): every firmware registers again, so the
        // manager learns which nodes are there and how their partitions are.
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        foreach (var member in cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole("vios")))
            Context.ActorSelection(new RootActorPath(member.Address) / "user" / PartitionFirmwareActor.Name).Tell(PartitionManagerOnline.Instance);
        // Issue 12: every node's control view hears the list at least every interval, so it can answer when this manager cannot.
        PublishView();
        Timers.StartPeriodicTimer(PublishTimer, PublishViewTick.Instance, _viewSettings.PublishInterval);
        // A node that comes Up hears the list at once, not up to an interval later: it may be a
        // survivor's takeover node within the second (the chaos soak saw a node killed 0.4 s after
        // its designated node came Up, which had no view yet, and the partitions waited 10 s).
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberUp));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        base.PostStop();
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "partition manager could not recover from the cluster-wide journal: {0}", reason.Message);
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "partition manager could not persist {0}: {1}", Payload(@event).GetType().Name, WhyNotRecorded(cause));
        // The manager stops and its supervisor starts it again, which recovers from the journal; the
        // operator hears now that nothing was changed, rather than a timeout.
        if (_persisting is var (replyTo, name))
            replyTo.Tell(new LparRefused(name, $"the control plane's journal did not record it, nothing was changed: {WhyNotRecorded(cause)}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>
    /// The journal refused the event (it cannot be stored): nothing was applied (the registry applies
    /// an event once recorded); the operator hears why, and the manager keeps running.
    /// </summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "partition manager: the journal rejected {0} (sequence number {1}), nothing was changed: {2}", Payload(@event).GetType().Name, sequenceNr, cause.Message);
        if (_persisting is var (replyTo, name))
            replyTo.Tell(new LparRefused(name, $"the cluster-wide journal rejected it, nothing was changed: {cause.Message}"));
        _persisting = null;
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    private static bool? IntentOf(ILparCommand command) => command switch
    {
        StartLpar or Checkpoint.RestoreCheckpoint or Checkpoint.PromoteReplica => true,
        StopLpar => false,
        _ => null,
    };

    /// <summary>
    /// Carries out what the registry decided about partitions running outside the record's
    /// placement: a disagreement is an error in the log; a copy is stopped only by an explicit
    /// command to its firmware, with the reason.
    /// </summary>
    private void Resolve(IReadOnlyList<ReportedLpar> decisions)
    {
        foreach (var decision in decisions)
        {
            if (decision.Verdict == ReportedLparVerdict.Hosted) continue;
            if (!decision.Stops)
            {
                _log.Error("partition manager and {0} disagree: {1}", decision.Node, decision.Reason);
                continue;
            }
            _log.Error("partition manager stops a copy on {0}: {1}", decision.Node, decision.Reason);
            FirmwareOf(decision.Node)?.Tell(new StopLparCopy(decision.Name, decision.Verdict, decision.Reason) { RecordEpoch = _registry.OwnerEpochOf(decision.Name) });
        }
    }

    /// <summary>Whether <paramref name="actor"/>'s node is a member that is up (a local actor: whether this node is).</summary>
    private bool IsLiveMember(IActorRef actor)
    {
        var address = actor.Path.Address.HasGlobalScope ? actor.Path.Address : _cluster.SelfAddress;
        return _cluster.State.Members.Any(m => m.Address.Equals(address) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining);
    }

    private IActorRef? FirmwareOf(string node) => _firmware.FirstOrDefault(f => f.Value == node).Key;

    private LparList List()
    {
        var self = _cluster.SelfAddress;
        var addresses = _firmware.GroupBy(f => f.Value)
            .ToDictionary(g => g.Key, g => (g.Last().Key.Path.Address.HasGlobalScope ? g.Last().Key.Path.Address : self).ToString());
        return _registry.List() with { NodeAddresses = addresses };
    }

    private void PublishView() => ControlViewPublisher.Publish(Context.System, new PartitionListPublished(List(), ControlViewPublisher.SelfAddress(Context.System)));

    /// <summary>
    /// Why a command for <paramref name="name"/> is not passed to the firmware of <paramref name="node"/>: it
    /// is not registered (fenced, gone), or this node's failure detector finds it unreachable or it is
    /// downed. Null when it can be asked.
    /// </summary>
    private LparNodeUnavailable? Unavailable(string name, string node)
    {
        var state = _registry.StateOf(name);
        if (FirmwareOf(node) is not { } firmware)
            return new LparNodeUnavailable(name, node, state, $"'{name}' is placed on {node}, which is not in the cluster (fenced, downed or gone)");
        var address = firmware.Path.Address;
        if (!address.HasGlobalScope) return null;
        if (_cluster.State.Unreachable.Any(m => m.Address.Equals(address)))
            return new LparNodeUnavailable(name, node, state, $"'{name}' is placed on {node}, which is unreachable from the partition manager");
        var member = _cluster.State.Members.FirstOrDefault(m => m.Address.Equals(address));
        return member is null || member.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed
            ? new LparNodeUnavailable(name, node, state, $"'{name}' is placed on {node}, which is {(member is null ? "no longer a member" : member.Status.ToString().ToLowerInvariant())}")
            : null;
    }

    private sealed record PublishViewTick
    {
        public static PublishViewTick Instance { get; } = new();
    }

    private void MaybeSnapshot()
    {
        if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_registry.Snapshot());
    }
}
