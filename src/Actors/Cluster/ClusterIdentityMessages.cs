using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Cluster;

/// <summary>Asks the <c>cluster-identity</c> actor for the identity, creating it (by <paramref name="Node"/>) if the journal has none.</summary>
public sealed record LoadClusterIdentity(string Node) : IViosMessage;

/// <summary>The cluster-wide journal's identity, as recovered or just written.</summary>
public sealed record ClusterIdentityLoaded(ClusterIdentity Identity) : IViosMessage;

/// <summary>Asks the <c>cluster-identity</c> actor what it recovered, creating nothing; answered with <see cref="CurrentClusterIdentity"/>.</summary>
public sealed record GetClusterIdentity : IViosMessage
{
    public static GetClusterIdentity Instance { get; } = new();
}

/// <summary>The identity recovered from the cluster-wide journal; null when it holds none yet.</summary>
public sealed record CurrentClusterIdentity(ClusterIdentity? Identity) : IViosMessage;

/// <summary>Event: the identity was created. The one event under persistence id <c>cluster-identity</c>.</summary>
public sealed record ClusterIdentityCreated(ClusterIdentity Identity) : IViosMessage;

/// <summary>A vios node that joined tells another vios member which cluster-wide journal it uses; answered with <see cref="ClusterIdentityAcknowledged"/>.</summary>
public sealed record AnnounceClusterIdentity(ClusterMemberIdentity From) : IViosMessage;

/// <summary>The answer to <see cref="AnnounceClusterIdentity"/>: the answering member's own identity and journal.</summary>
public sealed record ClusterIdentityAcknowledged(ClusterMemberIdentity From) : IViosMessage;

/// <summary>Asks this node's guard (<c>/user/cluster-identity</c>) which vios members it has checked; answered with <see cref="ClusterIdentityStatus"/>.</summary>
public sealed record GetClusterIdentityStatus : IViosMessage
{
    public static GetClusterIdentityStatus Instance { get; } = new();
}

/// <summary>
/// This node's identity and, by cluster address, the vios members found to share it
/// (<paramref name="Agreed"/>) and those that did not (<paramref name="Disagreed"/>, refused or refusing).
/// </summary>
public sealed record ClusterIdentityStatus(ClusterMemberIdentity Own, IReadOnlyList<string> Agreed, IReadOnlyList<string> Disagreed) : IViosMessage;

[JsonSerializable(typeof(ClusterIdentity))]
[JsonSerializable(typeof(LoadClusterIdentity))]
[JsonSerializable(typeof(ClusterIdentityLoaded))]
[JsonSerializable(typeof(ClusterIdentityCreated))]
[JsonSerializable(typeof(GetClusterIdentity))]
[JsonSerializable(typeof(GetClusterIdentityStatus))]
[JsonSerializable(typeof(ClusterIdentityStatus))]
[JsonSerializable(typeof(CurrentClusterIdentity))]
[JsonSerializable(typeof(AnnounceClusterIdentity))]
[JsonSerializable(typeof(ClusterIdentityAcknowledged))]
internal sealed partial class ClusterIdentityJsonContext : JsonSerializerContext;

public static class ClusterIdentityMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("cluster.identity", ClusterIdentityJsonContext.Default.ClusterIdentity),
        MessageManifest.Json("cluster.load-identity", ClusterIdentityJsonContext.Default.LoadClusterIdentity),
        MessageManifest.Json("cluster.identity-loaded", ClusterIdentityJsonContext.Default.ClusterIdentityLoaded),
        MessageManifest.Json("cluster.identity-created", ClusterIdentityJsonContext.Default.ClusterIdentityCreated),
        MessageManifest.Json("cluster.get-identity", ClusterIdentityJsonContext.Default.GetClusterIdentity),
        MessageManifest.Json("cluster.get-identity-status", ClusterIdentityJsonContext.Default.GetClusterIdentityStatus),
        MessageManifest.Json("cluster.identity-status", ClusterIdentityJsonContext.Default.ClusterIdentityStatus),
        MessageManifest.Json("cluster.current-identity", ClusterIdentityJsonContext.Default.CurrentClusterIdentity),
        MessageManifest.Json("cluster.announce-identity", ClusterIdentityJsonContext.Default.AnnounceClusterIdentity),
        MessageManifest.Json("cluster.identity-acknowledged", ClusterIdentityJsonContext.Default.ClusterIdentityAcknowledged),
    ];
}
