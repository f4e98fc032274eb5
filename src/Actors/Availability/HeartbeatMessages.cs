using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Availability;

/// <summary>
/// S16: one node's heartbeat to one other node's master, sent once per interval in place of a
/// heartbeat per guest. <paramref name="LiveLpars"/> are the node's guests that its master currently
/// holds live, sorted ordinally. <paramref name="Incarnation"/> is the sending master's start time
/// (Unix milliseconds), so a restarted master's <paramref name="Sequence"/> may start over without its
/// heartbeats being taken for stale ones. <paramref name="SilentNodes"/> are the peers the sender holds
/// silent: how the masters agree, without another message, that a node is gone and may be fenced.
/// </summary>
public sealed record AggregatedHeartbeat(string FromNode, long Incarnation, long Sequence, IReadOnlyList<string> LiveLpars)
    : IViosMessage
{
    public IReadOnlyList<string> SilentNodes { get; init; } = [];
}

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
    DateTimeOffset DetectedAt) : IViosMessage
{
    /// <summary>
    /// The reporter has fenced the node (a majority of the masters hold it silent, and it had the
    /// cluster down it): the HA manager takes it as failed at once, without waiting for the down to
    /// reach its own node by gossip.
    /// </summary>
    public bool FencedByReporter { get; init; }
}

/// <summary>
/// To the HA manager: <paramref name="ReportedBy"/>, which reported <paramref name="Node"/> silent, hears its
/// master again (it was slow, not dead, and nobody fenced it): the node is no longer held silent.
/// </summary>
public sealed record NodeHeardAgain(string Node, string ReportedBy, DateTimeOffset At) : IViosMessage;

/// <summary>A guest's agent (the S16 slave program in a running partition) to its own node's master: still alive.</summary>
public sealed record GuestAlive(string Lpar) : IViosMessage;

/// <summary>A partition stopped or left the node on purpose: its master stops watching it.</summary>
public sealed record GuestGone(string Lpar) : IViosMessage;

/// <summary>Asks a node's heartbeat master for its view and counters.</summary>
public sealed record GetHeartbeatStats : IViosMessage
{
    public static GetHeartbeatStats Instance { get; } = new();
}

/// <summary>
/// A master's view: its live guests, the peers it hears and those it holds silent, the nodes it had
/// fenced, and its counters (node-to-node heartbeats sent, in total and in the last interval).
/// </summary>
public sealed record HeartbeatStats(
    string Node,
    IReadOnlyList<string> LiveGuests,
    IReadOnlyList<string> Peers,
    IReadOnlyList<string> SilentPeers,
    IReadOnlyList<string> Fenced,
    HeartbeatCounters Counters,
    TimeSpan Interval) : IViosMessage;

[JsonSerializable(typeof(AggregatedHeartbeat))]
[JsonSerializable(typeof(GuestAlive))]
[JsonSerializable(typeof(GuestGone))]
[JsonSerializable(typeof(GetHeartbeatStats))]
[JsonSerializable(typeof(HeartbeatStats))]
[JsonSerializable(typeof(GuestSilent))]
[JsonSerializable(typeof(NodeSilent))]
[JsonSerializable(typeof(NodeHeardAgain))]
public sealed partial class HeartbeatJsonContext : JsonSerializerContext;

public static class HeartbeatMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("heartbeat.aggregated", HeartbeatJsonContext.Default.AggregatedHeartbeat),
        MessageManifest.Json("heartbeat.guest-alive", HeartbeatJsonContext.Default.GuestAlive),
        MessageManifest.Json("heartbeat.guest-gone", HeartbeatJsonContext.Default.GuestGone),
        MessageManifest.Json("heartbeat.get-stats", HeartbeatJsonContext.Default.GetHeartbeatStats),
        MessageManifest.Json("heartbeat.stats", HeartbeatJsonContext.Default.HeartbeatStats),
        MessageManifest.Json("heartbeat.guest-silent", HeartbeatJsonContext.Default.GuestSilent),
        MessageManifest.Json("heartbeat.node-silent", HeartbeatJsonContext.Default.NodeSilent),
        MessageManifest.Json("heartbeat.node-heard-again", HeartbeatJsonContext.Default.NodeHeardAgain),
    ];
}
