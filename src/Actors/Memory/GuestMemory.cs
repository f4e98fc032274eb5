using System.Runtime.InteropServices;

namespace Vios.Actors.Memory;

/// <summary>
/// An LPAR's memory as real bytes: <see cref="PageCount"/> pages of <see cref="PageSize"/> bytes in
/// one zeroed, page-aligned native buffer. One buffer rather than an object per page (no per-page
/// headers, no GC work) and native rather than a managed array, which stops at 2 GiB.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    public const int PageSize = 4096;
    public const int PageShift = 12;

    /// <summary>1 MiB: the smallest LPAR.</summary>
    public const long MinimumPages = 256;

    /// <summary>64 GiB: far above the 4 GiB the design asks for, still a 32-bit frame number.</summary>
    public const long MaximumPages = 16L * 1024 * 1024;

    private byte* _buffer;

    public GuestMemory(long pageCount)
    {
        if (pageCount < MinimumPages || pageCount > MaximumPages)
        {
            throw new ArgumentOutOfRangeException(nameof(pageCount), pageCount,
                $"guest memory is {MinimumPages} to {MaximumPages} pages of {PageSize} bytes (1 MiB to 64 GiB)");
        }

        PageCount = pageCount;
        var bytes = (nuint)(pageCount * PageSize);
        _buffer = (byte*)NativeMemory.AlignedAlloc(bytes, PageSize);
        NativeMemory.Clear(_buffer, bytes);
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

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            NativeMemory.AlignedFree(buffer);
        }

        GC.SuppressFinalize(this);
    }

    ~GuestMemory()
    {
        if (_buffer is not null)
        {
            NativeMemory.AlignedFree(_buffer);
        }
    }

    private void ThrowFrameOutOfRange(uint frame) =>
        throw new ArgumentOutOfRangeException(nameof(frame), frame,
            $"guest-physical frame {frame} is outside this LPAR's memory of {PageCount} pages");
}
