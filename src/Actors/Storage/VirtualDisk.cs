using Microsoft.Win32.SafeHandles;

namespace Vios.Actors.Storage;

/// <summary>
/// A base disk: <see cref="BlockCount"/> blocks of <see cref="BlockSize"/> bytes, block <c>n</c> at
/// byte <c>n * BlockSize</c> of a plain file and nothing else in it, so the file is the disk image
/// and a copy of it (S24: "a copy may be made of the parent disk file for retention") is a disk too.
/// </summary>
/// <remarks>
/// <para>
/// A new disk is created with <see cref="RandomAccess.SetLength"/> and no writes, so on file systems
/// with sparse files it takes host space only for the blocks the guest has written, as
/// <c>GuestMemory</c> takes host memory only for touched pages.
/// </para>
/// <para>
/// I/O goes through <see cref="RandomAccess"/> on a <see cref="SafeFileHandle"/> (positional
/// <c>pread</c>/<c>pwrite</c>): there is no shared file position, so reads and writes of different
/// blocks may run on any threads at once without a lock.
/// </para>
/// </remarks>
public sealed class VirtualDisk : IBlockDevice, IDisposable
{
    public const int BlockSize = 4096;

    /// <summary>
    /// 256 TiB: far above any LPAR's disk, and low enough that every byte offset of a disk or of a
    /// copy-on-write layer over it (whose records are a little larger than a block) fits a long.
    /// </summary>
    public const long MaximumBlocks = 1L << 36;

    private readonly SafeFileHandle _handle;

    private VirtualDisk(SafeFileHandle handle, string path, long blockCount, bool isReadOnly)
    {
        _handle = handle;
        Path = path;
        BlockCount = blockCount;
        IsReadOnly = isReadOnly;
    }

    public long BlockCount { get; }

    public string Path { get; }

    /// <summary>Opened for reading only: a retained checkpoint image, say. Writes are refused.</summary>
    public bool IsReadOnly { get; }

    /// <summary>Creates a new, all-zero disk file; an existing file is never overwritten.</summary>
    /// <exception cref="IOException">The file exists, or cannot be created or sized.</exception>
    public static VirtualDisk Create(string path, long blockCount)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockCount, MaximumBlocks);
        var fullPath = System.IO.Path.GetFullPath(path);
        var handle = File.OpenHandle(fullPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            RandomAccess.SetLength(handle, blockCount * BlockSize);
        }
        catch
        {
            handle.Dispose();
            File.Delete(fullPath);
            throw;
        }

        return new VirtualDisk(handle, fullPath, blockCount, isReadOnly: false);
    }

    /// <summary>Opens an existing disk file; its length says how many blocks it has.</summary>
    /// <param name="path">The disk file.</param>
    /// <param name="readOnly">
    /// Open for reading only, sharing the file with a writer (a copy may be taken of a disk the
    /// LPAR is still using).
    /// </param>
    /// <exception cref="InvalidDataException">The file is empty or not a whole number of blocks.</exception>
    public static VirtualDisk Open(string path, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        var handle = readOnly
            ? File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)
            : File.OpenHandle(fullPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            var length = RandomAccess.GetLength(handle);
            if (length == 0 || length % BlockSize != 0)
            {
                throw new InvalidDataException(
                    $"{fullPath} is {length} bytes, not a whole, non-zero number of {BlockSize}-byte blocks: it is not a virtual disk, or it was cut short");
            }

            if (length / BlockSize > MaximumBlocks)
            {
                throw new InvalidDataException(
                    $"{fullPath} is {length / BlockSize} blocks, more than the {MaximumBlocks} a virtual disk may have");
            }

            return new VirtualDisk(handle, fullPath, length / BlockSize, readOnly);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public void Read(long block, Span<byte> destination)
    {
        BlockIo.Check(block, BlockCount, Path, destination.Length, nameof(destination));
        BlockIo.ReadExactly(_handle, destination, block * BlockSize, Path, block);
    }

    /// <exception cref="InvalidOperationException">The disk was opened read-only.</exception>
    public void Write(long block, ReadOnlySpan<byte> source)
    {
        BlockIo.Check(block, BlockCount, Path, source.Length, nameof(source));
        if (IsReadOnly)
        {
            ThrowReadOnly();
        }

        RandomAccess.Write(_handle, source, block * BlockSize);
    }

    public void Flush()
    {
        // Nothing of ours to make durable, and Windows refuses FlushFileBuffers on a read-only handle.
        if (!IsReadOnly)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    /// <summary>Closes the file. Writes not yet flushed are with the operating system, not necessarily on disk.</summary>
    public void Dispose() => _handle.Dispose();

    private void ThrowReadOnly() => throw new InvalidOperationException($"{Path} was opened read-only");
}
