using System.IO.MemoryMappedFiles;

namespace Vios.Actors.Memory;

/// <summary>
/// An LPAR's memory as real bytes: <see cref="PageCount"/> pages of <see cref="PageSize"/> bytes in
/// one zeroed, page-aligned native buffer. One buffer rather than an object per page (no per-page
/// headers, no GC work) and native rather than a managed array, which stops at 2 GiB.
/// </summary>
/// <remarks>
/// The buffer is an anonymous memory mapping: the operating system hands out zero pages as the
/// guest first touches them, so a 4 GiB partition that has written 10 MB holds about 10 MB of the
/// host's memory, as a real hypervisor's guest does.
/// </remarks>
public sealed unsafe class GuestMemory : IDisposable
{
    public const int PageSize = 4096;
    public const int PageShift = 12;

    /// <summary>1 MiB: the smallest LPAR.</summary>
    public const long MinimumPages = 256;

    /// <summary>64 GiB: far above the 4 GiB the design asks for, still a 32-bit frame number.</summary>
    public const long MaximumPages = 16L * 1024 * 1024;

    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _buffer;

    public GuestMemory(long pageCount)
    {
        if (pageCount < MinimumPages || pageCount > MaximumPages)
        {
            throw new ArgumentOutOfRangeException(nameof(pageCount), pageCount,
                $"guest memory is {MinimumPages} to {MaximumPages} pages of {PageSize} bytes (1 MiB to 64 GiB)");
        }

        PageCount = pageCount;
        var bytes = pageCount * PageSize;
        _mapping = MemoryMappedFile.CreateNew(null, bytes, MemoryMappedFileAccess.ReadWrite);
        _view = _mapping.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.ReadWrite);
        byte* start = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _buffer = start + _view.PointerOffset;
    }

    public long PageCount { get; }

    public long Bytes => PageCount * PageSize;

    /// <summary>The bytes of guest-physical frame <paramref name="frame"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The frame is not in this LPAR's memory.</exception>
    /// <exception cref="ObjectDisposedException">The memory was released.</exception>
    public Span<byte> Page(uint frame)
    {
        var buffer = _buffer;
        ObjectDisposedException.ThrowIf(buffer is null, this);
        if (frame >= PageCount)
        {
            ThrowFrameOutOfRange(frame);
        }

        return new Span<byte>(buffer + ((nuint)frame << PageShift), PageSize);
    }

    public bool Contains(uint frame) => frame < PageCount;

    /// <summary>Returns the memory to the host; the pages are gone.</summary>
    public void Dispose()
    {
        if (_buffer is null)
        {
            return;
        }

        _buffer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
    }

    private void ThrowFrameOutOfRange(uint frame) =>
        throw new ArgumentOutOfRangeException(nameof(frame), frame,
            $"guest-physical frame {frame} is outside this LPAR's memory of {PageCount} pages");
}
