using System.Threading.Channels;
using Akka.Actor;
using Akka.Cluster;
using static Akka.Cluster.ClusterEvent;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// Subscribes to this node's cluster events for one <c>cluster tail</c> and forwards them to the
/// connection's channel: first the <see cref="CurrentClusterState"/> snapshot, then each
/// <see cref="IClusterDomainEvent"/>. A client that does not keep up ends its tail instead of
/// growing the node's memory.
/// </summary>
public sealed class ClusterTailActor : ReceiveActor
{
    private readonly ChannelWriter<object> _events;

    public ClusterTailActor(ChannelWriter<object> events)
    {
        _events = events;
        Receive<CurrentClusterState>(Forward);
        Receive<IClusterDomainEvent>(Forward);
    }

    public static Props Props(ChannelWriter<object> events) => Akka.Actor.Props.Create(() => new ClusterTailActor(events));

    protected override void PreStart() =>
        Cluster.Get(Context.System).Subscribe(Self, SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(IMemberEvent), typeof(IReachabilityEvent), typeof(LeaderChanged));

    protected override void PostStop()
    {
        Cluster.Get(Context.System).Unsubscribe(Self);
        _events.TryComplete();
    }

    private void Forward(object clusterEvent)
    {
        if (_events.TryWrite(clusterEvent)) return;
        _events.TryComplete(new ClusterTailOverflow());
        Context.Stop(Self);
    }
}

/// <summary>The client of a tail read its events more slowly than the cluster produced them.</summary>
public sealed class ClusterTailOverflow() : Exception("the tail fell behind the cluster's events and was stopped");
