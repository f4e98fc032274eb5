using Akka.Actor;
using Akka.Cluster;

namespace Vios.Actors.Operations;

/// <summary>
/// The node-local control view at <c>/user/control-view</c> on every vios node: folds what the
/// singletons publish and this node's own cluster events into a <see cref="ControlPlaneView"/>, and
/// hands the current view to whoever asks (the ops palettes).
/// </summary>
public sealed class ControlViewActor : ReceiveActor
{
    public const string Name = "control-view";

    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly Func<DateTimeOffset> _clock;
    private ControlPlaneView _view = ControlPlaneView.Empty;

    public ControlViewActor(Func<DateTimeOffset> clock)
    {
        _clock = clock;
        Receive<PartitionListPublished>(p => _view = _view.WithPartitions(p.List, p.Publisher, _clock()));
        Receive<HaStatusPublished>(p => _view = _view.WithAvailability(p.Status, p.Publisher, _clock()));
        Receive<ClusterEvent.UnreachableMember>(e => Member(e.Member, MemberCondition.Unreachable));
        Receive<ClusterEvent.ReachableMember>(e => Member(e.Member, MemberCondition.Reachable));
        Receive<ClusterEvent.MemberDowned>(e => Member(e.Member, MemberCondition.Downed));
        Receive<ClusterEvent.MemberRemoved>(e => Member(e.Member, MemberCondition.Removed));
        Receive<ClusterEvent.MemberUp>(e => Member(e.Member, MemberCondition.Reachable));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<GetControlView>(_ => Sender.Tell(_view));
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new ControlViewActor(() => DateTimeOffset.UtcNow));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Member(Member member, MemberCondition condition) => _view = _view.WithMember(member.Address.ToString(), condition, _clock());
}
