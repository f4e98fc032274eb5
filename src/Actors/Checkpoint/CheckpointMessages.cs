using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// Event: one piece of an epoch's pages, persisted under <c>lpar-&lt;name&gt;</c> before that epoch's
/// <see cref="EpochCommitted"/>. At most <see cref="ImageChunker.PagesPerChunk"/> pages, with an
/// XxHash64 over epoch, frames and bytes that restore verifies.
/// </summary>
public sealed record ImageChunk(long Epoch, int Index, uint[] Frames, byte[] Data, ulong Checksum) : IViosMessage
{
    public bool Verify() =>
        Data.Length == Frames.Length * Memory.GuestMemory.PageSize && ImageChecksum.OfChunk(Epoch, Frames, Data) == Checksum;

    public bool Equals(ImageChunk? other) =>
        other is not null && Epoch == other.Epoch && Index == other.Index && Checksum == other.Checksum
        && Frames.AsSpan().SequenceEqual(other.Frames) && Data.AsSpan().SequenceEqual(other.Data);

    public override int GetHashCode() => HashCode.Combine(Epoch, Index, Checksum);
}

/// <summary>
/// Event: an epoch is committed. Its pages are the <paramref name="Chunks"/> chunks persisted from
/// <paramref name="FirstChunkSeqNr"/> on; <paramref name="VcpuState"/> is the vCPU and device state at
/// its stun. A manual checkpoint also records the checksum of the whole memory at the stun.
/// </summary>
public sealed record EpochCommitted(
    long Epoch,
    ImageKind Kind,
    long FirstChunkSeqNr,
    int Chunks,
    int Pages,
    long PageCount,
    byte[] VcpuState,
    ulong StateChecksum,
    ulong? MemoryChecksum,
    long StunMicroseconds,
    DateTimeOffset At) : IViosMessage
{
    public bool Equals(EpochCommitted? other) =>
        other is not null && Epoch == other.Epoch && Kind == other.Kind && FirstChunkSeqNr == other.FirstChunkSeqNr && Chunks == other.Chunks
        && Pages == other.Pages && PageCount == other.PageCount && VcpuState.AsSpan().SequenceEqual(other.VcpuState)
        && StateChecksum == other.StateChecksum && MemoryChecksum == other.MemoryChecksum && StunMicroseconds == other.StunMicroseconds && At == other.At;

    public override int GetHashCode() => HashCode.Combine(Epoch, Kind, FirstChunkSeqNr);
}

/// <summary>One committed epoch as <c>checkpoint list</c> shows it.</summary>
public sealed record EpochSummary(long Epoch, ImageKind Kind, int Pages, long Bytes, long StunMicroseconds, ulong? MemoryChecksum, DateTimeOffset At);

/// <summary>
/// Snapshot of a partition's checkpoint journal, saved with each full image (the consistency image):
/// where that image starts in the journal and the epochs committed since.
/// </summary>
public sealed record CheckpointJournalState(long ConsistencyEpoch, long ConsistencyFirstSeqNr, IReadOnlyList<EpochSummary> Epochs) : IViosMessage
{
    public static CheckpointJournalState Empty { get; } = new(-1, 0, []);

    [JsonIgnore]
    public int DeltasSinceFull => Epochs.Count(e => e.Epoch > ConsistencyEpoch && e.Kind == ImageKind.Delta);

    [JsonIgnore]
    public long LastEpoch => Epochs.Count == 0 ? 0 : Epochs[^1].Epoch;
}

/// <summary>Takes a checkpoint now; with an interval, keeps taking one every interval until <see cref="StopCheckpointing"/>.</summary>
public sealed record TakeCheckpoint(string Name, CheckpointMode Mode, int? IntervalMs) : ILparCommand
{
    /// <summary>Periodic epochs record the memory checksum at each stun too (as manual ones always do), so any restore proves itself.</summary>
    public bool Verify { get; init; }
}

/// <summary>The epochs in a partition's checkpoint journal.</summary>
public sealed record ListCheckpoints(string Name) : ILparCommand;

/// <summary>
/// Restores partition <paramref name="Name"/> (stopped, or never started) from the images of
/// <paramref name="Source"/> (itself, or another partition): the latest epoch, or <paramref name="Epoch"/>.
/// Epoch 0 is the boot image.
/// </summary>
public sealed record RestoreCheckpoint(string Name, string Source, long? Epoch) : ILparCommand;

/// <summary>Stops periodic checkpointing and replication of a partition.</summary>
public sealed record StopCheckpointing(string Name) : ILparCommand;

public sealed record GetCheckpointStats(string Name) : ILparCommand;

/// <summary>A checkpoint was taken and committed.</summary>
public sealed record CheckpointTaken(string Name, string Node, long Epoch, ImageKind Kind, int Pages, long Bytes, long StunMicroseconds, ulong? MemoryChecksum, bool Periodic) : IViosMessage;

public sealed record CheckpointList(string Name, long ConsistencyEpoch, IReadOnlyList<EpochSummary> Epochs) : IViosMessage;

/// <summary>A partition was restored from an image; <paramref name="Verified"/> compares its bytes with the checksum taken at the stun.</summary>
public sealed record CheckpointRestored(string Name, string Source, string Node, long Epoch, int EpochsApplied, ulong MemoryChecksum, bool? Verified) : IViosMessage;

/// <summary>A partition's checkpoint counters.</summary>
public sealed record CheckpointStats(
    string Name,
    string Mode,
    int? IntervalMs,
    long Epochs,
    long FailedEpochs,
    double StunP50Microseconds,
    double StunP99Microseconds,
    long DirtyBytes,
    long BytesSent,
    double DiffHitRate,
    long OutputsHeld,
    long OutputsReleased,
    string? LastFailure,
    string? Note,
    FaultTolerantPairStats? Pair = null) : IViosMessage
{
    /// <summary>How the partition is checkpointed, for programs (<see cref="Mode"/> is the operator's sentence).</summary>
    public Checkpointing Checkpointing { get; init; }

    /// <summary>The node its replica runs on, while <see cref="Checkpointing"/> is <see cref="Checkpointing.Replicating"/>.</summary>
    public string? ReplicaNode { get; init; }

    /// <summary>The cluster address of that node's process: a node started again under its name has a new one, and no replica.</summary>
    public string? ReplicaAddress { get; init; }
}

/// <summary>How a partition is checkpointed: on request only, every interval to the journal, or replicated to a node (S23).</summary>
public enum Checkpointing
{
    Manual = 0,
    Periodic = 1,
    Replicating = 2,
}

/// <summary>
/// S22, for a partition that has been the primary of a replicated pair: the secondary's execution
/// lag in epochs (<see cref="Availability.ExecutionLag"/>) as the controller saw it at the last tick
/// (0 when not paired), the share of its CPU the primary runs at (1 when not paired), and the
/// controller's decisions, one a tick, over all of the coordinator's pairings.
/// </summary>
public sealed record FaultTolerantPairStats(long Lag, double PrimaryRate, long Lowered, long Raised, long Held);

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(EpochCommitted))]
[JsonSerializable(typeof(CheckpointJournalState))]
[JsonSerializable(typeof(TakeCheckpoint))]
[JsonSerializable(typeof(ListCheckpoints))]
[JsonSerializable(typeof(RestoreCheckpoint))]
[JsonSerializable(typeof(StopCheckpointing))]
[JsonSerializable(typeof(GetCheckpointStats))]
[JsonSerializable(typeof(CheckpointTaken))]
[JsonSerializable(typeof(CheckpointList))]
[JsonSerializable(typeof(CheckpointRestored))]
[JsonSerializable(typeof(CheckpointStats))]
public sealed partial class CheckpointJsonContext : JsonSerializerContext;

/// <summary>
/// The layout of an <see cref="ImageChunk"/> in the journal, little-endian throughout: epoch (int64),
/// index (int32), checksum (uint64), page count n (int32), n frame numbers (uint32 each), then the n
/// pages' bytes as they are (no JSON, no base64). Version 1 (manifest <c>checkpoint.chunk</c>) wrote
/// the frame numbers in the host's byte order; it is still read, as the host's order, and no longer written.
/// </summary>
public static class ImageChunkLayout
{
    public const int HeaderLength = 8 + 4 + 8 + 4;

    public const string Manifest = "checkpoint.chunk.v2";

    public const string ManifestVersion1 = "checkpoint.chunk";
}

/// <summary><see cref="ImageChunk"/> in binary (<see cref="ImageChunkLayout"/>). Validated when read; the checksum is verified by restore.</summary>
/// <param name="hostOrderFrames">Version 1: the frame numbers are in the host's byte order (read only).</param>
public sealed class ImageChunkCodec(bool hostOrderFrames = false) : MessageCodec
{
    public override Type MessageType => typeof(ImageChunk);

    public override void Write(object message, IBufferWriter<byte> output)
    {
        if (hostOrderFrames) throw new NotSupportedException($"{ImageChunkLayout.ManifestVersion1} is read only; chunks are written as {ImageChunkLayout.Manifest}");
        var chunk = (ImageChunk)message;
        using var writer = new SpanWriter(ImageChunkLayout.HeaderLength + (chunk.Frames.Length * 4));
        writer.Int64(chunk.Epoch);
        writer.Int32(chunk.Index);
        writer.UInt64(chunk.Checksum);
        writer.Int32(chunk.Frames.Length);
        writer.UInt32s(chunk.Frames);
        writer.WriteTo(output);
        // The pages go straight to the output: no second copy of up to a chunk's megabytes.
        output.Write(chunk.Data);
    }

    public override object Read(ReadOnlySpan<byte> input)
    {
        var length = input.Length;
        var reader = new SpanReader(input, "an image chunk", reason => new MessageFormatException($"an image chunk of {length} bytes: {reason}"));
        var (epoch, index, checksum, count) = (reader.Int64(), reader.Int32(), reader.UInt64(), reader.Int32());
        if (count < 0 || count * (4L + Memory.GuestMemory.PageSize) != reader.Remaining)
            throw reader.Malformed($"cannot hold {count} pages");
        var frames = hostOrderFrames ? MemoryMarshal.Cast<byte, uint>(reader.Bytes(count * 4, "the frame numbers")).ToArray() : reader.UInt32s(count, "frame numbers");
        return new ImageChunk(epoch, index, frames, reader.Rest().ToArray(), checksum);
    }
}

public static class CheckpointMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        new MessageManifest(ImageChunkLayout.Manifest, new ImageChunkCodec()),
        new MessageManifest(ImageChunkLayout.ManifestVersion1, new ImageChunkCodec(hostOrderFrames: true)) { ReadOnly = true },
        MessageManifest.Json("checkpoint.committed", CheckpointJsonContext.Default.EpochCommitted),
        MessageManifest.Json("checkpoint.journal-state", CheckpointJsonContext.Default.CheckpointJournalState),
        MessageManifest.Json("checkpoint.take", CheckpointJsonContext.Default.TakeCheckpoint),
        MessageManifest.Json("checkpoint.list-request", CheckpointJsonContext.Default.ListCheckpoints),
        MessageManifest.Json("checkpoint.restore", CheckpointJsonContext.Default.RestoreCheckpoint),
        MessageManifest.Json("checkpoint.stop", CheckpointJsonContext.Default.StopCheckpointing),
        MessageManifest.Json("checkpoint.get-stats", CheckpointJsonContext.Default.GetCheckpointStats),
        MessageManifest.Json("checkpoint.taken", CheckpointJsonContext.Default.CheckpointTaken),
        MessageManifest.Json("checkpoint.list", CheckpointJsonContext.Default.CheckpointList),
        MessageManifest.Json("checkpoint.restored", CheckpointJsonContext.Default.CheckpointRestored),
        MessageManifest.Json("checkpoint.stats", CheckpointJsonContext.Default.CheckpointStats),
    ];
}
