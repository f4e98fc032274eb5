namespace Vios.Actors.Storage;

/// <summary>
/// Blocks of <see cref="VirtualDisk.BlockSize"/> bytes numbered from zero: a base disk file, or a
/// copy-on-write layer over another device. An LPAR's disk is a stack of these (<see cref="LparDisk"/>).
/// </summary>
/// <remarks>
/// Every block transfer is one whole block into or out of a caller's span, so the devices allocate
/// nothing per I/O and a stack of layers passes the same span down to the device that holds the block.
/// </remarks>
public interface IBlockDevice
{
    /// <summary>How many blocks the device holds; the same at every level of a stack.</summary>
    long BlockCount { get; }

    /// <summary>The full path of the file that holds this device's own blocks.</summary>
    string Path { get; }

    /// <summary>Reads block <paramref name="block"/> into <paramref name="destination"/>, exactly one block long.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The block is not on the device.</exception>
    /// <exception cref="ArgumentException">The span is not exactly one block.</exception>
    void Read(long block, Span<byte> destination);

    /// <summary>Writes one block. It is durable once <see cref="Flush"/> returns, as on a disk with a write cache.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The block is not on the device.</exception>
    /// <exception cref="ArgumentException">The span is not exactly one block.</exception>
    void Write(long block, ReadOnlySpan<byte> source);

    /// <summary>Makes every write that returned before this call durable (the cache flush of a real disk).</summary>
    void Flush();
}
