using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using Vios.Actors.Protocol;

namespace Vios.Actors.Cluster;

/// <summary>The VKE's settings, from <c>vios.vke</c> in vios.hocon.</summary>
public sealed record VkeSettings(int MaxPayload, TimeSpan DefaultResponseTimeout, TimeSpan TimeoutResolution)
{
    public static VkeSettings FromConfig(Config config) => new(
        (int)(config.GetByteSize("vios.vke.max-payload") ?? FrameLayout.DefaultMaxPayload),
        config.GetTimeSpan("vios.vke.default-response-timeout", TimeSpan.FromSeconds(5)),
        config.GetTimeSpan("vios.vke.timeout-resolution", TimeSpan.FromMilliseconds(50)));
}

/// <summary>
/// The vSCSI kernel extension of one vios node (S1), at <c>/user/vke</c>. Daemons register with it
/// and submit packets through it; it forwards them over the kcluster interface to the VKEs of other
/// nodes as the packets' bytes, delivers what arrives to the receiving daemons, and matches
/// responses in its response queue. All decisions are <see cref="VkeCore{TDaemon}"/>'s.
/// </summary>
public sealed class VkeActor : ReceiveActor, IWithTimers
{
    public const string Name = "vke";

    private readonly VkeCore<IActorRef> _core;
    private readonly Dictionary<ulong, ICanTell> _peers = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly VkeSettings _settings;

    public VkeActor(VkeSettings settings)
    {
        _settings = settings;
        _core = new VkeCore<IActorRef>(settings.MaxPayload, settings.DefaultResponseTimeout);

        Receive<RegisterDaemon>(register =>
        {
            var reply = _core.Register(register.DaemonId, Sender);
            if (reply is DaemonRegistered) Context.Watch(Sender);
            Sender.Tell(reply);
        });
        Receive<SubmitPacket>(submit => Execute(_core.Submit(submit.Packet, submit.Destinations, Sender)));
        Receive<VkePacket>(packet => Execute(_core.Receive(packet.Packet)));
        Receive<ExpireResponses>(_ => Execute(_core.Expire()));
        Receive<GetVkeStats>(_ => Sender.Tell(_core.Stats()));
        Receive<GetKClusterView>(_ => Sender.Tell(_core.View()));
        Receive<Terminated>(terminated => _core.Unregister(terminated.ActorRef));

        Receive<ClusterEvent.MemberUp>(up => MemberUp(up.Member));
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var member in state.Members.Where(m => m.Status == MemberStatus.Up)) MemberUp(member);
        });
        Receive<ClusterEvent.MemberLeft>(e => MemberGone(e.Member));
        Receive<ClusterEvent.MemberExited>(e => MemberGone(e.Member));
        Receive<ClusterEvent.MemberDowned>(e => MemberGone(e.Member));
        Receive<ClusterEvent.MemberRemoved>(e => MemberGone(e.Member));
        Receive<PeerResolved>(resolved =>
        {
            if (_peers.ContainsKey(resolved.NodeId)) _peers[resolved.NodeId] = resolved.Vke;
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public ITimerScheduler? Timers { get; set; }

    public static Props Props(VkeSettings settings) => Akka.Actor.Props.Create(() => new VkeActor(settings));

    protected override void PreStart()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        _core.SetSelf(cluster.SelfUniqueAddress);
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
        // One sweep for every open send message rather than a scheduled timer per message: a timer
        // per round trip costs more than the round trip's own work at tens of thousands per second.
        Timers!.StartPeriodicTimer("expire", ExpireResponses.Instance, _settings.TimeoutResolution);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void MemberUp(Member member)
    {
        _core.MemberUp(member.UniqueAddress, member.Roles);
        var id = KClusterInterface.NodeIdOf(member.UniqueAddress);
        if (_peers.ContainsKey(id) || !_core.KCluster.TryGet(id, out _)) return;
        if (id == _core.SelfNodeId)
        {
            _peers[id] = Self;
            return;
        }
        // Until the peer's VKE reference is resolved, send through its selection; then directly.
        var selection = Context.ActorSelection(new RootActorPath(member.Address) / "user" / Name);
        _peers[id] = selection;
        selection.ResolveOne(TimeSpan.FromSeconds(10)).PipeTo(Self, success: vke => new PeerResolved(id, vke), failure: _ => new PeerResolved(id, selection));
    }

    private void MemberGone(Member member)
    {
        _peers.Remove(KClusterInterface.NodeIdOf(member.UniqueAddress));
        Execute(_core.MemberGone(member.UniqueAddress));
    }

    private void Execute(IReadOnlyList<VkeAction<IActorRef>> actions)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case VkeAction<IActorRef>.Forward forward:
                    foreach (var node in forward.Nodes)
                    {
                        if (node == _core.SelfNodeId) Execute(_core.Receive(forward.Packet));
                        else if (_peers.TryGetValue(node, out var peer)) peer.Tell(new VkePacket(forward.Packet), Self);
                    }
                    break;
                case VkeAction<IActorRef>.Deliver deliver:
                    deliver.Daemon.Tell(new DeliverPacket(deliver.Frame), Self);
                    break;
                case VkeAction<IActorRef>.Complete complete:
                    complete.Daemon.Tell(complete.Responses, Self);
                    break;
                case VkeAction<IActorRef>.Reply reply:
                    reply.Daemon.Tell(reply.Message, Self);
                    break;
                case VkeAction<IActorRef>.Drop drop:
                    _log.Warning("VKE dropped a packet: {0}", drop.Reason);
                    break;
                case VkeAction<IActorRef>.Ignore ignore:
                    _log.Debug("VKE ignored a packet: {0}", ignore.Reason);
                    break;
            }
        }
    }

    private sealed record ExpireResponses
    {
        public static ExpireResponses Instance { get; } = new();
    }

    private sealed record PeerResolved(ulong NodeId, ICanTell Vke);
}
