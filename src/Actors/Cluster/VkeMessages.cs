using System.Text.Json.Serialization;
using Vios.Actors.Protocol;
using Vios.Actors.Serialization;

namespace Vios.Actors.Cluster;

// The system call interface: what a daemon and its node's VKE say to each other (local messages).

/// <summary>A daemon asks its node's VKE to deliver packets for <paramref name="DaemonId"/> to it.</summary>
public sealed record RegisterDaemon(string DaemonId) : IViosMessage;

/// <summary>The daemon is registered; <paramref name="NodeId"/> is its node's id in the wire frame.</summary>
public sealed record DaemonRegistered(string DaemonId, ulong NodeId) : IViosMessage;

public sealed record DaemonRefused(string DaemonId, string Reason) : IViosMessage;

/// <summary>
/// A daemon hands an encoded packet to its VKE. Unicast goes to the header's destination node,
/// a broadcast to every vios node that is up; <paramref name="Destinations"/> sends one packet to
/// several named nodes (the header's destination is then none).
/// </summary>
public sealed record SubmitPacket(byte[] Packet, IReadOnlyList<ulong>? Destinations = null) : IViosMessage;

/// <summary>A send that required no response (or a response) left for these nodes.</summary>
public sealed record PacketSent(ulong MessageId, IReadOnlyList<ulong> Targets) : IViosMessage;

/// <summary>The VKE refused a submitted packet, with the reason (malformed, unknown node, ...).</summary>
public sealed record PacketRefused(ulong MessageId, string Reason) : IViosMessage;

/// <summary>The receiving VKE hands a validated send message to its receiving daemon.</summary>
public sealed record DeliverPacket(ViosFrame Frame) : IViosMessage;

/// <summary>A node, as the protocol names it and as operators read it.</summary>
public sealed record ProtocolNode(ulong NodeId, string Address);

public sealed record NodeResponse(ProtocolNode Node, bool IsError, byte[] Payload);

/// <summary>
/// The one reply for a send message that required responses: every response matched to it, and
/// the nodes that did not answer (gone, or silent until the timeout).
/// </summary>
public sealed record ResponsesCollected(
    ulong MessageId,
    IReadOnlyList<NodeResponse> Responses,
    IReadOnlyList<ProtocolNode> Missing,
    bool TimedOut) : IViosMessage;

/// <summary>What crosses the wire between VKEs: the packet's bytes, exactly as the daemon encoded them.</summary>
public sealed record VkePacket(byte[] Packet) : IViosMessage;

public sealed record GetVkeStats : IViosMessage
{
    public static GetVkeStats Instance { get; } = new();
}

/// <summary>A VKE's counters since its node started.</summary>
public sealed record VkeStats(
    ProtocolNode Node,
    long Sent,
    long Received,
    long Broadcasts,
    long ResponsesMatched,
    long TimedOut,
    long Malformed,
    long UnknownDaemon,
    long Duplicates,
    long Unexpected,
    IReadOnlyList<string> Daemons) : IViosMessage;

public sealed record GetKClusterView : IViosMessage
{
    public static GetKClusterView Instance { get; } = new();
}

/// <summary>The vios nodes the VKE can reach, and which one it is.</summary>
public sealed record KClusterView(ProtocolNode Self, IReadOnlyList<ProtocolNode> Nodes) : IViosMessage
{
    /// <summary>
    /// Finds a node by what an operator types: <c>akka.tcp://vios@host:port</c>, <c>host:port</c>, or
    /// its node id in hex (as <c>vke stats</c> prints it).
    /// </summary>
    public ProtocolNode? Find(string text)
    {
        var wanted = text.Trim();
        var hex = wanted.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? wanted[2..] : wanted;
        var id = ulong.TryParse(hex, System.Globalization.NumberStyles.HexNumber, null, out var parsed) ? parsed : 0;
        return Nodes.FirstOrDefault(n => n.Address == wanted || n.Address.EndsWith($"@{wanted}", StringComparison.Ordinal) || n.NodeId == id && id != 0);
    }
}

[JsonSerializable(typeof(RegisterDaemon))]
[JsonSerializable(typeof(DaemonRegistered))]
[JsonSerializable(typeof(DaemonRefused))]
[JsonSerializable(typeof(SubmitPacket))]
[JsonSerializable(typeof(PacketSent))]
[JsonSerializable(typeof(PacketRefused))]
[JsonSerializable(typeof(ResponsesCollected))]
[JsonSerializable(typeof(GetVkeStats))]
[JsonSerializable(typeof(VkeStats))]
[JsonSerializable(typeof(GetKClusterView))]
[JsonSerializable(typeof(KClusterView))]
public sealed partial class VkeJsonContext : JsonSerializerContext;

public static class VkeMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("vke.register-daemon", VkeJsonContext.Default.RegisterDaemon),
        MessageManifest.Json("vke.daemon-registered", VkeJsonContext.Default.DaemonRegistered),
        MessageManifest.Json("vke.daemon-refused", VkeJsonContext.Default.DaemonRefused),
        MessageManifest.Json("vke.submit-packet", VkeJsonContext.Default.SubmitPacket),
        MessageManifest.Json("vke.packet-sent", VkeJsonContext.Default.PacketSent),
        MessageManifest.Json("vke.packet-refused", VkeJsonContext.Default.PacketRefused),
        MessageManifest.Json("vke.responses-collected", VkeJsonContext.Default.ResponsesCollected),
        MessageManifest.Json("vke.get-stats", VkeJsonContext.Default.GetVkeStats),
        MessageManifest.Json("vke.stats", VkeJsonContext.Default.VkeStats),
        MessageManifest.Json("vke.get-kcluster-view", VkeJsonContext.Default.GetKClusterView),
        MessageManifest.Json("vke.kcluster-view", VkeJsonContext.Default.KClusterView),
        // The packet itself travels as its own bytes: no envelope, no JSON, no copy into another format.
        new MessageManifest("vke.packet", new BytesMessageCodec<VkePacket>(p => p.Packet, bytes => new VkePacket(bytes))),
        new MessageManifest("vke.deliver-packet", new FrameMessageCodec<DeliverPacket>(d => d.Frame, frame => new DeliverPacket(frame))),
    ];
}
