using System.Numerics;
using Vios.Actors.Memory;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// S24 copy-on-write memory of one checkpoint: which pages still hold the contents of the stun and
/// have not been saved. A guest write to such a page saves its original first (through the VMM's
/// write-fault path); the rest are saved while the guest runs, a batch at a time.
/// </summary>
/// <remarks>
/// Only pages the guest had touched at the stun are pending: the others are zeros and stay out of the
/// image. Marking is a copy of the touched bitmap, a few kilobytes even for gigabytes of memory, which
/// is why the stun does not grow with memory size.
/// </remarks>
public sealed class CowTracker
{
    private readonly ulong[] _pending;
    private readonly List<uint> _frames;
    private byte[] _pages;
    private int _cursor;

    /// <param name="buffer">Where saved pages go; grown if too small. A caller that checkpoints often passes the same one each time.</param>
    public CowTracker(long pageCount, ulong[] touchedAtStun, int touchedCount, byte[]? buffer = null)
    {
        PageCount = pageCount;
        _pending = touchedAtStun;
        Remaining = touchedCount;
        // Grows as pages are saved, after the stun: sizing it here would zero megabytes during the stun.
        _frames = [];
        _pages = buffer ?? [];
    }

    /// <summary>Pending pages given as a list (the dirty pages of an epoch) rather than a bitmap.</summary>
    public static CowTracker ForFrames(long pageCount, ReadOnlySpan<uint> frames, byte[]? buffer = null)
    {
        var bitmap = new ulong[(pageCount + 63) / 64];
        foreach (var frame in frames) bitmap[frame >> 6] |= 1UL << (int)(frame & 63);
        return new CowTracker(pageCount, bitmap, frames.Length, buffer);
    }

    public long PageCount { get; }

    /// <summary>Pages of the stun not yet saved.</summary>
    public int Remaining { get; private set; }

    /// <summary>Pages saved because the guest was about to write them.</summary>
    public int SavedBeforeGuestWrite { get; private set; }

    public bool IsPending(uint frame) => (_pending[frame >> 6] & (1UL << (int)(frame & 63))) != 0;

    /// <summary>The VMM's write-fault path: the guest is about to change <paramref name="frame"/>; keep what it held at the stun.</summary>
    public void SaveBeforeWrite(uint frame, ReadOnlySpan<byte> page)
    {
        if (!IsPending(frame)) return;
        Save(frame, page);
        SavedBeforeGuestWrite++;
    }

    /// <summary>Saves up to <paramref name="max"/> pending pages from <paramref name="memory"/>; returns how many remain.</summary>
    public int SaveNext(GuestMemory memory, int max)
    {
        while (max > 0 && Remaining > 0)
        {
            while (_pending[_cursor] == 0) _cursor++;
            var frame = (uint)((_cursor << 6) + BitOperations.TrailingZeroCount(_pending[_cursor]));
            Save(frame, memory.Page(frame));
            max--;
        }
        return Remaining;
    }

    /// <summary>
    /// The saved pages, in the order they were saved: the memory as it was at the stun. The pages are
    /// at the start of the returned buffer (which may be longer).
    /// </summary>
    public (uint[] Frames, byte[] Pages) Complete()
    {
        if (Remaining > 0) throw new InvalidOperationException($"{Remaining} pages are not saved yet");
        return (_frames.ToArray(), _pages);
    }

    private void Save(uint frame, ReadOnlySpan<byte> page)
    {
        _pending[frame >> 6] &= ~(1UL << (int)(frame & 63));
        var at = _frames.Count * GuestMemory.PageSize;
        if (_pages.Length < at + GuestMemory.PageSize)
            Array.Resize(ref _pages, Math.Max(at + GuestMemory.PageSize, Math.Min(_pages.Length * 2, (_frames.Count + Remaining) * GuestMemory.PageSize)));
        page.CopyTo(_pages.AsSpan(at));
        _frames.Add(frame);
        Remaining--;
    }
}
