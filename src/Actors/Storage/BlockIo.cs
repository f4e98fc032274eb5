using Microsoft.Win32.SafeHandles;

namespace Vios.Actors.Storage;

/// <summary>Argument checks and whole-block reads shared by the devices.</summary>
internal static class BlockIo
{
    public static void Check(long block, long blockCount, string path, int bufferLength, string bufferName)
    {
        if ((ulong)block >= (ulong)blockCount)
        {
            ThrowBlockOutOfRange(block, blockCount, path);
        }

        if (bufferLength != VirtualDisk.BlockSize)
        {
            ThrowNotOneBlock(bufferLength, bufferName);
        }
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; the file ending first is an <see cref="InvalidDataException"/>.</summary>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset, string path, long block)
    {
        var done = 0;
        while (done < destination.Length)
        {
            var read = RandomAccess.Read(handle, destination[done..], offset + done);
            if (read == 0)
            {
                ThrowEndedEarly(path, offset + done, block);
            }

            done += read;
        }
    }

    private static void ThrowBlockOutOfRange(long block, long blockCount, string path) =>
        throw new ArgumentOutOfRangeException(nameof(block), block, $"block {block} is outside the {blockCount} blocks of {path}");

    private static void ThrowNotOneBlock(int length, string bufferName) =>
        throw new ArgumentException($"a block is {VirtualDisk.BlockSize} bytes; the buffer has {length}", bufferName);

    private static void ThrowEndedEarly(string path, long offset, long block) =>
        throw new InvalidDataException(block >= 0
            ? $"{path} ends at byte {offset}, inside block {block}: the file was cut short while in use"
            : $"{path} ends at byte {offset}, before its length said it would: the file was cut short while in use");
}
