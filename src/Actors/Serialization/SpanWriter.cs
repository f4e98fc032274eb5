using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Vios.Actors.Serialization;

/// <summary>
/// The one writer of the project's durable binary formats (checkpoint chunks, replica parts, vCPU
/// and workload state, WPAR images): little-endian fields appended to a buffer from the array pool
/// that grows as needed, and lengths reserved first and filled in once what they count is written.
/// Each format names its layout in a class of its own (as <see cref="Protocol.FrameLayout"/> does)
/// and reads back with <see cref="SpanReader"/>. Dispose returns the buffer to the pool.
/// </summary>
public sealed class SpanWriter(int capacity = 256) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 16));
    private int _length;

    /// <summary>The bytes written so far.</summary>
    public int Length => _length;

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => Written.ToArray();

    /// <summary>Appends what was written to <paramref name="output"/> (an Akka serializer's buffer).</summary>
    public void WriteTo(IBufferWriter<byte> output) => output.Write(Written);

    public void Byte(byte value) => Take(1)[0] = value;

    public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public void UInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);

    public void Int32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

    public void UInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

    public void Int64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

    public void UInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);

    public void Double(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Take(8), value);

    /// <summary>Bytes as they are, no length: the layout says how many.</summary>
    public void Bytes(ReadOnlySpan<byte> value) => value.CopyTo(Take(value.Length));

    /// <summary>Little-endian 32-bit words, whatever the host's byte order.</summary>
    public void UInt32s(ReadOnlySpan<uint> values)
    {
        var span = Take(values.Length * 4);
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(i * 4)..], values[i]);
    }

    /// <summary>A string as its UTF-8 length (uint16) and bytes; refused past 65,535 bytes.</summary>
    public void String16(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue) throw new ArgumentException($"a string of {length} UTF-8 bytes is over the format's {ushort.MaxValue}");
        UInt16((ushort)length);
        Encoding.UTF8.GetBytes(value, Take(length));
    }

    /// <summary>ASCII as it is (a four-character tag): the layout says how many.</summary>
    public void Ascii(string value) => Encoding.ASCII.GetBytes(value, Take(value.Length));

    /// <summary>Zeros.</summary>
    public void Skip(int count) => Take(count).Clear();

    /// <summary>Room for a 32-bit length, filled in by <see cref="EndLength"/>: returns where it is.</summary>
    public int BeginLength()
    {
        var at = _length;
        Take(4);
        return at;
    }

    /// <summary>Fills in the length begun at <paramref name="at"/>: the bytes written after it.</summary>
    public void EndLength(int at) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(at), (uint)(_length - at - 4));

    /// <summary>Overwrites 8 bytes written before (a checksum computed over the rest).</summary>
    public void PatchUInt64(int at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(at, 8), value);

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>The next <paramref name="count"/> bytes of the buffer, grown if needed; the caller fills them.</summary>
    public Span<byte> Take(int count)
    {
        if (_length + count > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + count));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
