using Akka.Actor;
using Akka.Event;
using Vios.Actors.Checkpoint;

namespace Vios.Actors.Partitions;

/// <summary>
/// The partition firmware of one vios node (<c>/user/firmware</c>): advertises the node's resources
/// to the partition manager and hosts the actors of the partitions placed on this node.
/// </summary>
public sealed class PartitionFirmwareActor : ReceiveActor, IWithTimers
{
    public const string Name = "firmware";

    private static readonly TimeSpan UnansweredWarning = TimeSpan.FromSeconds(30);

    private readonly string _node;
    private readonly PartitionSettings _settings;
    // Its own freeze watch: a read answered in the first moment after a freeze, before any tick ran, must not
    // say "running" for a partition that may run elsewhere by now.
    private readonly System.Diagnostics.Stopwatch _monotonic = System.Diagnostics.Stopwatch.StartNew();
    private TimeSpan _lastTick;
    private readonly IActorRef _manager;
    private readonly Dictionary<string, LparState> _states = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _replicas = new(StringComparer.Ordinal);
    // Partitions whose actor threw and was stopped: Failed until an operator (or failover) starts or restores them.
    private readonly Dictionary<string, LparDefinition> _failed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LparDefinition> _hosted = new(StringComparer.Ordinal);
    private int _replicaCount;
    private DateTimeOffset? _unansweredSince;
    private bool _warned;

    public PartitionFirmwareActor(string node, PartitionSettings settings, IActorRef manager)
    {
        _node = node;
        _settings = settings;
        _manager = manager;

        Receive<FirmwareRegistered>(registered =>
        {
            Timers.Cancel("register");
            if (_warned) _log.Info("the partition manager answered; {0} partition(s) placed here", registered.Hosted.Count);
            _unansweredSince = null;
            _warned = false;
            // Only hosts what is listed: a partition left out keeps running. The answer of a manager
            // on an empty or wrong journal lists nothing; the manager stops a copy only by an
            // explicit StopLparCopy, having weighed what this firmware reported it runs.
            foreach (var definition in registered.Hosted) Host(definition);
        });
        Receive<StopLparCopy>(stop =>
        {
            var child = Context.Child(stop.Name);
            if (_replicas.ContainsValue(child) || (child.IsNobody() && !_failed.ContainsKey(stop.Name))) return;
            if (stop.RecordEpoch is { } record && _hosted.TryGetValue(stop.Name, out var hosted) && hosted.OwnerEpoch > record)
            {
                _log.Error("not stopping partition {0}: this copy has owner epoch {1}, newer than the partition manager's record ({2}); "
                    + "the manager that asked is behind ({3})", stop.Name, hosted.OwnerEpoch, record, stop.Reason);
                return;
            }
            _log.Warning("stopping partition {0} at the partition manager's command: {1}", stop.Name, stop.Reason);
            // Forgotten first, so its end is not taken for a failure.
            Forget(stop.Name);
            if (!child.IsNobody()) Context.Stop(child);
        });
        // The cluster downed this node: whatever runs here is failed over elsewhere, so it stops now,
        // not when the ActorSystem terminates a second or more later (the chaos soak saw both copies run).
        Receive<StopAllPartitions>(stop =>
        {
            var partitions = Context.GetChildren().Where(c => !_replicas.ContainsValue(c)).ToList();
            if (partitions.Count > 0)
                _log.Warning("stopping the {0} partition(s) of {1}: {2}; they are failed over elsewhere, nothing more of them is released here",
                    partitions.Count, _node, stop.Reason);
            foreach (var child in partitions)
            {
                Forget(child.Path.Name);
                Context.Stop(child);
            }
            Sender.Tell(new AllPartitionsStopped(partitions.Count));
        });
        // Whichever comes first after a freeze, this tick or a read, finds the gap: every partition holds
        // (quiesced) until its fence is read, and shows so at once; the pause watch's own check may come later.
        Receive<FreezeTick>(_ => ThawIfFrozen("a tick"));
        Receive<GetHostedLpars>(_ =>
        {
            ThawIfFrozen("a read");
            Sender.Tell(new HostedLpars(_node, _states.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new HostedLpar(s.Key, s.Value)).ToList()));
        });
        Receive<PartitionManagerOnline>(_ => Register());
        Receive<RetryRegistration>(_ => Register());
        Receive<HostLpar>(host => Host(host.Definition));
        Receive<UnhostLpar>(unhost =>
        {
            Forget(unhost.Name);
            if (!Context.Child(unhost.Name).IsNobody()) Context.Stop(Context.Child(unhost.Name));
        });
        Receive<LparStateChanged>(changed =>
        {
            _states[changed.Name] = changed.State;
            _manager.Tell(changed);
        });
        Receive<StartReplica>(start =>
        {
            // One replica per partition on this node: a new pairing starts from an empty copy.
            var name = $"replica-{start.Lpar}";
            if (_replicas.Remove(start.Lpar, out var old)) Context.Stop(old);
            var replica = Context.ActorOf(Vios.Actors.Checkpoint.ReplicaActor.Props(start.Lpar, _node, start.PageCount), $"{name}-{++_replicaCount}");
            _replicas[start.Lpar] = replica;
            Context.Watch(replica);
            Sender.Tell(new ReplicaReady(start.Lpar, _node), replica);
        });
        Receive<Terminated>(terminated =>
        {
            foreach (var (lpar, replica) in _replicas.Where(r => r.Value.Equals(terminated.ActorRef)).ToList()) _replicas.Remove(lpar);
            PartitionStopped(terminated.ActorRef);
        });
        Receive<StopReplica>(stop =>
        {
            if (_replicas.Remove(stop.Lpar, out var replica)) Context.Stop(replica);
        });
        Receive<GetReplicaStatus>(get =>
        {
            if (_replicas.TryGetValue(get.Lpar, out var replica)) replica.Forward(get);
            else Sender.Tell(new LparRefused(get.Lpar, $"{_node} holds no replica of '{get.Lpar}'"));
        });
        Receive<PromoteReplica>(promote =>
        {
            var child = Context.Child(promote.Name);
            if (child.IsNobody())
                Sender.Tell(new LparRefused(promote.Name, $"'{promote.Name}' is not hosted by {_node}'s firmware: move it here before promoting its replica"));
            else if (!_replicas.Remove(promote.Name, out var replica))
                Sender.Tell(new LparRefused(promote.Name, $"{_node} holds no replica of '{promote.Name}'"));
            else
            {
                Context.Unwatch(replica);
                replica.Tell(new PromoteInto(child, Sender));
            }
        });
        // Issue 12, point 4: this node takes a partition over while the HA manager moves (the takeover's plan).
        Receive<Availability.TakeOverLpar>(take =>
        {
            var name = take.Definition.Name;
            if (!Context.Child(name).IsNobody())
            {
                Sender.Tell(new LparRefused(name, $"{_node} hosts a copy of '{name}' already; the HA manager decides"));
                return;
            }
            _failed.Remove(name);
            Host(take.Definition);
            var child = Context.Child(name);
            _log.Warning("taking over partition {0} at owner epoch {1} from its {2}", name, take.Definition.OwnerEpoch,
                Operations.PartitionKnown.ImageName(take.Image));
            if (take.Image == Availability.FailoverImage.Replica && _replicas.Remove(name, out var replica))
            {
                Context.Unwatch(replica);
                replica.Tell(new PromoteInto(child, Sender));
            }
            else child.Forward(new RestoreCheckpoint(name, name, take.Image == Availability.FailoverImage.Boot ? 0 : null));
        });
        // S22 experiments: a slower secondary.
        Receive<SlowReplica>(slow =>
        {
            if (_replicas.TryGetValue(slow.Lpar, out var replica)) replica.Forward(slow);
            else Sender.Tell(new LparRefused(slow.Lpar, $"{_node} holds no replica of '{slow.Lpar}'"));
        });
        // One owner per partition: the node's pause watch saw a freeze; every partition (not the replicas) checks its fence.
        Receive<CheckOwnership>(check =>
        {
            foreach (var child in Context.GetChildren().Where(c => !_replicas.ContainsValue(c))) child.Forward(check);
        });
        // A copy that lost its ownership stops: no failure of this node, nothing to tell the manager
        // (the partition runs elsewhere), and hosted afresh if it is ever placed here again.
        Receive<OwnershipLost>(lost => Forget(lost.Lpar));
        Receive<ILparCommand>(command =>
        {
            // A failed partition comes back only when asked to run again: a fresh actor, started or restored.
            if (command is StartLpar or RestoreCheckpoint && _failed.Remove(command.Name, out var failed))
            {
                _log.Info("partition {0} failed earlier; hosting it anew for {1}", command.Name, command.GetType().Name);
                Host(failed);
            }
            var child = Context.Child(command.Name);
            if (child.IsNobody()) Sender.Tell(new LparRefused(command.Name, $"'{command.Name}' is not hosted by {_node}'s firmware"));
            else child.Forward(command);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string node, PartitionSettings settings, IActorRef manager) =>
        Akka.Actor.Props.Create(() => new PartitionFirmwareActor(node, settings, manager));

    /// <summary>
    /// An exception in a partition's actor stops it (the default would restart it: a running partition
    /// silently back to Defined, its guest memory gone). The stop is logged with the exception, and
    /// <see cref="PartitionStopped"/> marks the partition Failed and tells the partition manager.
    /// Replicas are stopped too; their primary sees the replica gone and says so.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart()
    {
        _lastTick = _monotonic.Elapsed;
        Timers.StartPeriodicTimer("freeze-tick", FreezeTick.Instance, _settings.Ownership.PauseTick);
        Register();
    }

    private sealed record FreezeTick
    {
        public static FreezeTick Instance { get; } = new();
    }

    private void Register()
    {
        var now = DateTimeOffset.UtcNow;
        _unansweredSince ??= now;
        if (!_warned && now - _unansweredSince > UnansweredWarning)
        {
            _warned = true;
            _log.Warning("the partition manager has not answered for {0:0} s; is the cluster up, with its oldest vios node reachable?",
                UnansweredWarning.TotalSeconds);
        }
        _manager.Tell(new RegisterFirmware(_settings.Resources, new Dictionary<string, LparState>(_states))
        {
            OwnerEpochs = _hosted.ToDictionary(h => h.Key, h => h.Value.OwnerEpoch, StringComparer.Ordinal),
        });
        // Until the manager answers (it may not exist yet, or be moving), ask again.
        Timers.StartSingleTimer("register", RetryRegistration.Instance, _settings.RegistrationRetry);
    }

    private void Host(LparDefinition definition)
    {
        if (!Context.Child(definition.Name).IsNobody() || _failed.ContainsKey(definition.Name)) return;
        Context.Watch(Context.ActorOf(LparActor.Props(definition, _node, _settings, _manager), definition.Name));
        _hosted[definition.Name] = definition;
        _states.TryAdd(definition.Name, LparState.Defined);
        _log.Debug("hosting partition {0}", definition.Name);
    }

    /// <summary>Not hosted here any more (deleted, moved away): its actor's stop is no failure.</summary>
    /// <summary>
    /// Since the last tick more than the pause threshold went by: this process was frozen. Every
    /// partition is told to hold and check its fence, and is shown quiesced from now on, before it
    /// says so itself (the chaos soak read a partition "running" on a node 30 ms after it resumed,
    /// while its copy elsewhere ran).
    /// </summary>
    private void ThawIfFrozen(string foundBy)
    {
        var frozen = _monotonic.Elapsed - _lastTick;
        _lastTick = _monotonic.Elapsed;
        if (frozen <= _settings.Ownership.PauseThreshold) return;
        _log.Warning("{0} found this process frozen for {1:0.0} s: every partition holds until its ownership fence is checked", foundBy, frozen.TotalSeconds);
        var check = new CheckOwnership($"this process was frozen for {frozen.TotalSeconds:0.0} s") { AfterFreeze = true };
        foreach (var child in Context.GetChildren().Where(c => !_replicas.ContainsValue(c))) child.Tell(check);
        foreach (var (name, state) in _states.ToList())
            if (state == LparState.Running) _states[name] = LparState.Quiesced;
    }

    private void Forget(string lpar)
    {
        _states.Remove(lpar);
        _hosted.Remove(lpar);
        _failed.Remove(lpar);
    }

    /// <summary>A partition actor that stopped while still hosted here failed (its supervisor stopped it on an exception).</summary>
    private void PartitionStopped(IActorRef actor)
    {
        var name = actor.Path.Name;
        if (!_hosted.TryGetValue(name, out var definition) || !Context.Child(name).IsNobody() && !Context.Child(name).Equals(actor)) return;
        _hosted.Remove(name);
        var before = _states.GetValueOrDefault(name);
        _failed[name] = definition;
        _states[name] = LparState.Failed;
        _log.Error("partition {0} failed: its actor threw while {1} (the exception is logged above) and was stopped; "
            + "it stays failed until it is started or restored again", name, before.ToString().ToLowerInvariant());
        _manager.Tell(new LparStateChanged(name, LparState.Failed));
    }

    private sealed record RetryRegistration
    {
        public static RetryRegistration Instance { get; } = new();
    }
}
