namespace Vios.Actors.Cluster;

/// <summary>
/// The identity of a cluster-wide journal: written once, by the first vios node that found the
/// journal empty, and read by every node after. Two vios nodes with different identities use
/// different cluster-wide journals, so a singleton moving between them would recover another
/// state: the younger one refuses to stay (<see cref="ClusterIdentityCheck"/>).
/// </summary>
public sealed record ClusterIdentity(string Id, DateTimeOffset CreatedAt, string CreatedBy) : IViosMessage
{
    public static ClusterIdentity New(string node, DateTimeOffset now) => new(Guid.NewGuid().ToString("N"), now, node);

    /// <summary>For log lines: the id's first 12 hex digits, when and by which node.</summary>
    public string Describe() => $"cluster {Id[..Math.Min(12, Id.Length)]} created {CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z by {CreatedBy}";
}

/// <summary>
/// The state behind the <c>cluster-identity</c> persistent actor: at most one identity, the first
/// written. A load decides to create one only when none was recovered.
/// </summary>
public sealed class ClusterIdentityRecord
{
    public ClusterIdentity? Identity { get; private set; }

    /// <summary>The event to persist for a load by <paramref name="node"/>, or null when the identity is known.</summary>
    public ClusterIdentityCreated? Decide(LoadClusterIdentity load, DateTimeOffset now) =>
        Identity is null ? new ClusterIdentityCreated(ClusterIdentity.New(load.Node, now)) : null;

    /// <summary>The first identity wins; the journal's unique key keeps a second from being written at all.</summary>
    public void Apply(ClusterIdentityCreated created) => Identity ??= created.Identity;
}

/// <summary>A vios member as it announces itself: its cluster identity and where its cluster-wide journal is.</summary>
public sealed record ClusterMemberIdentity(ClusterIdentity Identity, string Journal, string Node, string Address);

public enum ClusterIdentityVerdict
{
    /// <summary>Same identity: one cluster-wide state.</summary>
    Agree,

    /// <summary>The other member is older and has another identity: this node must leave.</summary>
    RefuseThisNode,

    /// <summary>The other member is younger and has another identity: it is refused (and leaves).</summary>
    OtherRefused,
}

/// <summary>
/// Two vios members compare identities; the older member's journal is the cluster's, so of two that
/// disagree the younger leaves. Both sides judge alike from the cluster's age ordering.
/// </summary>
public static class ClusterIdentityCheck
{
    public static ClusterIdentityVerdict Judge(ClusterMemberIdentity own, ClusterMemberIdentity other, bool otherIsOlder) =>
        own.Identity.Id == other.Identity.Id ? ClusterIdentityVerdict.Agree
        : otherIsOlder ? ClusterIdentityVerdict.RefuseThisNode
        : ClusterIdentityVerdict.OtherRefused;

    /// <summary>The one line a refused node prints: both journals and the fix.</summary>
    public static string RefusalLine(ClusterMemberIdentity own, ClusterMemberIdentity older) =>
        $"this node's cluster-wide journal ({own.Journal}, {own.Identity.Describe()}) is not the one vios node {older.Node} "
        + $"uses ({older.Journal}, {older.Identity.Describe()}); a singleton moving between them would lose the cluster's state. "
        + "Give every vios node of one machine the same --shared-data directory, or across machines one PostgreSQL database "
        + "(--db postgres --db-connection ...); this node leaves the cluster";

    /// <summary>What the older node logs about the node it refused.</summary>
    public static string RefusedLine(ClusterMemberIdentity own, ClusterMemberIdentity younger) =>
        $"refused vios node {younger.Node} at {younger.Address}: its cluster-wide journal ({younger.Journal}, {younger.Identity.Describe()}) "
        + $"is not this cluster's ({own.Journal}, {own.Identity.Describe()}); it leaves the cluster";

    /// <summary>What the refused node logs; the full <see cref="RefusalLine"/> is what it prints on the way out.</summary>
    public static string LeavingLine(ClusterMemberIdentity own, ClusterMemberIdentity older) =>
        $"this node's cluster-wide journal ({own.Journal}) is not the one the older vios node {older.Node} uses ({older.Journal}): leaving the cluster";
}
