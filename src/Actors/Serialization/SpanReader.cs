using System.Buffers.Binary;
using System.Text;

namespace Vios.Actors.Serialization;

/// <summary>
/// The one reader of the project's durable binary formats, the counterpart of <see cref="SpanWriter"/>:
/// little-endian fields read in order, each read checked against the bytes left (before the current
/// limit, a section's end), so a truncated or corrupt record is a typed error naming where it broke,
/// never an <see cref="IndexOutOfRangeException"/> or a huge allocation. Errors are made by
/// <paramref name="error"/> (each format has its exception type); by default a <see cref="FormatException"/>
/// that names <paramref name="format"/>.
/// </summary>
public ref struct SpanReader(ReadOnlySpan<byte> bytes, string format, Func<string, Exception>? error = null)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _end = bytes.Length;

    /// <summary>Where the next read starts.</summary>
    public int Position { get; private set; }

    /// <summary>Bytes left before the limit.</summary>
    public readonly int Remaining => _end - Position;

    public readonly bool AtEnd => Position == _bytes.Length;

    /// <summary>What is being read (a section), named in every error from here on.</summary>
    public string? Where { get; set; }

    /// <summary>Reads from <paramref name="position"/> on (past a header read apart).</summary>
    public void Seek(int position)
    {
        if ((uint)position > (uint)_bytes.Length) throw Malformed($"offset {position} is outside the {_bytes.Length} bytes");
        Position = position;
    }

    /// <summary>Reads stop at <paramref name="end"/> until <see cref="Unlimit"/> (a section's end).</summary>
    public void Limit(int end)
    {
        if (end < Position || end > _bytes.Length) throw Malformed($"a section ending at {end} does not fit between offset {Position} and {_bytes.Length}");
        _end = end;
    }

    public void Unlimit() => _end = _bytes.Length;

    public byte Byte() => Take(1)[0];

    /// <summary>0 or 1; any other byte is an error.</summary>
    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        var other => throw Malformed($"a boolean byte is {other} at offset {Position - 1}"),
    };

    public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    /// <summary>A byte that must be a defined value of <typeparamref name="T"/>.</summary>
    public T Enum<T>() where T : struct, Enum
    {
        var raw = Byte();
        var value = (T)(object)raw;
        return System.Enum.IsDefined(value) ? value : throw Malformed($"{raw} is not a {typeof(T).Name}");
    }

    /// <summary>The next <paramref name="count"/> bytes as they are.</summary>
    public ReadOnlySpan<byte> Bytes(int count, string what = "bytes")
    {
        if (count < 0) throw Malformed($"{what} declare a negative length ({count})");
        if (count > Remaining) throw Malformed($"{what} declare {count} bytes at offset {Position}, {Remaining} remain");
        return Take(count);
    }

    /// <summary>Everything left before the limit.</summary>
    public ReadOnlySpan<byte> Rest() => Take(Remaining);

    /// <summary><paramref name="count"/> little-endian 32-bit words, whatever the host's byte order.</summary>
    public uint[] UInt32s(int count, string what = "words")
    {
        if (count < 0 || count > Remaining / 4) throw Malformed($"{count} {what} cannot fit in the {Remaining} bytes left at offset {Position}");
        var span = Take(count * 4);
        var values = new uint[count];
        for (var i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadUInt32LittleEndian(span[(i * 4)..]);
        return values;
    }

    /// <summary>A string as its UTF-8 length (uint16) and bytes, which must be UTF-8.</summary>
    public string String16(string what = "a string") => Utf8(UInt16(), what);

    /// <summary><paramref name="count"/> bytes of UTF-8.</summary>
    public string Utf8(int count, string what = "a string")
    {
        var bytes = Bytes(count, what);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Malformed($"{what} is not UTF-8");
        }
    }

    /// <summary><paramref name="count"/> bytes of ASCII (a tag).</summary>
    public string Ascii(int count) => Encoding.ASCII.GetString(Bytes(count, "a tag"));

    /// <summary>A 32-bit length that must be non-negative and fit in what is left.</summary>
    public int Length32(string what)
    {
        var length = Int32();
        if (length < 0) throw Malformed($"the length of {what} is negative ({length})");
        if (length > Remaining) throw Malformed($"{what} declares {length} bytes at offset {Position}, {Remaining} remain");
        return length;
    }

    /// <summary>A count (uint32) of items of at least <paramref name="minItemBytes"/> each: never more than the bytes left could hold.</summary>
    public int Count(int minItemBytes, string what = "items")
    {
        var count = UInt32();
        if (count > (uint)(Remaining / Math.Max(minItemBytes, 1))) throw Malformed($"a count of {count} {what} cannot fit in the {Remaining} bytes left");
        return (int)count;
    }

    /// <summary>Nothing may be left before the limit.</summary>
    public readonly void ExpectEnd(string where)
    {
        if (Remaining != 0) throw Malformed($"{Remaining} bytes left over {where}");
    }

    /// <summary>The format's error for <paramref name="reason"/>.</summary>
    public readonly Exception Malformed(string reason)
    {
        var where = Where is null ? reason : $"{Where}: {reason}";
        return error?.Invoke(where) ?? new FormatException($"{format}: {where}");
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > Remaining) throw Malformed($"needs {count} bytes at offset {Position}, {Remaining} remain");
        var span = _bytes.Slice(Position, count);
        Position += count;
        return span;
    }
}
