using System.Collections;
using System.Collections.Immutable;
using System.Text;

namespace Vios.Actors.Kernel;

/// <summary>
/// Immutable bytes with value equality (queued messages, segment contents, module state), printed
/// as text with <c>\xNN</c> escapes so views and test failures are readable.
/// </summary>
public readonly struct ByteString : IEquatable<ByteString>
{
    private readonly ImmutableArray<byte> _bytes;

    public ByteString(ImmutableArray<byte> bytes) => _bytes = bytes.IsDefault ? [] : bytes;

    public static ByteString Empty => new([]);

    public static ByteString Of(ReadOnlySpan<byte> bytes) => new([.. bytes]);

    public static ByteString Of(string text) => Of(Encoding.UTF8.GetBytes(text));

    public int Length => _bytes.IsDefault ? 0 : _bytes.Length;

    public ReadOnlySpan<byte> Span => _bytes.IsDefault ? [] : _bytes.AsSpan();

    public ImmutableArray<byte> Bytes => _bytes.IsDefault ? [] : _bytes;

    public byte[] ToArray() => Span.ToArray();

    public bool Equals(ByteString other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is ByteString other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Span);
        return hash.ToHashCode();
    }

    public static bool operator ==(ByteString left, ByteString right) => left.Equals(right);

    public static bool operator !=(ByteString left, ByteString right) => !left.Equals(right);

    public override string ToString()
    {
        var text = new StringBuilder(Length + 2).Append('"');
        foreach (var b in Span)
        {
            if (b is >= 0x20 and < 0x7F && b != (byte)'"' && b != (byte)'\\') text.Append((char)b);
            else text.Append(b switch { (byte)'\n' => "\\n", (byte)'\r' => "\\r", (byte)'"' => "\\\"", (byte)'\\' => "\\\\", _ => $"\\x{b:x2}" });
        }
        return text.Append('"').ToString();
    }
}

/// <summary>
/// An immutable list with value equality, so records that hold lists compare by content (the
/// structural equality of <see cref="WparView"/>).
/// </summary>
public readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IReadOnlyList<T>
{
    private readonly ImmutableArray<T> _items;

    public EquatableArray(ImmutableArray<T> items) => _items = items.IsDefault ? [] : items;

    public static implicit operator EquatableArray<T>(ImmutableArray<T> items) => new(items);

    public ImmutableArray<T> Items => _items.IsDefault ? [] : _items;

    public int Count => _items.IsDefault ? 0 : _items.Length;

    public T this[int index] => Items[index];

    public bool Equals(EquatableArray<T> other) => Items.AsSpan().SequenceEqual(other.Items.AsSpan(), EqualityComparer<T>.Default);

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in Items) hash.Add(item);
        return hash.ToHashCode();
    }

    public static bool operator ==(EquatableArray<T> left, EquatableArray<T> right) => left.Equals(right);

    public static bool operator !=(EquatableArray<T> left, EquatableArray<T> right) => !left.Equals(right);

    public ImmutableArray<T>.Enumerator GetEnumerator() => Items.GetEnumerator();

    IEnumerator<T> IEnumerable<T>.GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable)Items).GetEnumerator();

    public override string ToString() => $"[{string.Join(", ", Items)}]";
}

/// <summary>Builds <see cref="EquatableArray{T}"/>s.</summary>
public static class EquatableArray
{
    public static EquatableArray<T> From<T>(IEnumerable<T> items) => new([.. items]);
}
