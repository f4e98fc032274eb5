using System.Collections.Immutable;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;

namespace Vios.Actors.Operations;

/// <summary>How a cluster member is, as this node sees it.</summary>
public enum MemberCondition
{
    /// <summary>Up (or joining, leaving) and reachable.</summary>
    Reachable,

    /// <summary>The failure detector lost it; it may come back.</summary>
    Unreachable,

    /// <summary>Downed: by the split-brain resolver or a heartbeat master's fencing; it never comes back.</summary>
    Downed,

    /// <summary>No longer a member.</summary>
    Removed,
}

/// <summary>A member's condition and when this node saw it begin; <paramref name="UnreachableSince"/> stays set once it was lost.</summary>
public sealed record MemberReach(string Address, MemberCondition Condition, DateTimeOffset Since, DateTimeOffset? UnreachableSince);

/// <summary>What was last received from a publisher (the partition manager, the HA manager), from where and when.</summary>
public sealed record Received<T>(T Value, string Publisher, DateTimeOffset At) where T : class;

/// <summary>
/// A vios node as this node sees it: its address if known, its member condition, and whether the S16
/// heartbeat masters hold it silent (the HA manager's last status says so). Anything but reachable and
/// not silent is impaired: nothing asked of it is waited for.
/// </summary>
public sealed record NodeReach(string Node, string? Address, MemberCondition Condition, DateTimeOffset? Since, DateTimeOffset? UnreachableSince, bool HeldSilent)
{
    public bool Impaired => Condition != MemberCondition.Reachable || HeldSilent;

    /// <summary>One phrase for the operator: "vios1 unreachable since 18:40:01.234 (2.1 s ago)".</summary>
    public string Describe(DateTimeOffset now)
    {
        var lost = UnreachableSince is { } since ? $"unreachable since {Clock(since)} ({Age(now, since)} ago)" : null;
        var condition = Condition switch
        {
            MemberCondition.Unreachable => lost ?? "unreachable",
            MemberCondition.Downed => $"downed at {Clock(Since!.Value)}{(lost is null ? "" : $", {lost}")}",
            MemberCondition.Removed => $"removed from the cluster at {Clock(Since!.Value)}{(lost is null ? "" : $", {lost}")}",
            _ => "reachable",
        };
        return $"{Node} {condition}{(HeldSilent ? ", held silent by the heartbeat masters" : "")}";
    }

    internal static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);

    internal static string Age(DateTimeOffset now, DateTimeOffset at) =>
        $"{Math.Max(0, (now - at).TotalSeconds).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} s";
}

/// <summary>Where a published list stands: how old, from whom, and whether that publisher is impaired.</summary>
public sealed record SourceAge(string Source, DateTimeOffset AsOf, double AgeSeconds, NodeReach? Publisher)
{
    /// <summary>"the partition manager is moving to another node (vios1 unreachable since ...); as of 1.4 s ago".</summary>
    public string Describe(DateTimeOffset now, string? liveProblem = null)
    {
        var why = Publisher is { Impaired: true } publisher
            ? $"the {Source} is moving to another node ({publisher.Describe(now)})"
            : liveProblem ?? $"the {Source} did not answer in time";
        return $"{why}; as of {AgeSeconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)} s ago";
    }
}

/// <summary>What this node knows of one partition.</summary>
public abstract record PartitionAnswer(string Name);

/// <summary>
/// The partition's definition and the state its node last reported, where it is placed and how
/// that node is, the failover in progress if the HA status lists one, and how old that knowledge is.
/// </summary>
public sealed record PartitionKnown(
    string Name,
    LparDefinition Definition,
    LparState LastKnownState,
    NodeReach Node,
    RestartPlanned? Failover,
    SourceAge List,
    SourceAge? Availability) : PartitionAnswer(Name)
{
    /// <summary>Its node is unreachable, downed, removed or held silent: nothing asked of it is waited for.</summary>
    public bool NodeImpaired => Node.Impaired;

    public string Summary(DateTimeOffset now)
    {
        var state = LastKnownState.ToString().ToLowerInvariant();
        var failover = Failover is { } f
            ? $"; failover in progress: to {f.TargetNode} from its {ImageName(f.Image)}, planned at {NodeReach.Clock(f.At)}"
            : "";
        return $"{Name} on {Node.Node}: {state} (last known); {Node.Describe(now)}{failover}";
    }

    public static string ImageName(FailoverImage image) => image switch
    {
        FailoverImage.Boot => "boot image",
        FailoverImage.Replica => "hot replica",
        _ => "consistency image",
    };
}

/// <summary>Nothing is known of the partition here; <paramref name="Reason"/> says why, for the operator.</summary>
public sealed record PartitionUnknown(string Name, string Reason) : PartitionAnswer(Name);

/// <summary>
/// The node-local read model of the control plane: the last partition list the partition manager
/// published, the last status the HA manager published, each with when it arrived and from where,
/// and every member's reachability from this node's own cluster events. It answers reads when the
/// live sources cannot within the budget (issue 12: the control plane never goes blind), and says
/// which nodes are impaired so that nothing waits on a dead one. Immutable: each change is a new view.
/// </summary>
public sealed record ControlPlaneView
{
    public const string PartitionManagerSource = "partition manager";
    public const string HaManagerSource = "HA manager";

    public static ControlPlaneView Empty { get; } = new();

    public Received<LparList>? Partitions { get; init; }

    public Received<HaStatus>? Availability { get; init; }

    /// <summary>Members by address, as this node's cluster events said.</summary>
    public ImmutableDictionary<string, MemberReach> Members { get; init; } = ImmutableDictionary<string, MemberReach>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>Node names to addresses, from every list received: a removed node drops out of the lists, not out of here.</summary>
    public ImmutableDictionary<string, string> NodeAddresses { get; init; } = ImmutableDictionary<string, string>.Empty.WithComparers(StringComparer.Ordinal);

    public ControlPlaneView WithPartitions(LparList list, string publisher, DateTimeOffset at) => this with
    {
        Partitions = new Received<LparList>(KeepTakeovers(list), publisher, at),
        NodeAddresses = NodeAddresses.SetItems(list.NodeAddresses),
    };

    /// <summary>
    /// A partition a survivor took over (<see cref="Availability.TakeoverPlanner"/>) runs under a
    /// higher owner epoch than a partition manager lists it at until it adopts the takeover: one that
    /// recovered from before it, or whose announcement never came because the survivor died first.
    /// The view keeps the taken-over entry until a list shows the partition at an epoch at least as
    /// high (adopted, or failed over since), so that survivors see where it really ran and can take
    /// over a takeover (the PostgreSQL soak lost 13 s when a new manager's list overwrote it). A list
    /// without the partition drops it.
    /// </summary>
    private LparList KeepTakeovers(LparList incoming)
    {
        if (Partitions is not { } previous) return incoming;
        var ahead = previous.Value.Lpars.ToDictionary(l => l.Definition.Name, StringComparer.Ordinal);
        var kept = false;
        var lpars = incoming.Lpars.Select(l =>
        {
            if (!ahead.TryGetValue(l.Definition.Name, out var before) || before.Definition.OwnerEpoch <= l.Definition.OwnerEpoch) return l;
            kept = true;
            return before;
        }).ToList();
        return kept ? incoming with { Lpars = lpars } : incoming;
    }

    public ControlPlaneView WithAvailability(HaStatus status, string publisher, DateTimeOffset at) =>
        this with { Availability = new Received<HaStatus>(status, publisher, at) };

    /// <summary>
    /// A member event: reachable again, unreachable (the first time it was lost is kept), downed or
    /// removed (final for that address: a restarted node has a new address, or comes back Up).
    /// </summary>
    public ControlPlaneView WithMember(string address, MemberCondition condition, DateTimeOffset at)
    {
        var before = Members.GetValueOrDefault(address);
        if (before is { Condition: MemberCondition.Removed } && condition != MemberCondition.Reachable) return this;
        if (before is { Condition: MemberCondition.Downed } && condition == MemberCondition.Unreachable) return this;
        if (before?.Condition == condition) return this;
        var unreachableSince = condition switch
        {
            MemberCondition.Reachable => null,
            MemberCondition.Unreachable => before?.UnreachableSince ?? at,
            _ => before?.UnreachableSince,
        };
        return this with { Members = Members.SetItem(address, new MemberReach(address, condition, at, unreachableSince)) };
    }

    /// <summary>A vios node by name as this node sees it. A node whose address is not known yet counts as reachable.</summary>
    public NodeReach Node(string node)
    {
        var address = NodeAddresses.GetValueOrDefault(node);
        return address is null ? new NodeReach(node, null, MemberCondition.Reachable, null, null, false) : At(address, node);
    }

    /// <summary>A member by address; <paramref name="node"/> names it for the operator.</summary>
    public NodeReach At(string address, string? node = null)
    {
        node ??= NodeAddresses.FirstOrDefault(n => n.Value == address).Key ?? address;
        var silent = Availability?.Value.SilentNodes.Contains(address) == true;
        return Members.GetValueOrDefault(address) is { } member
            ? new NodeReach(node, address, member.Condition, member.Since, member.UnreachableSince, silent)
            : new NodeReach(node, address, MemberCondition.Reachable, null, null, silent);
    }

    public SourceAge? PartitionsAge(DateTimeOffset now) => Age(Partitions, PartitionManagerSource, now);

    public SourceAge? AvailabilityAge(DateTimeOffset now) => Age(Availability, HaManagerSource, now);

    /// <summary>What is known of partition <paramref name="name"/>: its last known state and node, that node's condition, the failover in progress.</summary>
    public PartitionAnswer Partition(string name, DateTimeOffset now)
    {
        if (Partitions is not { } partitions)
            return new PartitionUnknown(name, $"this node has not received a partition list from the {PartitionManagerSource} yet");
        if (partitions.Value.Lpars.FirstOrDefault(l => l.Definition.Name == name) is not { } summary)
            return new PartitionUnknown(name,
                $"no partition named '{name}' in the partition list of {NodeReach.Clock(partitions.At)} ({NodeReach.Age(now, partitions.At)} ago)");
        var failover = Availability?.Value.Pending.FirstOrDefault(p => p.Lpar == name);
        return new PartitionKnown(name, summary.Definition, summary.State, Node(summary.Definition.Node), failover,
            PartitionsAge(now)!, AvailabilityAge(now));
    }

    private SourceAge? Age<T>(Received<T>? received, string source, DateTimeOffset now) where T : class =>
        received is null ? null : new SourceAge(source, received.At, Math.Max(0, (now - received.At).TotalSeconds), At(received.Publisher));
}
