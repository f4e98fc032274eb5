using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Vios.Actors.Availability;

/// <summary>
/// S16: the master cluster program of one vios node (<c>/user/heartbeat</c>), a thin shell over
/// <see cref="HeartbeatMaster"/>. The agents of the node's running partitions heartbeat to it
/// (<see cref="GuestAlive"/>); once per interval it sends one <see cref="AggregatedHeartbeat"/> to the
/// master of every other vios node and reports guests and nodes that fell silent to the HA manager.
/// A node that a majority of the masters hold silent is fenced (downed) by the first of them, so its
/// partitions may restart elsewhere without waiting for the cluster's own failure detector.
/// Peers are known by their cluster address.
/// </summary>
public sealed class HeartbeatActor : ReceiveActor, IWithTimers
{
    public const string Name = "heartbeat";

    private readonly HeartbeatMaster _master;
    private readonly AvailabilitySettings _settings;
    private readonly IActorRef _haManager;
    private readonly Akka.Cluster.Cluster _cluster;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<string> _fenced = [];
    // Silent nodes reported to the HA manager, repeated every interval for a while: a report sent to
    // an HA manager that died with the silent node reaches its successor through the proxy's buffer.
    private readonly Dictionary<string, (NodeSilent Report, DateTimeOffset Until)> _reported = new(StringComparer.Ordinal);
    private static readonly TimeSpan RepeatReportsFor = TimeSpan.FromSeconds(30);

    public HeartbeatActor(AvailabilitySettings settings, IActorRef haManager)
    {
        _settings = settings;
        _haManager = haManager;
        _cluster = Akka.Cluster.Cluster.Get(Context.System);
        _master = new HeartbeatMaster(_cluster.SelfAddress.ToString(), [], settings.Heartbeat, DateTimeOffset.UtcNow);

        Receive<GuestAlive>(alive => _master.GuestHeartbeat(alive.Lpar, DateTimeOffset.UtcNow));
        Receive<GuestGone>(gone => _master.ForgetGuest(gone.Lpar));
        Receive<AggregatedHeartbeat>(heartbeat =>
        {
            // From a node this master does not know yet (joining) it is dropped: it is heard next interval.
            _master.Receive(heartbeat, DateTimeOffset.UtcNow);
        });
        Receive<Tick>(_ => Round());
        Receive<ClusterEvent.MemberUp>(up =>
        {
            _reported.Remove(up.Member.Address.ToString());
            AddPeer(up.Member);
        });
        // The reports about a removed node go on for their while: the HA manager that died with it has a
        // successor only once it is removed, and hears of the fence from them.
        Receive<ClusterEvent.MemberRemoved>(removed => _master.RemovePeer(removed.Member.Address.ToString()));
        Receive<ClusterEvent.MemberDowned>(downed => _master.PeerDowned(downed.Member.Address.ToString()));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<GetHeartbeatStats>(_ => Sender.Tell(new HeartbeatStats(
            _master.Node, _master.LiveGuests, _master.Peers.ToList(), _master.SilentPeers, _fenced.ToList(), _master.Counters, settings.Heartbeat.Interval)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(AvailabilitySettings settings, IActorRef haManager) =>
        Akka.Actor.Props.Create(() => new HeartbeatActor(settings, haManager));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved), typeof(ClusterEvent.MemberDowned));
        Timers.StartPeriodicTimer("tick", Tick.Instance, _settings.Heartbeat.Interval);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void AddPeer(Member member)
    {
        if (member.HasRole("vios") && member.Address != _cluster.SelfAddress) _master.AddPeer(member.Address.ToString(), DateTimeOffset.UtcNow);
    }

    private void Round()
    {
        var now = DateTimeOffset.UtcNow;
        var round = _master.Tick(now);
        foreach (var peer in round.To) Context.ActorSelection($"{peer}/user/{Name}").Tell(round.Heartbeat);
        foreach (var silent in round.SilentGuests)
        {
            _log.Warning("heartbeat: partition {0} has not heartbeated since {1:HH:mm:ss.fff}", silent.Lpar, silent.LastHeartbeat);
            _haManager.Tell(silent);
        }
        foreach (var silent in round.SilentNodes)
        {
            // A node that is leaving stops its master on purpose: not a failure to report (the HA manager
            // would take it for a fenced one), and its removal ends the watch.
            if (_cluster.State.Members.FirstOrDefault(m => m.Address.ToString() == silent.Node) is { Status: MemberStatus.Leaving or MemberStatus.Exiting })
            {
                _log.Info("heartbeat: the master of {0} went silent as the node leaves the cluster", silent.Node);
                continue;
            }
            _log.Warning("heartbeat: the master of {0} has been silent since {1:HH:mm:ss.fff} ({2} partition(s) were live there)",
                silent.Node, silent.LastHeard, silent.LastLiveLpars.Count);
            _reported[silent.Node] = (silent, now + RepeatReportsFor);
        }
        foreach (var heard in round.HeardAgain)
        {
            // Slow, not dead (a loaded machine, a short pause): it must not stay held silent.
            _reported.Remove(heard.Node);
            _log.Info("heartbeat: the master of {0} is heard again", heard.Node);
            _haManager.Tell(heard);
        }
        foreach (var (node, (report, until)) in _reported.ToList())
        {
            if (now > until) _reported.Remove(node);
            else _haManager.Tell(report);
        }
        if (_settings.FenceSilentNodes) Fence();
    }

    /// <summary>Downs the silent nodes this master is to fence and the cluster has not downed yet.</summary>
    private void Fence()
    {
        foreach (var node in _master.NodesToFence())
        {
            var member = _cluster.State.Members.FirstOrDefault(m => m.Address.ToString() == node);
            if (member is null || member.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed) continue;
            _log.Warning("heartbeat: fencing {0}: a majority of the vios nodes' masters hold it silent; downing it", node);
            _fenced.Add(node);
            _cluster.Down(member.Address);
            // The HA manager hears it now, not when the down reaches its node by gossip.
            if (_reported.TryGetValue(node, out var reported))
            {
                var fenced = reported.Report with { FencedByReporter = true };
                _reported[node] = (fenced, reported.Until);
                _haManager.Tell(fenced);
            }
        }
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }
}
