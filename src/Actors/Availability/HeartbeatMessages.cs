using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Availability;

/// <summary>
/// S16: one node's heartbeat to one other node's master, sent once per interval in place of a
/// heartbeat per guest. <paramref name="LiveLpars"/> are the node's guests that its master currently
/// holds live, sorted ordinally. <paramref name="Incarnation"/> is the sending master's start time
/// (Unix milliseconds), so a restarted master's <paramref name="Sequence"/> may start over without its
/// heartbeats being taken for stale ones.
/// </summary>
public sealed record AggregatedHeartbeat(string FromNode, long Incarnation, long Sequence, IReadOnlyList<string> LiveLpars) : IViosMessage;

/// <summary>
/// To the HA manager: a guest's agent on <paramref name="Node"/> stopped heartbeating to its master.
/// Sent once; again only after the guest heartbeats and falls silent anew.
/// </summary>
public sealed record GuestSilent(string Node, string Lpar, DateTimeOffset LastHeartbeat, DateTimeOffset DetectedAt) : IViosMessage;

/// <summary>
/// To the HA manager: <paramref name="ReportedBy"/> no longer hears the master of <paramref name="Node"/>.
/// <paramref name="LastLiveLpars"/> are the guests that master last listed live; their state is now unknown.
/// </summary>
public sealed record NodeSilent(
    string Node,
    string ReportedBy,
    long LastSequence,
    IReadOnlyList<string> LastLiveLpars,
    DateTimeOffset LastHeard,
    DateTimeOffset DetectedAt) : IViosMessage;

[JsonSerializable(typeof(AggregatedHeartbeat))]
[JsonSerializable(typeof(GuestSilent))]
[JsonSerializable(typeof(NodeSilent))]
public sealed partial class HeartbeatJsonContext : JsonSerializerContext;

public static class HeartbeatMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("heartbeat.aggregated", HeartbeatJsonContext.Default.AggregatedHeartbeat),
        MessageManifest.Json("heartbeat.guest-silent", HeartbeatJsonContext.Default.GuestSilent),
        MessageManifest.Json("heartbeat.node-silent", HeartbeatJsonContext.Default.NodeSilent),
    ];
}
