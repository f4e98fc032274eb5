namespace Vios.Actors.Memory;

/// <summary>
/// The frames of one LPAR written since the last <see cref="Collect"/>: a bitmap (is it marked?) and
/// the list of marked frames (what to return), so a collection costs the number of dirty pages, not a
/// scan of memory or of the bitmap.
/// </summary>
/// <remarks>
/// Frames are marked by the VMM when a guest write faults on a write-protected shadow entry
/// (<see cref="Vmm.TryWrite"/>). Write protection is re-armed by an epoch: a shadow entry lets writes
/// through only while its epoch equals <see cref="Epoch"/>, and <see cref="Collect"/> advances the
/// epoch, which write-protects every shadow entry of the LPAR at once. The guest's write path holds
/// <see cref="Gate"/> across check, mark and store, and Collect holds it too, so a write is either
/// wholly before a collection (its frame is in it) or wholly after (it faults again and its frame is
/// in the next one).
/// </remarks>
public sealed class DirtyLog
{
    private readonly ulong[] _bitmap;
    private readonly ulong[] _touched;
    private readonly uint[] _frames;
    private int _count;
    private uint _epoch = 1;

    public DirtyLog(long pageCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageCount, GuestMemory.MaximumPages);
        PageCount = pageCount;
        _bitmap = new ulong[(pageCount + 63) / 64];
        _touched = new ulong[_bitmap.Length];
        _frames = new uint[pageCount];
    }

    public long PageCount { get; }

    /// <summary>Held by a guest write and by <see cref="Collect"/>; one per LPAR.</summary>
    internal Lock Gate { get; } = new();

    /// <summary>The write-protection epoch: shadow entries armed in an older epoch fault on write.</summary>
    internal uint Epoch => _epoch;

    public int DirtyCount
    {
        get
        {
            lock (Gate)
            {
                return _count;
            }
        }
    }

    public bool IsDirty(uint frame)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(frame, (ulong)PageCount);
        lock (Gate)
        {
            return (_bitmap[frame >> 6] & (1UL << (int)(frame & 63))) != 0;
        }
    }

    /// <summary>
    /// Returns the frames written since the last collection (in the order they were first written),
    /// clears them and re-arms write protection in every shadow table of the LPAR.
    /// </summary>
    public uint[] Collect()
    {
        lock (Gate)
        {
            var dirty = _frames.AsSpan(0, _count);
            var result = dirty.ToArray();
            foreach (var frame in dirty)
            {
                _bitmap[frame >> 6] &= ~(1UL << (int)(frame & 63));
            }

            _count = 0;
            // Re-arm: every shadow entry now belongs to an older epoch. Zero is never an armed epoch
            // (a freshly built shadow entry has epoch 0), so skip it when the counter wraps.
            _epoch = _epoch == uint.MaxValue ? 1 : _epoch + 1;
            return result;
        }
    }

    /// <summary>
    /// Returns and clears only the dirty frames <paramref name="pick"/> chooses (S23: pages sent before
    /// the stun, while the guest runs), and re-arms write protection so that a later write to one of
    /// them marks it again for the stun. The frames not picked stay dirty.
    /// </summary>
    public uint[] CollectSubset(Func<uint, bool> pick)
    {
        lock (Gate)
        {
            var picked = new List<uint>();
            var kept = 0;
            for (var i = 0; i < _count; i++)
            {
                var frame = _frames[i];
                if (pick(frame))
                {
                    picked.Add(frame);
                    _bitmap[frame >> 6] &= ~(1UL << (int)(frame & 63));
                }
                else
                {
                    _frames[kept++] = frame;
                }
            }

            _count = kept;
            _epoch = _epoch == uint.MaxValue ? 1 : _epoch + 1;
            return picked.ToArray();
        }
    }

    /// <summary>
    /// Every frame written since the memory was allocated (or restored, see <see cref="MarkTouched"/>).
    /// The others still hold zeros the host has never committed: a full image or a checksum need not
    /// read them, and reading them would make the host commit them.
    /// </summary>
    public uint[] TouchedFrames()
    {
        lock (Gate)
        {
            var frames = new List<uint>();
            for (var word = 0; word < _touched.Length; word++)
            {
                var bits = _touched[word];
                while (bits != 0)
                {
                    frames.Add((uint)((word << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits)));
                    bits &= bits - 1;
                }
            }

            return frames.ToArray();
        }
    }

    public bool IsTouched(uint frame)
    {
        lock (Gate)
        {
            return (_touched[frame >> 6] & (1UL << (int)(frame & 63))) != 0;
        }
    }

    /// <summary>A copy of the touched bitmap and how many frames it has (S24: the pages a copy-on-write checkpoint keeps).</summary>
    public (ulong[] Bitmap, int Count) SnapshotTouched()
    {
        lock (Gate)
        {
            var copy = (ulong[])_touched.Clone();
            var count = 0;
            foreach (var word in copy) count += System.Numerics.BitOperations.PopCount(word);
            return (copy, count);
        }
    }

    /// <summary>Write-protects every shadow entry again without collecting: the next write to any page faults into the VMM.</summary>
    internal void RearmHoldingGate() => _epoch = _epoch == uint.MaxValue ? 1 : _epoch + 1;

    /// <summary>Frames written other than through the VMM (a restored image): they count as touched.</summary>
    public void MarkTouched(ReadOnlySpan<uint> frames)
    {
        lock (Gate)
        {
            foreach (var frame in frames)
            {
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(frame, (ulong)PageCount);
                _touched[frame >> 6] |= 1UL << (int)(frame & 63);
            }
        }
    }

    /// <summary>Marks a frame; the caller holds <see cref="Gate"/>. False when it was already marked.</summary>
    internal bool MarkHoldingGate(uint frame)
    {
        ref var word = ref _bitmap[frame >> 6];
        var bit = 1UL << (int)(frame & 63);
        if ((word & bit) != 0)
        {
            return false;
        }

        word |= bit;
        _touched[frame >> 6] |= bit;
        _frames[_count++] = frame;
        return true;
    }
}
