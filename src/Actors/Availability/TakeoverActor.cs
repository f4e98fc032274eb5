using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Vios.Actors.Checkpoint;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// A vios node's takeover (<c>/user/takeover</c>, issue 12 point 4): when a member is downed, asks
/// the node's control view what it last knew and lets <see cref="TakeoverPlanner"/> say which of the
/// downed node's partitions this node restarts itself, because the HA manager died with that node.
/// Each one goes to the node's firmware (<see cref="TakeOverLpar"/>); once up, the takeover is
/// announced to the partition manager and the HA manager through their proxies (which hold messages
/// until the singletons run again) and announced again until each has answered.
/// </summary>
public sealed class TakeoverActor : ReceiveActor, IWithTimers
{
    public const string Name = "takeover";

    private static readonly TimeSpan ViewTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan AnnounceTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan AnnounceEvery = TimeSpan.FromSeconds(1);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public TakeoverActor(string node, IActorRef controlView, IActorRef firmware, IActorRef partitionManager, IActorRef haManager, AvailabilitySettings settings,
        OwnershipSettings ownership)
    {
        Receive<ClusterEvent.MemberDowned>(downed =>
        {
            var address = downed.Member.Address.ToString();
            controlView.Ask<ControlPlaneView>(GetControlView.Instance, ViewTimeout)
                .PipeTo(Self, success: view => new Downed(address, view), failure: e => new Downed(address, null));
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<Downed>(downed =>
        {
            if (downed.View is null) return;
            if (StaleView(ownership) is { } stale)
            {
                _log.Warning("takeover: {0} was downed, but {1}: nothing is taken over from here, the HA manager fails its partitions over", downed.Address, stale);
                return;
            }
            foreach (var plan in TakeoverPlanner.Plan(node, downed.Address, downed.View, settings.Policy, DateTimeOffset.UtcNow))
            {
                _log.Warning("takeover: {0} was downed with the HA manager on it; {1} takes {2} over: {3}", plan.FailedNode, node, plan.Lpar, plan.Reason);
                var started = DateTimeOffset.UtcNow;
                firmware.Ask<object>(new TakeOverLpar(plan.Definition, plan.Image), settings.RestartDeadline)
                    .PipeTo(Self, success: reply => new Outcome(plan, reply, started), failure: e => new Outcome(plan, e.Message, started));
            }
        });
        Receive<Outcome>(outcome =>
        {
            var plan = outcome.Plan;
            if (outcome.Reply is not CheckpointRestored restored)
            {
                var why = outcome.Reply is LparRefused refused ? refused.Reason : outcome.Reply.ToString();
                if (TakeoverPlanner.Fallback(plan) is { } fallback)
                {
                    // Rather than wait seconds for the next HA manager (the PostgreSQL soak waited 7 s).
                    _log.Warning("takeover: the replica of {0} on {1} could not be promoted ({2}); restoring its last committed image instead", plan.Lpar, node, why);
                    firmware.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, null), settings.RestartDeadline)
                        .PipeTo(Self, success: reply => outcome with { Plan = fallback, Reply = reply }, failure: e => outcome with { Plan = fallback, Reply = e.Message });
                    return;
                }
                // Its copy stays hosted but down: the next HA manager restores into it, under the taken-over epoch.
                _log.Error("takeover: {0} did not come up on {1} ({2}); the next HA manager fails it over", plan.Lpar, node, why);
                return;
            }
            // Restored is running, here, under the raised epoch, whatever its checksum says: the control plane
            // must hear of it (kept quiet, the record stayed on the dead node, whose restarts the fence then
            // stopped one after the other: found by the chaos soak). A mismatch is an error for the operator,
            // as when the HA manager promotes a replica.
            if (restored.Verified == false)
                _log.Error("takeover: {0} runs on {1} with memory checksum {2:x16}, not the one recorded at the stun of epoch {3}",
                    plan.Lpar, node, restored.MemoryChecksum, restored.Epoch);
            var took = DateTimeOffset.UtcNow - outcome.Started;
            // A restore names the partition's own images as its source; a promotion names the replica.
            var detail = restored.Source != plan.Lpar
                ? $"promoted its replica at epoch {restored.Epoch}"
                : plan.Image == FailoverImage.Boot ? "from the boot image" : $"from epoch {restored.Epoch}";
            detail += $", memory checksum {restored.MemoryChecksum:x16}{restored.Verified switch { true => " (equal to the image's)", false => " (NOT the image's)", null => "" }}";
            _log.Warning("takeover: {0} is running on {1} at owner epoch {2}, {3}, {4:0} ms after the takeover began",
                plan.Lpar, node, plan.Definition.OwnerEpoch, detail, took.TotalMilliseconds);
            var announcement = new Announcement(
                new LparTakenOver(plan.Lpar, node, plan.FailedNode, plan.Definition.OwnerEpoch, plan.Reason),
                new TakeoverCompleted(plan.Lpar, plan.FailedNode, plan.FailureId, node, FailoverRestart.ImageUsed(plan.Image, restored, plan.Lpar), outcome.Started, took, detail));
            Self.Tell(new Announce(announcement, ToPartitionManager: true));
            Self.Tell(new Announce(announcement, ToPartitionManager: false));
            // Until a partition manager publishes again, every control view answers with the partition running here.
            controlView.Ask<ControlPlaneView>(GetControlView.Instance, ViewTimeout).PipeTo(Self, success: view => new Publish(plan, view), failure: _ => new Publish(plan, null));
        });
        Receive<Publish>(publish =>
        {
            if (publish.View is not { Partitions: { } last } view || TakeoverPlanner.ListWithTakeover(view, publish.Plan) is not { } list) return;
            ControlViewPublisher.Publish(Context.System, new PartitionListPublished(list, last.Publisher));
        });
        Receive<Announce>(announce =>
        {
            var (target, message, timer) = announce.ToPartitionManager
                ? (partitionManager, (object)announce.What.ToPartitionManager, $"pm-{announce.What.ToPartitionManager.Name}")
                : (haManager, announce.What.ToHaManager, $"ha-{announce.What.ToHaManager.Lpar}");
            target.Ask<object>(message, AnnounceTimeout).PipeTo(Self,
                success: reply => new Answered(announce, reply, timer),
                failure: e => new Answered(announce, null, timer));
        });
        Receive<Answered>(answered =>
        {
            switch (answered.Reply)
            {
                case TakeoverAdopted or TakeoverRecorded:
                    _log.Info("takeover: the {0} has {1}", answered.Announce.ToPartitionManager ? "partition manager" : "HA manager", answered.Reply);
                    return;
                case LparRefused or HaRefused:
                    _log.Error("takeover: the {0} refused {1}: {2}", answered.Announce.ToPartitionManager ? "partition manager" : "HA manager",
                        answered.Announce.What.ToPartitionManager.Name, answered.Reply);
                    return;
                default:
                    // No answer yet: the singletons are still moving.
                    Timers.StartSingleTimer(answered.Timer, answered.Announce, AnnounceEvery);
                    return;
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string node, IActorRef controlView, IActorRef firmware, IActorRef partitionManager, IActorRef haManager, AvailabilitySettings settings,
        OwnershipSettings ownership) =>
        Akka.Actor.Props.Create(() => new TakeoverActor(node, controlView, firmware, partitionManager, haManager, settings, ownership));

    /// <summary>Why this node must not act on who was downed, if it must not (<see cref="TakeoverPlanner.StaleView"/>).</summary>
    private string? StaleView(OwnershipSettings ownership) =>
        TakeoverPlanner.StaleView(_cluster.SelfMember.Status, OwnershipFences.Get(Context.System).SinceLastFreeze, ownership.SettleAfterFreeze);

    protected override void PreStart() => _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.MemberDowned));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private sealed record Downed(string Address, ControlPlaneView? View);

    private sealed record Outcome(TakeoverPlan Plan, object Reply, DateTimeOffset Started);

    private sealed record Publish(TakeoverPlan Plan, ControlPlaneView? View);

    private sealed record Announcement(LparTakenOver ToPartitionManager, TakeoverCompleted ToHaManager);

    private sealed record Announce(Announcement What, bool ToPartitionManager);

    private sealed record Answered(Announce Announce, object? Reply, string Timer);
}
