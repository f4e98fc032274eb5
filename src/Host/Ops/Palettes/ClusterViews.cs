using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Cluster;
using static Akka.Cluster.ClusterEvent;

namespace Vios.Host.Ops.Palettes;

/// <summary>A member as this node sees it; one line of <c>cluster show</c>, as pbm prints it.</summary>
public sealed record MemberView(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable)
{
    public static MemberView From(Member member, bool reachable) =>
        new(member.Address.ToString(), member.Roles.Order(StringComparer.Ordinal).ToList(), StatusName(member.Status), reachable);

    public static string StatusName(MemberStatus status) => status.ToString().ToLowerInvariant();

    public string ToLine() => $"{Address} | [{string.Join(", ", Roles)}] | {Status} |{(Reachable ? "" : " unreachable |")}";
}

public sealed record MembersView(IReadOnlyList<MemberView> Members, int Count)
{
    public static MembersView From(CurrentClusterState state)
    {
        var members = state.Members.Select(m => MemberView.From(m, !state.Unreachable.Contains(m))).ToList();
        return new MembersView(members, members.Count);
    }

    public IEnumerable<string> Lines() => Members.Select(m => m.ToLine()).Append($"Count: {Count} {(Count == 1 ? "node" : "nodes")}");
}

/// <summary>This node: its membership and, on a vios node, which start of it this is.</summary>
public sealed record NodeStatusView(MemberView Member, string Node, string Role, int? Incarnation)
{
    public IEnumerable<string> Lines()
    {
        yield return Member.ToLine();
        yield return $"Node: {Node} ({Role})";
        if (Incarnation is { } incarnation) yield return $"Incarnation: {incarnation}";
    }
}

public sealed record LeaderView(string? Leader);

/// <summary>What a membership command did: <c>join</c>, <c>leave</c> or <c>down</c> of these addresses.</summary>
public sealed record MembershipChangeView(string Action, IReadOnlyList<string> Addresses)
{
    public IEnumerable<string> Lines() =>
        Addresses.Count == 0 ? [$"{Action}: no member to act on"] : Addresses.Select(a => $"{Action}: {a}");
}

/// <summary>One cluster event of <c>cluster tail</c>, stamped with when this node saw it.</summary>
public sealed record ClusterEventView(DateTimeOffset Time, string Event, string? Address, IReadOnlyList<string>? Roles)
{
    /// <summary>The view of a subscribed event (member events are named for the status they bring), or null.</summary>
    public static ClusterEventView? From(IClusterDomainEvent domainEvent, DateTimeOffset time) => domainEvent switch
    {
        IMemberEvent member => Of(time, $"member-{MemberView.StatusName(member.Member.Status)}", member.Member),
        UnreachableMember unreachable => Of(time, "member-unreachable", unreachable.Member),
        ReachableMember reachable => Of(time, "member-reachable", reachable.Member),
        LeaderChanged leader => new ClusterEventView(time, "leader-changed", leader.Leader?.ToString(), null),
        _ => null,
    };

    public string ToLine() =>
        $"{Time.UtcDateTime:HH:mm:ss}Z {Event} | {Address ?? "none"} |{(Roles is null ? "" : $" [{string.Join(", ", Roles)}] |")}";

    private static ClusterEventView Of(DateTimeOffset time, string name, Member member) =>
        new(time, name, member.Address.ToString(), member.Roles.Order(StringComparer.Ordinal).ToList());
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(MembersView))]
[JsonSerializable(typeof(NodeStatusView))]
[JsonSerializable(typeof(LeaderView))]
[JsonSerializable(typeof(MembershipChangeView))]
[JsonSerializable(typeof(ClusterEventView))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
