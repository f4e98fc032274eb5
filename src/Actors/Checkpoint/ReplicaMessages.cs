using Akka.Actor;
using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Serialization;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// S23: checkpoint partition <paramref name="Name"/> every <paramref name="IntervalMs"/> to a replica
/// on <paramref name="ToNode"/>. The partition manager fills in <paramref name="TargetFirmware"/>, the
/// path of that node's firmware. With <paramref name="Verify"/> each commit carries the primary's
/// memory checksum at the stun and the replica checks its copy against it.
/// </summary>
public sealed record ReplicateCheckpoints(string Name, string ToNode, int IntervalMs, bool Verify, string? TargetFirmware) : ILparCommand;

/// <summary>Primary's coordinator → backup node's firmware: start (or restart) the replica of a partition.</summary>
public sealed record StartReplica(string Lpar, long PageCount, string PrimaryNode) : IViosMessage;

public sealed record ReplicaReady(string Lpar, string Node) : IViosMessage;

/// <summary>Part <paramref name="Part"/> of an epoch's pages (<see cref="ReplicaPayload"/>), at most 1 MiB.</summary>
public sealed record ReplicaPart(string Lpar, long Epoch, int Part, byte[] Payload) : IViosMessage
{
    public bool Equals(ReplicaPart? other) =>
        other is not null && Lpar == other.Lpar && Epoch == other.Epoch && Part == other.Part && Payload.AsSpan().SequenceEqual(other.Payload);

    public override int GetHashCode() => HashCode.Combine(Lpar, Epoch, Part);
}

/// <summary>The epoch's last message: apply its parts, take its vCPU state, acknowledge.</summary>
public sealed record ReplicaCommit(string Lpar, long Epoch, int Parts, byte[] VcpuState, ulong? MemoryChecksum) : IViosMessage
{
    public bool Equals(ReplicaCommit? other) =>
        other is not null && Lpar == other.Lpar && Epoch == other.Epoch && Parts == other.Parts
        && VcpuState.AsSpan().SequenceEqual(other.VcpuState) && MemoryChecksum == other.MemoryChecksum;

    public override int GetHashCode() => HashCode.Combine(Lpar, Epoch, Parts);
}

/// <summary>The backup applied the epoch; S23 feedback: pages that are now diff candidates, pages that no longer are.</summary>
public sealed record ReplicaAck(string Lpar, long Epoch, uint[] Added, uint[] Dropped, bool? Verified) : IViosMessage
{
    public bool Equals(ReplicaAck? other) =>
        other is not null && Lpar == other.Lpar && Epoch == other.Epoch && Added.AsSpan().SequenceEqual(other.Added)
        && Dropped.AsSpan().SequenceEqual(other.Dropped) && Verified == other.Verified;

    public override int GetHashCode() => HashCode.Combine(Lpar, Epoch);
}

/// <summary>The backup could not apply the epoch (parts missing, a malformed part).</summary>
public sealed record ReplicaFailed(string Lpar, long Epoch, string Reason) : IViosMessage;

public sealed record StopReplica(string Lpar) : IViosMessage;

/// <summary>
/// S17 hot standby takeover, through the partition manager once the partition is placed on the
/// replica's node: the replica's memory, as of its last applied epoch, becomes the partition, which
/// runs on. Answered with <see cref="CheckpointRestored"/> or <see cref="LparRefused"/>.
/// </summary>
public sealed record PromoteReplica(string Name) : ILparCommand;

/// <summary>Firmware → its replica actor (local): hand your memory to this partition actor and stop.</summary>
internal sealed record PromoteInto(IActorRef Lpar, IActorRef ReplyTo);

/// <summary>What the backup holds: the last applied epoch and the checksum of its memory copy.</summary>
public sealed record GetReplicaStatus(string Lpar) : IViosMessage;

public sealed record ReplicaStatus(string Lpar, string Node, long AppliedEpoch, ulong MemoryChecksum, long VerifiedEpochs, long Mismatches) : IViosMessage;

/// <summary>
/// To the backup node's firmware, for tests and S22 experiments: make the replica of
/// <paramref name="Lpar"/> a slower secondary, its apply costing <paramref name="PerPage"/> for each
/// page an epoch applies (<see cref="ReplicaSlowdown{TReply}"/>). Zero removes the slowdown. Answered
/// with <see cref="ReplicaSlowed"/>, or <see cref="LparRefused"/> when the node holds no such replica.
/// </summary>
public sealed record SlowReplica(string Lpar, TimeSpan PerPage) : IViosMessage;

/// <summary>The replica's apply now costs <paramref name="PerPage"/> a page (zero: its own speed).</summary>
public sealed record ReplicaSlowed(string Lpar, string Node, TimeSpan PerPage) : IViosMessage;

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(ReplicateCheckpoints))]
[JsonSerializable(typeof(StartReplica))]
[JsonSerializable(typeof(ReplicaReady))]
[JsonSerializable(typeof(ReplicaCommit))]
[JsonSerializable(typeof(ReplicaAck))]
[JsonSerializable(typeof(ReplicaFailed))]
[JsonSerializable(typeof(StopReplica))]
[JsonSerializable(typeof(GetReplicaStatus))]
[JsonSerializable(typeof(ReplicaStatus))]
[JsonSerializable(typeof(PromoteReplica))]
[JsonSerializable(typeof(SlowReplica))]
[JsonSerializable(typeof(ReplicaSlowed))]
public sealed partial class ReplicaJsonContext : JsonSerializerContext;

/// <summary>The layout of a <see cref="ReplicaPart"/>, little-endian: the partition's name (uint16 length, UTF-8), epoch (int64), part (int32), then the payload as it is.</summary>
public static class ReplicaPartLayout
{
    /// <summary>The shortest part: an empty name and payload.</summary>
    public const int MinimumLength = 2 + 8 + 4;
}

/// <summary><see cref="ReplicaPart"/> in binary (<see cref="ReplicaPartLayout"/>).</summary>
public sealed class ReplicaPartCodec : MessageCodec
{
    public override Type MessageType => typeof(ReplicaPart);

    public override void Write(object message, IBufferWriter<byte> output)
    {
        var part = (ReplicaPart)message;
        using var writer = new SpanWriter(ReplicaPartLayout.MinimumLength + (part.Lpar.Length * 3));
        writer.String16(part.Lpar);
        writer.Int64(part.Epoch);
        writer.Int32(part.Part);
        writer.WriteTo(output);
        // The payload goes straight to the output, not through the header's buffer.
        output.Write(part.Payload);
    }

    public override object Read(ReadOnlySpan<byte> input)
    {
        var length = input.Length;
        var reader = new SpanReader(input, "a replica part", reason => new MessageFormatException($"a replica part of {length} bytes: {reason}"));
        return new ReplicaPart(reader.String16("the partition's name"), reader.Int64(), reader.Int32(), reader.Rest().ToArray());
    }
}

public static class ReplicaMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("replica.replicate", ReplicaJsonContext.Default.ReplicateCheckpoints),
        MessageManifest.Json("replica.start", ReplicaJsonContext.Default.StartReplica),
        MessageManifest.Json("replica.ready", ReplicaJsonContext.Default.ReplicaReady),
        new MessageManifest("replica.part", new ReplicaPartCodec()),
        MessageManifest.Json("replica.commit", ReplicaJsonContext.Default.ReplicaCommit),
        MessageManifest.Json("replica.ack", ReplicaJsonContext.Default.ReplicaAck),
        MessageManifest.Json("replica.failed", ReplicaJsonContext.Default.ReplicaFailed),
        MessageManifest.Json("replica.stop", ReplicaJsonContext.Default.StopReplica),
        MessageManifest.Json("replica.get-status", ReplicaJsonContext.Default.GetReplicaStatus),
        MessageManifest.Json("replica.status", ReplicaJsonContext.Default.ReplicaStatus),
        MessageManifest.Json("replica.promote", ReplicaJsonContext.Default.PromoteReplica),
        MessageManifest.Json("replica.slow", ReplicaJsonContext.Default.SlowReplica),
        MessageManifest.Json("replica.slowed", ReplicaJsonContext.Default.ReplicaSlowed),
    ];
}
