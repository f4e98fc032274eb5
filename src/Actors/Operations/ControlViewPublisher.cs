using Akka.Actor;
using Akka.Cluster;
using Vios.Actors.Availability;

namespace Vios.Actors.Operations;

/// <summary>
/// How a singleton pushes what it holds to every Up vios member's control view: one
/// <see cref="ActorSelection"/> per member, as the partition manager reaches the firmwares on recovery.
/// A member that is gone loses the message; the next publication reaches the ones there are then.
/// </summary>
public static class ControlViewPublisher
{
    public static void Publish(ActorSystem system, object message)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        foreach (var member in cluster.State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole("vios")))
            PublishTo(system, member.Address, message);
    }

    /// <summary>
    /// To one member's control view: a member that just came Up. <see cref="Akka.Cluster.Cluster.State"/> is
    /// updated by an actor of its own and may not list it Up yet when the publisher hears of it.
    /// </summary>
    public static void PublishTo(ActorSystem system, Address member, object message) =>
        system.ActorSelection(new RootActorPath(member) / "user" / ControlViewActor.Name).Tell(message, ActorRefs.NoSender);

    /// <summary>
    /// What a reader of an HA status would see change (records and where they are, failures and their
    /// completion, standby choices, restarts pending, silent nodes): the HA manager publishes when it differs.
    /// </summary>
    public static string Fingerprint(HaStatus status) => string.Join('|',
        status.Records.Select(r => $"{r.Lpar}@{r.Node}:{r.Failures.Count}:{r.Failures.Count(f => f.Completed)}:{r.Standby?.Mode}:{r.Standby?.ReplicaNode}")
            .Concat(status.Pending.Select(p => $"pending {p.FailureId}"))
            .Concat(status.SilentNodes));

    /// <summary>The cluster address the view names as the publisher (a local actor's own address has no host).</summary>
    public static string SelfAddress(ActorSystem system) => Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
}
