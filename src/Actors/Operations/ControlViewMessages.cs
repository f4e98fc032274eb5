using System.Text.Json.Serialization;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Operations;

/// <summary>
/// The partition manager's list, pushed to every vios node's <c>/user/control-view</c> when it changes
/// and at least every publish interval. <paramref name="Publisher"/> is the manager's cluster address.
/// </summary>
public sealed record PartitionListPublished(LparList List, string Publisher) : IViosMessage;

/// <summary>The HA manager's status, pushed the same way; <paramref name="Publisher"/> is its cluster address.</summary>
public sealed record HaStatusPublished(HaStatus Status, string Publisher) : IViosMessage;

/// <summary>Asks the node's own control view for what it holds now; answered with a <see cref="ControlPlaneView"/>. Local only.</summary>
public sealed record GetControlView
{
    public static GetControlView Instance { get; } = new();
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(PartitionListPublished))]
[JsonSerializable(typeof(HaStatusPublished))]
public sealed partial class ControlViewJsonContext : JsonSerializerContext;

public static class ControlViewMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("view.partitions", ControlViewJsonContext.Default.PartitionListPublished),
        MessageManifest.Json("view.ha-status", ControlViewJsonContext.Default.HaStatusPublished),
    ];
}
