using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Vios.Actors.Memory;

namespace Vios.Actors.Checkpoint;

public enum CheckpointMode
{
    /// <summary>Every non-zero page, captured during the stun: a new consistency image.</summary>
    Full,

    /// <summary>The pages dirtied since the previous epoch, from the dirty log.</summary>
    Incremental,

    /// <summary>S24: memory marked copy-on-write during a short stun, pages saved while the guest runs.</summary>
    Cow,
}

public enum ImageKind
{
    /// <summary>A whole image: restoring starts from the latest one.</summary>
    Full,

    /// <summary>The pages that changed since the previous epoch.</summary>
    Delta,
}

/// <summary>
/// What one epoch captured while the guest was stunned: pages (frames and their bytes, one after
/// another at the start of <see cref="Pages"/>) and the vCPU and device state.
/// </summary>
/// <remarks>
/// <see cref="Pages"/> is the partition's capture buffer, reused by its next epoch: whoever keeps
/// page data beyond the epoch (the journal, a replica) copies it first.
/// </remarks>
public sealed record EpochCapture(
    long Epoch, ImageKind Kind, long PageCount, uint[] Frames, byte[] Pages, byte[] VcpuState, ulong? MemoryChecksum, TimeSpan Stun, DateTimeOffset At)
{
    public long Bytes => (long)Frames.Length * GuestMemory.PageSize;

    /// <summary>The bytes of the <paramref name="index"/>th captured page.</summary>
    public ReadOnlySpan<byte> Page(int index) => Pages.AsSpan(index * GuestMemory.PageSize, GuestMemory.PageSize);
}

/// <summary>Checksums of guest memory and of stored image pieces (XxHash, System.IO.Hashing).</summary>
public static class ImageChecksum
{
    /// <summary>
    /// The checksum of guest memory: XxHash3 over (frame number, page bytes) of every page that is not
    /// all zeros, in frame order, then the page count. A function of the bytes alone, so source and
    /// restored copies agree however their memory was filled.
    /// </summary>
    /// <param name="candidates">
    /// Frames that may hold non-zero bytes, ascending; every other frame must be zero and is not read
    /// (reading it would make the host commit it). Null reads every frame.
    /// </param>
    public static ulong Of(GuestMemory memory, IEnumerable<uint>? candidates = null)
    {
        var hash = new XxHash3();
        Span<byte> number = stackalloc byte[8];
        foreach (var frame in candidates ?? AllFrames(memory.PageCount))
        {
            var page = memory.Page(frame);
            if (!page.ContainsAnyExcept((byte)0)) continue;
            BinaryPrimitives.WriteUInt32LittleEndian(number, frame);
            hash.Append(number[..4]);
            hash.Append(page);
        }
        BinaryPrimitives.WriteInt64LittleEndian(number, memory.PageCount);
        hash.Append(number);
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>The same checksum over pages held elsewhere: <paramref name="frames"/> (ascending) and their bytes.</summary>
    public static ulong Of(long pageCount, IReadOnlyList<uint> frames, Func<int, ReadOnlySpan<byte>> page)
    {
        var hash = new XxHash3();
        Span<byte> number = stackalloc byte[8];
        for (var i = 0; i < frames.Count; i++)
        {
            var bytes = page(i);
            if (!bytes.ContainsAnyExcept((byte)0)) continue;
            BinaryPrimitives.WriteUInt32LittleEndian(number, frames[i]);
            hash.Append(number[..4]);
            hash.Append(bytes);
        }
        BinaryPrimitives.WriteInt64LittleEndian(number, pageCount);
        hash.Append(number);
        return hash.GetCurrentHashAsUInt64();
    }

    private static IEnumerable<uint> AllFrames(long pageCount)
    {
        for (uint frame = 0; frame < pageCount; frame++) yield return frame;
    }

    /// <summary>XxHash64 of a chunk: its epoch, frames and page bytes, so a chunk moved to another epoch fails too.</summary>
    public static ulong OfChunk(long epoch, ReadOnlySpan<uint> frames, ReadOnlySpan<byte> data)
    {
        var hash = new XxHash64();
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(header, epoch);
        hash.Append(header);
        hash.Append(MemoryMarshal.AsBytes(frames));
        hash.Append(data);
        return hash.GetCurrentHashAsUInt64();
    }

    public static ulong OfState(ReadOnlySpan<byte> state) => XxHash64.HashToUInt64(state);
}

/// <summary>Splits an epoch's pages into chunks small enough for a remoting frame and a database row.</summary>
public static class ImageChunker
{
    /// <summary>64 pages: 256 KiB of page data per chunk, far below the 4 MiB remoting frame.</summary>
    public const int PagesPerChunk = 64;

    public static IReadOnlyList<ImageChunk> Split(EpochCapture capture, int pagesPerChunk = PagesPerChunk) =>
        Split(capture, 0, ChunkCount(capture, pagesPerChunk), pagesPerChunk);

    /// <summary>How many chunks the epoch's pages make.</summary>
    public static int ChunkCount(EpochCapture capture, int pagesPerChunk = PagesPerChunk) =>
        (capture.Frames.Length + pagesPerChunk - 1) / pagesPerChunk;

    /// <summary>
    /// Chunks <paramref name="firstChunk"/> to <paramref name="firstChunk"/> + <paramref name="count"/> - 1
    /// only: a large image is written a few chunks at a time, never copied whole a second time.
    /// </summary>
    public static IReadOnlyList<ImageChunk> Split(EpochCapture capture, int firstChunk, int count, int pagesPerChunk = PagesPerChunk)
    {
        var total = ChunkCount(capture, pagesPerChunk);
        ArgumentOutOfRangeException.ThrowIfNegative(firstChunk);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstChunk + count, total, nameof(count));
        var chunks = new List<ImageChunk>(count);
        for (var index = firstChunk; index < firstChunk + count; index++)
        {
            var first = index * pagesPerChunk;
            var pages = Math.Min(pagesPerChunk, capture.Frames.Length - first);
            var frames = capture.Frames.AsSpan(first, pages).ToArray();
            var data = capture.Pages.AsSpan(first * GuestMemory.PageSize, pages * GuestMemory.PageSize).ToArray();
            chunks.Add(new ImageChunk(capture.Epoch, index, frames, data, ImageChecksum.OfChunk(capture.Epoch, frames, data)));
        }
        return chunks;
    }
}

/// <summary>An image put back together: guest memory, and the vCPU and device state, as at the stun of <see cref="Epoch"/>.</summary>
public sealed record RestoredImage(long Epoch, GuestMemory Memory, byte[] VcpuState, ulong? MemoryChecksumAtStun, int Epochs, uint[] WrittenFrames)
{
    /// <summary>True when the stun recorded a checksum and the restored bytes have it.</summary>
    public bool? Verified { get; init; }
}

/// <summary>
/// Rebuilds guest memory from a journal's chunks and commits, in journal order: the latest full
/// image, then the deltas after it, each applied only once its commit is read and every one of its
/// chunks is present and passes its checksum. Chunks of an epoch that never committed (a failed
/// write) are ignored. Stops at <c>targetEpoch</c> when one is given.
/// </summary>
public sealed class ImageAssembler : IDisposable
{
    private readonly long? _targetEpoch;
    private readonly Dictionary<long, (long SeqNr, ImageChunk Chunk)> _pending = [];
    private readonly List<long> _committed = [];
    private readonly HashSet<uint> _written = [];
    private GuestMemory? _memory;
    private byte[] _state = [];
    private ulong? _checksum;
    private long _epoch = -1;
    private int _epochs;

    public ImageAssembler(long? targetEpoch = null) => _targetEpoch = targetEpoch;

    /// <summary>Why the image cannot be restored; set once, after which nothing more is applied.</summary>
    public string? Refusal { get; private set; }

    /// <summary>True once the target epoch was applied: later events are not needed.</summary>
    public bool Done { get; private set; }

    /// <summary>The last epoch applied whole: what a restore without a target gives.</summary>
    public long LastGoodEpoch => _epoch;

    /// <summary>Every epoch committed in the journal, in order, whether applied or not.</summary>
    public IReadOnlyList<long> CommittedEpochs => _committed;

    public void OnChunk(long seqNr, ImageChunk chunk)
    {
        if (Refusal is not null || Done) return;
        _pending[seqNr] = (seqNr, chunk);
    }

    public void OnCommit(long seqNr, EpochCommitted commit)
    {
        _committed.Add(commit.Epoch);
        if (Refusal is not null || Done) return;
        if (_memory is null && commit.Kind == ImageKind.Delta)
        {
            // Deltas from before the first full image still in the journal: nothing to apply them to.
            DropPending(commit);
            return;
        }

        for (var i = 0; i < commit.Chunks; i++)
        {
            var at = commit.FirstChunkSeqNr + i;
            if (!_pending.TryGetValue(at, out var entry))
            {
                Refuse($"chunk {i} of epoch {commit.Epoch} (journal sequence number {at}) is missing", commit.Epoch);
                return;
            }
            var chunk = entry.Chunk;
            if (chunk.Epoch != commit.Epoch || chunk.Index != i || !chunk.Verify())
            {
                Refuse($"chunk {i} of epoch {commit.Epoch} (journal sequence number {at}) fails its checksum: the stored bytes are not the bytes written", commit.Epoch);
                return;
            }
        }
        if (ImageChecksum.OfState(commit.VcpuState) != commit.StateChecksum)
        {
            Refuse($"the vCPU and device state of epoch {commit.Epoch} (journal sequence number {seqNr}) fails its checksum", commit.Epoch);
            return;
        }

        if (commit.Kind == ImageKind.Full)
        {
            _memory?.Dispose();
            _memory = new GuestMemory(commit.PageCount);
            _written.Clear();
            _epochs = 0;
        }
        else if (commit.PageCount != _memory!.PageCount)
        {
            Refuse($"epoch {commit.Epoch} is for {commit.PageCount} pages, the image has {_memory.PageCount}", commit.Epoch);
            return;
        }

        for (var i = 0; i < commit.Chunks; i++)
        {
            var chunk = _pending[commit.FirstChunkSeqNr + i].Chunk;
            for (var p = 0; p < chunk.Frames.Length; p++)
            {
                chunk.Data.AsSpan(p * GuestMemory.PageSize, GuestMemory.PageSize).CopyTo(_memory.Page(chunk.Frames[p]));
                _written.Add(chunk.Frames[p]);
            }
        }
        DropPending(commit);
        (_epoch, _state, _checksum) = (commit.Epoch, commit.VcpuState, commit.MemoryChecksum);
        _epochs++;
        if (commit.Epoch == _targetEpoch) Done = true;
    }

    /// <summary>
    /// The image, once the journal is read to its end; ownership of its memory passes to the caller.
    /// Null with <see cref="Refusal"/> set when there is nothing good to restore.
    /// </summary>
    public RestoredImage? Complete()
    {
        if (Refusal is not null) return null;
        if (_targetEpoch is { } target && (_memory is null || _epoch != target))
        {
            Refusal = $"epoch {target} is not in the journal; it holds epochs {Describe(_committed)}";
            return null;
        }
        if (_memory is null)
        {
            Refusal = _committed.Count == 0 ? "there is no committed image" : "the journal holds no full image to start from";
            return null;
        }
        var memory = _memory;
        _memory = null;
        var written = _written.Order().ToArray();
        return new RestoredImage(_epoch, memory, _state, _checksum, _epochs, written)
        {
            Verified = _checksum is { } expected ? ImageChecksum.Of(memory, written) == expected : null,
        };
    }

    public void Dispose() => _memory?.Dispose();

    private void Refuse(string problem, long epoch)
    {
        var previous = _memory is null || _epoch < 0 ? null : (long?)_epoch;
        Refusal = previous is { } good
            ? $"{problem}. The last good image before it is epoch {good} (restore it with --epoch {good})"
            : $"{problem}. No earlier image remains in the journal; the boot image is epoch 0 (restore it with --epoch 0)";
        _ = epoch;
        _memory?.Dispose();
        _memory = null;
    }

    private void DropPending(EpochCommitted commit)
    {
        foreach (var key in _pending.Keys.Where(k => k < commit.FirstChunkSeqNr + commit.Chunks).ToList()) _pending.Remove(key);
    }

    private static string Describe(IReadOnlyList<long> epochs) =>
        epochs.Count == 0 ? "none" : epochs.Count <= 6 ? string.Join(", ", epochs) : $"{epochs[0]} to {epochs[^1]}";
}
