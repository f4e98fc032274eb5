using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Vios.Actors.Protocol;

namespace Vios.Actors.Cluster;

/// <summary>The VKE's settings, from <c>vios.vke</c> in vios.hocon.</summary>
public sealed record VkeSettings(int MaxPayload, TimeSpan DefaultResponseTimeout, TimeSpan TimeoutResolution)
{
    public static VkeSettings FromConfig(Config config) => new(
        (int)(config.GetByteSize("vios.vke.max-payload") ?? FrameLayout.DefaultMaxPayload),
        config.Duration("vios.vke.default-response-timeout", TimeSpan.FromSeconds(5)),
        config.Duration("vios.vke.timeout-resolution", TimeSpan.FromMilliseconds(50)));
}

/// <summary>
/// The endpoint of one vios node's vSCSI kernel extension (S1), at <c>/user/vke</c>: packets from other
/// nodes' VKEs arrive here, as do membership changes (the kcluster interface follows the vios members
/// that are Up) and the periodic sweep for response timeouts. Daemons may also register and submit by
/// message here; the work itself is done by <see cref="VkeSystemCalls"/>, which daemons can call directly.
/// </summary>
public sealed class VkeActor : ReceiveActor, IWithTimers
{
    public const string Name = "vke";

    private readonly VkeSystemCalls _vke;

    public VkeActor(VkeSystemCalls vke)
    {
        _vke = vke;
        Receive<VkePacket>(packet => _vke.Receive(packet.Packet));
        Receive<SubmitPacket>(submit => _vke.Submit(submit.Packet, submit.Destinations, Sender));
        Receive<RegisterDaemon>(register =>
        {
            var reply = _vke.Register(register.DaemonId, Sender);
            if (reply is DaemonRegistered) Context.Watch(Sender);
            Sender.Tell(reply);
        });
        Receive<ExpireResponses>(_ => _vke.Expire());
        Receive<GetVkeStats>(_ => Sender.Tell(_vke.Stats()));
        Receive<GetKClusterView>(_ => Sender.Tell(_vke.View()));
        Receive<Terminated>(terminated => _vke.Unregister(terminated.ActorRef));

        Receive<ClusterEvent.MemberUp>(up => MemberUp(up.Member));
        Receive<ClusterEvent.CurrentClusterState>(state =>
        {
            foreach (var member in state.Members.Where(m => m.Status == MemberStatus.Up)) MemberUp(member);
        });
        Receive<ClusterEvent.MemberLeft>(e => _vke.MemberGone(e.Member.UniqueAddress));
        Receive<ClusterEvent.MemberExited>(e => _vke.MemberGone(e.Member.UniqueAddress));
        Receive<ClusterEvent.MemberDowned>(e => _vke.MemberGone(e.Member.UniqueAddress));
        Receive<ClusterEvent.MemberRemoved>(e => _vke.MemberGone(e.Member.UniqueAddress));
        Receive<PeerResolved>(resolved =>
        {
            if (resolved.Vke is not null) _vke.PeerResolved(resolved.NodeId, resolved.Vke);
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public ITimerScheduler? Timers { get; set; }

    public static Props Props(VkeSystemCalls vke) => Akka.Actor.Props.Create(() => new VkeActor(vke));

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(
            Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));
        // One sweep for every open send message rather than a scheduled timer per message: a timer
        // per round trip costs more than the round trip's own work at tens of thousands per second.
        Timers!.StartPeriodicTimer("expire", ExpireResponses.Instance, _vke.Settings.TimeoutResolution);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void MemberUp(Member member)
    {
        // Until the peer's VKE reference is resolved, packets go through its selection; then directly.
        var selection = Context.ActorSelection(new RootActorPath(member.Address) / "user" / Name);
        if (_vke.MemberUp(member, selection) is not { } id || id == _vke.SelfNodeId) return;
        selection.ResolveOne(TimeSpan.FromSeconds(10)).PipeTo(Self, success: vke => new PeerResolved(id, vke), failure: _ => new PeerResolved(id, null));
    }

    private sealed record ExpireResponses
    {
        public static ExpireResponses Instance { get; } = new();
    }

    private sealed record PeerResolved(ulong NodeId, IActorRef? Vke);
}
