using System.Buffers.Binary;
using System.Numerics;
using Vios.Actors.Memory;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// The page stream of S23 frequent checkpointing: entries of (frame, kind, length, bytes), packed into
/// parts of at most <see cref="MaxPartBytes"/> so each part is one remoting message.
/// </summary>
public static class ReplicaPayload
{
    /// <summary>
    /// 80,000 bytes: under the 85,000 bytes at which .NET puts an array on the large object heap. Parts
    /// (and the serializer's buffers for them) then die young in generation 0 instead of filling the
    /// large object heap each epoch and bringing full collections, whose pauses land in stuns. Far
    /// below the 4 MiB remoting frame.
    /// </summary>
    public const int MaxPartBytes = 80_000;

    public const byte Whole = 0;
    public const byte Diff = 1;

    private const int EntryHeader = 4 + 1 + 2;

    /// <summary>Adds parts to <paramref name="parts"/>; the last one is left open in <paramref name="open"/>.</summary>
    public sealed class Writer
    {
        private readonly List<byte[]> _parts = [];
        // Pooled: a fresh 1 MiB array per epoch would land on the large object heap each time and
        // bring full collections (and their pauses) into the stun.
        private byte[] _open = System.Buffers.ArrayPool<byte>.Shared.Rent(MaxPartBytes);
        private int _length;

        public IReadOnlyList<byte[]> Parts => _parts;

        public long Bytes { get; private set; }

        public void Add(uint frame, byte kind, ReadOnlySpan<byte> bytes)
        {
            if (_length + EntryHeader + bytes.Length > MaxPartBytes) Flush();
            var span = _open.AsSpan(_length);
            BinaryPrimitives.WriteUInt32LittleEndian(span, frame);
            span[4] = kind;
            BinaryPrimitives.WriteUInt16LittleEndian(span[5..], (ushort)bytes.Length);
            bytes.CopyTo(span[EntryHeader..]);
            _length += EntryHeader + bytes.Length;
            Bytes += EntryHeader + bytes.Length;
        }

        /// <summary>Closes the open part, if it has anything.</summary>
        public void Flush()
        {
            if (_length == 0) return;
            _parts.Add(_open.AsSpan(0, _length).ToArray());
            _length = 0;
        }

        public IReadOnlyList<byte[]> Complete()
        {
            Flush();
            if (_open.Length > 0) System.Buffers.ArrayPool<byte>.Shared.Return(_open);
            _open = [];
            return _parts;
        }
    }

    /// <summary>Calls <paramref name="entry"/> for each entry of a part.</summary>
    /// <exception cref="FormatException">The part is truncated or names a frame outside the memory.</exception>
    public static void Read(ReadOnlySpan<byte> part, long pageCount, EntryAction entry)
    {
        while (!part.IsEmpty)
        {
            if (part.Length < EntryHeader) throw new FormatException($"a replica part ends inside an entry header ({part.Length} bytes left)");
            var frame = BinaryPrimitives.ReadUInt32LittleEndian(part);
            var kind = part[4];
            var length = BinaryPrimitives.ReadUInt16LittleEndian(part[5..]);
            if (frame >= pageCount) throw new FormatException($"a replica entry names frame {frame}; the memory has {pageCount} pages");
            if (kind > Diff || (kind == Whole && length != GuestMemory.PageSize) || part.Length < EntryHeader + length)
                throw new FormatException($"a replica entry for frame {frame} is malformed (kind {kind}, {length} bytes, {part.Length - EntryHeader} left)");
            entry(frame, kind, part.Slice(EntryHeader, length));
            part = part[(EntryHeader + length)..];
        }
    }

    public delegate void EntryAction(uint frame, byte kind, ReadOnlySpan<byte> bytes);
}

/// <summary>
/// The primary's side of S23: sends each dirty page whole, or, for pages the backup's feedback marks
/// as candidates, only its modification (an XOR against the copy last sent, zero runs encoded). Keeps
/// that copy (a mirror of what the backup has) and each page's modification history, which picks the
/// pages that can be sent while the guest runs, before the stun.
/// </summary>
public sealed class ReplicationSender : IDisposable
{
    private readonly GuestMemory _mirror;
    private readonly HashSet<uint> _candidates = [];
    private readonly byte[] _history;
    private readonly byte[] _scratch = new byte[PageDiff.MaxEncodedLength];

    public ReplicationSender(long pageCount)
    {
        _mirror = new GuestMemory(pageCount);
        _history = new byte[pageCount];
    }

    public long DiffPages { get; private set; }

    public long WholePages { get; private set; }

    public long PreCopiedPages { get; private set; }

    public int Candidates => _candidates.Count;

    /// <summary>
    /// True for a page modified in at most one of the last eight epochs: dirty now, it is unlikely to
    /// be written again before the stun, so it can be sent while the guest runs.
    /// </summary>
    public bool IsCold(uint frame) => BitOperations.PopCount(_history[frame]) <= 1;

    /// <summary>Encodes pages into <paramref name="writer"/>: a diff for candidates where it is smaller, else the whole page.</summary>
    public void Encode(ReadOnlySpan<uint> frames, Func<int, ReadOnlySpan<byte>> page, ReplicaPayload.Writer writer, bool preCopy = false)
    {
        for (var i = 0; i < frames.Length; i++)
        {
            var frame = frames[i];
            var current = page(i);
            var mirror = _mirror.Page(frame);
            var length = _candidates.Contains(frame) ? PageDiff.Encode(mirror, current, _scratch) : -1;
            if (length >= 0)
            {
                writer.Add(frame, ReplicaPayload.Diff, _scratch.AsSpan(0, length));
                DiffPages++;
            }
            else
            {
                writer.Add(frame, ReplicaPayload.Whole, current);
                WholePages++;
            }
            current.CopyTo(mirror);
        }
        if (preCopy) PreCopiedPages += frames.Length;
    }

    /// <summary>An epoch's stun collected <paramref name="dirty"/> (pre-copied pages included): every page's history moves on.</summary>
    public void RecordEpoch(ReadOnlySpan<uint> dirty)
    {
        for (var i = 0; i < _history.Length; i++) _history[i] <<= 1;
        foreach (var frame in dirty) _history[frame] |= 1;
    }

    /// <summary>The backup's feedback: pages that changed only a little (diff them next time) and pages that no longer did.</summary>
    public void Feedback(IReadOnlyList<uint> added, IReadOnlyList<uint> dropped)
    {
        foreach (var frame in added) _candidates.Add(frame);
        foreach (var frame in dropped) _candidates.Remove(frame);
    }

    public void Dispose() => _mirror.Dispose();
}

/// <summary>
/// The backup's side of S23: a copy of the primary's memory that each epoch's pages are applied to
/// once the epoch's commit arrives, and the feedback that marks candidate pages (those whose last
/// change was small, so the primary sends only the modification next time).
/// </summary>
public sealed class ReplicaState : IDisposable
{
    /// <summary>A page whose change encodes below this is a candidate for diffs.</summary>
    public const int CandidateThreshold = GuestMemory.PageSize / 4;

    private readonly SortedDictionary<int, byte[]> _staged = [];
    private readonly SortedSet<uint> _written = [];
    private readonly HashSet<uint> _candidates = [];
    private readonly byte[] _scratch = new byte[PageDiff.MaxEncodedLength];
    private long _stagedEpoch = -1;
    private int _epochsApplied;
    private bool _surrendered;

    public ReplicaState(long pageCount) => Memory = new GuestMemory(pageCount);

    public GuestMemory Memory { get; }

    public long AppliedEpoch { get; private set; }

    /// <summary>Pages applied by every commit so far (whole and diffs alike).</summary>
    public long PagesApplied { get; private set; }

    public byte[] VcpuState { get; private set; } = [];

    /// <summary>A part of epoch <paramref name="epoch"/>; parts of an older, unfinished epoch are dropped.</summary>
    public void Stage(long epoch, int part, byte[] payload)
    {
        if (epoch != _stagedEpoch)
        {
            _staged.Clear();
            _stagedEpoch = epoch;
        }
        _staged[part] = payload;
    }

    /// <summary>Applies epoch <paramref name="epoch"/>'s <paramref name="parts"/> parts, in order; returns the feedback.</summary>
    /// <exception cref="InvalidOperationException">Parts are missing: nothing was applied.</exception>
    /// <exception cref="FormatException">A part is malformed; the memory may be partly updated and the pair must resynchronise with a full image.</exception>
    public (uint[] Added, uint[] Dropped) Commit(long epoch, int parts, byte[] vcpuState)
    {
        var staged = epoch == _stagedEpoch ? _staged.Count : 0;
        if (staged != parts) throw new InvalidOperationException($"epoch {epoch} has {staged} of its {parts} parts");
        var added = new List<uint>();
        var dropped = new List<uint>();
        foreach (var payload in _staged.Values)
        {
            ReplicaPayload.Read(payload, Memory.PageCount, (frame, kind, bytes) =>
            {
                var page = Memory.Page(frame);
                bool small;
                if (kind == ReplicaPayload.Diff)
                {
                    PageDiff.Apply(page, bytes);
                    small = bytes.Length <= CandidateThreshold;
                }
                else
                {
                    var length = PageDiff.Encode(page, bytes, _scratch);
                    small = length >= 0 && length <= CandidateThreshold;
                    bytes.CopyTo(page);
                }
                _written.Add(frame);
                PagesApplied++;
                if (small && _candidates.Add(frame)) added.Add(frame);
                else if (!small && _candidates.Remove(frame)) dropped.Add(frame);
            });
        }
        _staged.Clear();
        (AppliedEpoch, VcpuState) = (epoch, vcpuState);
        _epochsApplied++;
        return (added.ToArray(), dropped.ToArray());
    }

    /// <summary>
    /// S17 promotion: the copy as of the last applied epoch becomes a partition's image; parts of an
    /// epoch not committed are dropped (the primary never committed it either). The memory now belongs
    /// to the image; this state must not be used again. <paramref name="checksumAtStun"/> is the
    /// primary's checksum of that epoch, if the pair was verified.
    /// </summary>
    /// <exception cref="InvalidOperationException">No epoch was applied yet: there is nothing to promote.</exception>
    public RestoredImage Surrender(ulong? checksumAtStun)
    {
        if (_surrendered) throw new InvalidOperationException("the replica was already promoted");
        if (_epochsApplied == 0) throw new InvalidOperationException("the replica has not applied any epoch yet");
        _surrendered = true;
        _staged.Clear();
        return new RestoredImage(AppliedEpoch, Memory, VcpuState, checksumAtStun, _epochsApplied, _written.ToArray());
    }

    /// <summary>The checksum of the copy (<see cref="ImageChecksum.Of(GuestMemory, IEnumerable{uint})"/>), reading only pages an epoch wrote.</summary>
    public ulong Checksum() => ImageChecksum.Of(Memory, _written);

    public void Dispose()
    {
        if (!_surrendered) Memory.Dispose();
    }
}
