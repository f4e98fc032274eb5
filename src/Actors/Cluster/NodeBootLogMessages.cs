using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Cluster;

/// <summary>Asks the boot log to remember that this node has just started at <paramref name="Address"/>.</summary>
public sealed record RecordBoot(string Address, DateTimeOffset StartedAt) : IViosMessage;

/// <summary>The boot was persisted; this start is incarnation <paramref name="Incarnation"/>.</summary>
public sealed record BootRecorded(int Incarnation) : IViosMessage;

/// <summary>Event: the node started. Persisted under <c>node-&lt;name&gt;</c>.</summary>
public sealed record NodeBooted(int Incarnation, string Address, DateTimeOffset StartedAt) : IViosMessage;

public sealed record GetBootHistory : IViosMessage
{
    public static GetBootHistory Instance { get; } = new();
}

[JsonSerializable(typeof(RecordBoot))]
[JsonSerializable(typeof(BootRecorded))]
[JsonSerializable(typeof(NodeBooted))]
[JsonSerializable(typeof(GetBootHistory))]
[JsonSerializable(typeof(NodeBootHistory))]
internal sealed partial class NodeBootLogJsonContext : JsonSerializerContext;

public static class NodeBootLogMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("node.record-boot", NodeBootLogJsonContext.Default.RecordBoot),
        MessageManifest.Json("node.boot-recorded", NodeBootLogJsonContext.Default.BootRecorded),
        MessageManifest.Json("node.booted", NodeBootLogJsonContext.Default.NodeBooted),
        MessageManifest.Json("node.get-boot-history", NodeBootLogJsonContext.Default.GetBootHistory),
        MessageManifest.Json("node.boot-history", NodeBootLogJsonContext.Default.NodeBootHistory),
    ];
}
