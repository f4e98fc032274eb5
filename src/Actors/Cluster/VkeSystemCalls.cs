using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Vios.Actors.Cluster;

/// <summary>
/// S1's system call interface to a node's VKE. A daemon calls <see cref="Submit"/> on its own thread,
/// as a process calls into a kernel extension: the VKE parses the header and sub-header, opens the
/// response queue entries and forwards the packet's bytes to the other nodes' VKEs before the call
/// returns. Packets arriving from other nodes, membership changes and timeouts come in through the
/// VKE actor (<see cref="VkeActor"/>, the endpoint at <c>/user/vke</c>). Both sides share one
/// <see cref="VkeCore{TDaemon}"/> under a lock, held only for that in-memory work and never across a wait.
/// </summary>
public sealed class VkeSystemCalls : IExtension
{
    private readonly object _gate = new();
    private readonly VkeCore<IActorRef> _core;
    private readonly Dictionary<ulong, ICanTell> _peers = new();
    private readonly ILoggingAdapter _log;

    public VkeSystemCalls(ExtendedActorSystem system)
    {
        Settings = VkeSettings.FromConfig(system.Settings.Config);
        _core = new VkeCore<IActorRef>(Settings.MaxPayload, Settings.DefaultResponseTimeout);
        _core.SetSelf(Akka.Cluster.Cluster.Get(system).SelfUniqueAddress);
        _log = Logging.GetLogger(system, "vke");
        Endpoint = system.ActorOf(VkeActor.Props(this), VkeActor.Name);
    }

    public static VkeSystemCalls Get(ActorSystem system) => system.WithExtension<VkeSystemCalls, VkeSystemCallsProvider>();

    public VkeSettings Settings { get; }

    /// <summary>The VKE actor: other nodes' VKEs send to it, and daemons may use it by message too.</summary>
    public IActorRef Endpoint { get; }

    public ulong SelfNodeId => _core.SelfNodeId;

    public IViosMessage Register(string daemonId, IActorRef daemon)
    {
        lock (_gate) return _core.Register(daemonId, daemon);
    }

    public void Unregister(IActorRef daemon)
    {
        lock (_gate) _core.Unregister(daemon);
    }

    /// <summary>The system call: hand an encoded packet to the VKE. The VKE's answers reach <paramref name="daemon"/> as messages.</summary>
    public void Submit(byte[] packet, IReadOnlyList<ulong>? destinations, IActorRef daemon)
    {
        lock (_gate) Execute(_core.Submit(packet, destinations, daemon));
    }

    public VkeStats Stats()
    {
        lock (_gate) return _core.Stats();
    }

    public KClusterView View()
    {
        lock (_gate) return _core.View();
    }

    internal void Receive(byte[] packet)
    {
        lock (_gate) Execute(_core.Receive(packet));
    }

    internal void Expire()
    {
        lock (_gate) Execute(_core.Expire());
    }

    /// <summary>A member is Up; returns its node id when it is a vios node the VKE must reach.</summary>
    internal ulong? MemberUp(Member member, ICanTell peer)
    {
        var id = KClusterInterface.NodeIdOf(member.UniqueAddress);
        lock (_gate)
        {
            _core.MemberUp(member.UniqueAddress, member.Roles);
            if (!_core.KCluster.TryGet(id, out _) || _peers.ContainsKey(id)) return null;
            _peers[id] = id == _core.SelfNodeId ? Endpoint : peer;
            return id;
        }
    }

    internal void PeerResolved(ulong nodeId, IActorRef vke)
    {
        lock (_gate)
        {
            if (_peers.ContainsKey(nodeId)) _peers[nodeId] = vke;
        }
    }

    internal void MemberGone(UniqueAddress member)
    {
        lock (_gate)
        {
            _peers.Remove(KClusterInterface.NodeIdOf(member));
            Execute(_core.MemberGone(member));
        }
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
                        else if (_peers.TryGetValue(node, out var peer)) peer.Tell(new VkePacket(forward.Packet), Endpoint);
                    }
                    break;
                case VkeAction<IActorRef>.Deliver deliver:
                    deliver.Daemon.Tell(new DeliverPacket(deliver.Frame), Endpoint);
                    break;
                case VkeAction<IActorRef>.Complete complete:
                    complete.Daemon.Tell(complete.Responses, Endpoint);
                    break;
                case VkeAction<IActorRef>.Reply reply:
                    reply.Daemon.Tell(reply.Message, Endpoint);
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
}

public sealed class VkeSystemCallsProvider : ExtensionIdProvider<VkeSystemCalls>
{
    public override VkeSystemCalls CreateExtension(ExtendedActorSystem system) => new(system);
}
