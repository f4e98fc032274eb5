using System.Text.Json.Serialization;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Availability;

/// <summary>
/// What a survivor takes over when the node that hosted the HA manager (and the partition manager)
/// is downed (issue 12, point 4): the singletons start elsewhere only once that node is removed, then
/// recover and hear from every firmware, seconds after the fence. Each survivor decides, from the last
/// HA status and partition list its control view holds, the failover the HA manager would have
/// planned (the same <see cref="HaRegistry.Decide(LparFailed, IReadOnlyCollection{string}, DateTimeOffset)"/>
/// on the same records), and carries out those whose designated node (the replica's for a hot
/// standby, else the consistency or boot failover image node) is itself. A fallback to another node
/// (the designated one is not live) is left to the next HA manager: survivors may disagree on who
/// is live, never on who is designated. A partition with a restart already planned is left to it too.
/// </summary>
public static class TakeoverPlanner
{
    /// <summary>
    /// Why a node must not take anything over on what it saw downed, or null: it is not Up itself (a
    /// node that runs again after a freeze learns in one gossip that it was downed and that others
    /// were, and would take over from a live node partitions the majority has already failed over:
    /// the chaos soak saw two copies this way), or it was frozen less than <paramref name="settle"/>
    /// ago and its control view is from before the freeze.
    /// </summary>
    public static string? StaleView(Akka.Cluster.MemberStatus self, TimeSpan? sinceFreeze, TimeSpan settle) =>
        self != Akka.Cluster.MemberStatus.Up ? $"this node is {self.ToString().ToLowerInvariant()} itself"
        : sinceFreeze is { } since && since < settle ? $"this process was frozen {since.TotalSeconds:0.0} s ago and its view is from before"
        : null;

    /// <summary>
    /// The taken-over copy's owner epoch is the record's plus this: above the epoch a move by the
    /// partition manager gives (the record's plus 1), so a restart that the next HA manager plans on
    /// the record it recovered, before it hears of the takeover, is fenced out instead of sharing the epoch.
    /// </summary>
    public const long EpochJump = 2;

    public static IReadOnlyList<TakeoverPlan> Plan(string self, string downedAddress, ControlPlaneView view, FailoverPolicy policy, DateTimeOffset now)
    {
        if (view.Availability is not { } availability || view.Partitions is not { } partitions) return [];
        // Only when the HA manager ran on the downed node, or on one downed before it (no HA manager has
        // published since: the singletons are still moving); otherwise it fails the partitions over itself.
        if (availability.Publisher != downedAddress && !Gone(view.At(availability.Publisher))) return [];
        var dead = view.NodeAddresses.FirstOrDefault(n => n.Value == downedAddress).Key;
        if (dead is null || dead == self) return [];

        var registry = new HaRegistry(policy);
        registry.Apply(new HaSnapshot(availability.Value.Records.ToList()));
        var live = partitions.Value.Nodes.Select(n => n.Node).Where(n => n != dead && !view.Node(n).Impaired).ToList();
        if (!live.Contains(self)) live.Add(self);
        var pending = availability.Value.Pending.Select(p => p.Lpar).ToHashSet(StringComparer.Ordinal);
        var plans = new List<TakeoverPlan>();
        foreach (var summary in partitions.Value.Lpars)
        {
            var name = summary.Definition.Name;
            if (summary.Definition.Node != dead || summary.State is not (LparState.Running or LparState.Quiesced or LparState.Activating)) continue;
            if (pending.Contains(name) || registry.Find(name) is not { } record) continue;
            if (record.Node != dead)
            {
                // The list has it on the downed node, its record on another: a takeover no HA manager
                // recorded (its survivor died before it could say so). Taken over again only when the
                // record's node is gone too (that is where it was taken from); a live one may run it
                // at an epoch this list does not show. The record follows, as HaRegistry.Follow does,
                // and a failover image node that is the downed node gives way to the other one.
                if (!Gone(view.Node(record.Node))) continue;
                var consistency = record.ConsistencyNode == dead ? record.BootNode : record.ConsistencyNode;
                var boot = record.BootNode == dead ? record.ConsistencyNode : record.BootNode;
                registry.Apply(new AvailabilityDeclared(name, dead, consistency, boot));
                record = registry.Find(name)!;
            }
            // The id the HA manager gives this failure, so that it recognises the takeover as its own restart.
            var failureId = $"{name}@{dead}#{record.Failures.Count(f => f.Completed)}";
            var decision = registry.Decide(new LparFailed(name, dead, failureId, $"{dead} was downed with the HA manager on it"), live, now);
            if (decision.Restart is not { } restart || restart.TargetNode != self) continue;
            var designated = restart.Image switch
            {
                FailoverImage.Replica => record.Standby?.ReplicaNode,
                FailoverImage.Boot => record.BootNode,
                _ => record.ConsistencyNode,
            };
            if (designated != self) continue;
            var definition = summary.Definition with
            {
                Allocation = summary.Definition.Allocation with { Node = self },
                OwnerEpoch = summary.Definition.OwnerEpoch + EpochJump,
            };
            plans.Add(new TakeoverPlan(name, dead, failureId, restart.Image, definition, restart.Reason));
        }
        return plans;
    }

    /// <summary>
    /// A takeover that did not bring the partition up: a promotion the replica refused (it had applied
    /// nothing yet, or is gone) is tried again as a restore of the last committed image into the copy
    /// hosted on the survivor, as the HA manager's restart falls back; anything else is left to the
    /// next HA manager (null).
    /// </summary>
    public static TakeoverPlan? Fallback(TakeoverPlan failed) => failed.Image == FailoverImage.Replica ? failed with { Image = FailoverImage.Consistency } : null;

    private static bool Gone(NodeReach node) => node.Condition is MemberCondition.Downed or MemberCondition.Removed;

    /// <summary>
    /// The last partition list with the taken-over partition running on its new node, for every node's
    /// control view to answer with until a partition manager publishes again; null once one has (the
    /// list is neither the downed node's manager's nor that of one gone before it) or when the view holds no list.
    /// </summary>
    public static LparList? ListWithTakeover(ControlPlaneView view, TakeoverPlan plan)
    {
        if (view.Partitions is not { } partitions || !view.NodeAddresses.TryGetValue(plan.FailedNode, out var downed)
            || (partitions.Publisher != downed && !Gone(view.At(partitions.Publisher)))) return null;
        var lpars = partitions.Value.Lpars
            .Select(l => l.Definition.Name == plan.Lpar ? new LparSummary(plan.Definition, LparState.Running, true) : l)
            .ToList();
        return partitions.Value with { Lpars = lpars };
    }
}

/// <summary>One partition a survivor takes over: <paramref name="Definition"/> is placed on the survivor, under the taken-over epoch.</summary>
public sealed record TakeoverPlan(string Lpar, string FailedNode, string FailureId, FailoverImage Image, LparDefinition Definition, string Reason);

/// <summary>The takeover asks its own node's firmware (local): host <paramref name="Definition"/> and bring it up from <paramref name="Image"/>.</summary>
public sealed record TakeOverLpar(LparDefinition Definition, FailoverImage Image);

/// <summary>
/// To the partition manager: <paramref name="Node"/> runs <paramref name="Name"/> under owner epoch
/// <paramref name="OwnerEpoch"/>, having taken it over from <paramref name="FromNode"/>; the record follows.
/// </summary>
public sealed record LparTakenOver(string Name, string Node, string FromNode, long OwnerEpoch, string Reason) : IViosMessage;

/// <summary>The partition manager's answer: its record places <paramref name="Name"/> on <paramref name="Node"/> at <paramref name="OwnerEpoch"/>.</summary>
public sealed record TakeoverAdopted(string Name, string Node, long OwnerEpoch) : IViosMessage;

/// <summary>
/// To the HA manager: failure <paramref name="FailureId"/> of <paramref name="Lpar"/> on <paramref name="FailedNode"/>
/// was restarted on <paramref name="Node"/> by its takeover, which began at <paramref name="StartedAt"/> (the
/// node's downing, as the survivor saw it) and took <paramref name="Took"/>.
/// </summary>
public sealed record TakeoverCompleted(string Lpar, string FailedNode, string FailureId, string Node, FailoverImage Image, DateTimeOffset StartedAt, TimeSpan Took, string Detail) : IViosMessage;

/// <summary>The HA manager's answer: the failure and its restart are in the partition's history.</summary>
public sealed record TakeoverRecorded(string Lpar, string FailureId) : IViosMessage;

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(LparTakenOver))]
[JsonSerializable(typeof(TakeoverAdopted))]
[JsonSerializable(typeof(TakeoverCompleted))]
[JsonSerializable(typeof(TakeoverRecorded))]
public sealed partial class TakeoverJsonContext : JsonSerializerContext;

public static class TakeoverMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("takeover.taken-over", TakeoverJsonContext.Default.LparTakenOver),
        MessageManifest.Json("takeover.adopted", TakeoverJsonContext.Default.TakeoverAdopted),
        MessageManifest.Json("takeover.completed", TakeoverJsonContext.Default.TakeoverCompleted),
        MessageManifest.Json("takeover.recorded", TakeoverJsonContext.Default.TakeoverRecorded),
    ];
}
