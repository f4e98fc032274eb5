using System.Globalization;

namespace Vios.Actors.Storage;

/// <summary>
/// A worldwide port name: 64 bits, written as 16 hex digits in colon-separated pairs
/// (<c>c0:50:76:05:9a:00:00:02</c>), as Linux's FC transport and PowerVM's <c>lsnports</c> print them.
/// </summary>
public readonly record struct Wwpn(ulong Value) : IComparable<Wwpn>
{
    public override string ToString() => string.Join(':', BitConverter.GetBytes(Value).Reverse().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    public int CompareTo(Wwpn other) => Value.CompareTo(other.Value);

    /// <summary>Reads 16 hex digits, with or without colons; a clear error for anything else.</summary>
    public static Wwpn Parse(string text)
    {
        var digits = text.Replace(":", "", StringComparison.Ordinal);
        if (digits.Length != 16 || !ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            throw new FormatException($"'{text}' is not a WWPN: 16 hex digits, such as c0:50:76:05:9a:00:00:02");
        return new Wwpn(value);
    }

    public static bool TryParse(string text, out Wwpn wwpn)
    {
        try
        {
            wwpn = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            wwpn = default;
            return false;
        }
    }
}

/// <summary>
/// S27: a partition's own storage identifiers, distinct from its node's: the active one it logs in
/// with, and the inactive one its destination logs in with during a move (PowerVM's pair per client
/// adapter, the second for Live Partition Mobility).
/// </summary>
public sealed record StorageIdentity(string Lpar, Wwpn Active, Wwpn Inactive)
{
    /// <summary>Both, as audit lines name them.</summary>
    public string Describe() => $"{Lpar} (active {Active}, inactive {Inactive})";
}

/// <summary>
/// Hands out identifier pairs under one prefix, each once, never again (PowerVM: "c05076…", 32,768
/// pairs per prefix, never reused): pair n is the prefix followed by 2n and 2n + 1 in its low bits.
/// The next number is part of the state the caller persists, so a restart never hands one out twice.
/// </summary>
public sealed class IdentifierPool
{
    /// <summary>PowerVM's prefix for virtual Fibre Channel client WWPNs (the top 24 bits).</summary>
    public const ulong DefaultPrefix = 0xc05076UL;

    public const int PairsPerPrefix = 32_768;

    private readonly ulong _base;

    /// <param name="prefix">The top 24 bits.</param>
    /// <param name="block">Which block of <see cref="PairsPerPrefix"/> pairs under the prefix (a cluster's own, bits 16..39).</param>
    /// <param name="next">How many pairs were handed out already.</param>
    public IdentifierPool(ulong prefix = DefaultPrefix, uint block = 0, int next = 0)
    {
        if (prefix > 0xFFFFFF) throw new ArgumentOutOfRangeException(nameof(prefix), $"a WWPN prefix is 24 bits; got {prefix:x}");
        if (next is < 0 or > PairsPerPrefix) throw new ArgumentOutOfRangeException(nameof(next), $"0 to {PairsPerPrefix} pairs; got {next}");
        _base = (prefix << 40) | ((ulong)(block & 0xFFFFFF) << 16);
        Next = next;
    }

    /// <summary>How many pairs were handed out.</summary>
    public int Next { get; private set; }

    public int Left => PairsPerPrefix - Next;

    /// <summary>The next pair for <paramref name="lpar"/>, or the reason there is none (the block is used up: its numbers are never reused).</summary>
    public (StorageIdentity? Identity, string? Refusal) Allocate(string lpar)
    {
        if (Next >= PairsPerPrefix)
            return (null, $"no storage identifiers left for '{lpar}': all {PairsPerPrefix} pairs under {new Wwpn(_base)} were handed out, and none is ever reused");
        var low = (ulong)Next * 2;
        Next++;
        return (new StorageIdentity(lpar, new Wwpn(_base | low), new Wwpn(_base | (low + 1))), null);
    }
}
