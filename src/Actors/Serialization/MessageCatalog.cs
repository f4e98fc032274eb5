using System.Collections.Frozen;
using System.Text.Json.Serialization.Metadata;

namespace Vios.Actors.Serialization;

/// <summary>One stable manifest string for one message type and the codec that carries it.</summary>
public sealed record MessageManifest(string Manifest, MessageCodec Codec)
{
    public Type MessageType => Codec.MessageType;

    /// <summary>
    /// An earlier version of a type's format: records stored under this manifest are still read, and
    /// nothing is written with it any more (the type's current manifest is used for that).
    /// </summary>
    public bool ReadOnly { get; init; }

    public static MessageManifest Json<T>(string manifest, JsonTypeInfo<T> typeInfo) where T : class, IViosMessage =>
        new(manifest, new JsonMessageCodec<T>(typeInfo));
}

/// <summary>
/// Every serializable type of ours with its manifest. Each subsystem contributes its list
/// (<c>NodeBootLogMessages.Manifests</c>, ...); <see cref="All"/> is the one place they are joined,
/// so adding a subsystem means adding one line here. The manifest, not a CLR type name, is what
/// goes on the wire and into the journal, so renaming a class never breaks stored data.
/// </summary>
public sealed class MessageCatalog
{
    public static MessageCatalog All { get; } = new(
        Cluster.NodeBootLogMessages.Manifests,
        Cluster.VkeMessages.Manifests,
        Cluster.ClusterIdentityMessages.Manifests,
        Partitions.PartitionMessages.Manifests,
        Checkpoint.CheckpointMessages.Manifests,
        Checkpoint.ReplicaMessages.Manifests,
        Availability.HeartbeatMessages.Manifests,
        Availability.AvailabilityMessages.Manifests,
        Availability.TakeoverMessages.Manifests,
        Operations.ControlViewMessages.Manifests,
        Kernel.WparMessages.Manifests);

    private readonly FrozenDictionary<string, MessageManifest> _byManifest;
    private readonly FrozenDictionary<Type, MessageManifest> _byType;

    public MessageCatalog(params IEnumerable<MessageManifest>[] parts)
    {
        var entries = parts.SelectMany(p => p).ToList();
        var duplicateManifest = entries.GroupBy(e => e.Manifest).FirstOrDefault(g => g.Count() > 1);
        if (duplicateManifest is not null)
            throw new ArgumentException($"manifest '{duplicateManifest.Key}' is used by more than one type");
        var duplicateType = entries.Where(e => !e.ReadOnly).GroupBy(e => e.MessageType).FirstOrDefault(g => g.Count() > 1);
        if (duplicateType is not null)
            throw new ArgumentException($"type {duplicateType.Key.Name} is listed under more than one manifest");

        _byManifest = entries.ToFrozenDictionary(e => e.Manifest, StringComparer.Ordinal);
        _byType = entries.Where(e => !e.ReadOnly).ToFrozenDictionary(e => e.MessageType);
    }

    public IEnumerable<MessageManifest> Entries => _byManifest.Values;

    public bool TryGetByType(Type type, out MessageManifest entry) => _byType.TryGetValue(type, out entry!);

    public bool TryGetByManifest(string manifest, out MessageManifest entry) =>
        _byManifest.TryGetValue(manifest, out entry!);
}
