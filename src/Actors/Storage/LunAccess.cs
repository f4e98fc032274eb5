using System.Buffers.Binary;

namespace Vios.Actors.Storage;

/// <summary>A refused login or access, with both of the partition's identifiers and the one it used.</summary>
public sealed record AccessRefusal(DateTimeOffset At, string Unit, string Lpar, Wwpn Active, Wwpn Inactive, Wwpn Used, string Reason)
{
    public override string ToString() => $"{At:HH:mm:ss.fff} {Unit}: {Lpar} (active {Active}, inactive {Inactive}) as {Used}: {Reason}";
}

/// <summary>
/// S27: who may reach which logical units of one storage unit, in two stages, as a SAN does it.
/// Zoning: an identifier that is not zoned to the unit cannot log in at all (no fallback to the
/// node's own identifier, as VMware's silent one). LUN masking: a logged-in identifier sees only the
/// LUNs mapped to it; REPORT LUNS lists those alone, and any other LUN answers ILLEGAL REQUEST,
/// LOGICAL UNIT NOT SUPPORTED (25h/00h), as Linux's LIO target. Before a partition moves, its
/// inactive identifier's view is checked (<see cref="CheckMove"/>). Every refusal is counted and
/// kept with both identifiers (the last <see cref="RefusalsKept"/>), for the log and the audit.
/// </summary>
public sealed class LunAccess(string unit)
{
    public const int RefusalsKept = 256;

    private readonly HashSet<Wwpn> _zoned = [];
    private readonly SortedDictionary<int, HashSet<Wwpn>> _masks = new();
    private readonly Queue<AccessRefusal> _refusals = new();

    public string Unit { get; } = unit;

    /// <summary>Refusals since the unit was opened.</summary>
    public long RefusalCount { get; private set; }

    public IReadOnlyCollection<AccessRefusal> RecentRefusals => _refusals;

    public IEnumerable<int> Luns => _masks.Keys;

    public IReadOnlySet<Wwpn> Zoned => _zoned;

    public void AddLun(int lun)
    {
        if (lun is < 0 or > MaxLun) throw new ArgumentOutOfRangeException(nameof(lun), $"a LUN is 0 to {MaxLun}; got {lun}");
        _masks.TryAdd(lun, []);
    }

    /// <summary>LUNs up to 16,383: single-level peripheral (below 256) or flat space addressing.</summary>
    public const int MaxLun = 16_383;

    public void Zone(Wwpn wwpn) => _zoned.Add(wwpn);

    public void Unzone(Wwpn wwpn) => _zoned.Remove(wwpn);

    /// <summary>Maps <paramref name="lun"/> to <paramref name="wwpn"/>; the refusal when the unit has no such LUN.</summary>
    public string? Map(int lun, Wwpn wwpn)
    {
        if (!_masks.TryGetValue(lun, out var mask)) return $"{Unit} has no LUN {lun} (its LUNs: {string.Join(", ", _masks.Keys)})";
        mask.Add(wwpn);
        return null;
    }

    public void Unmap(int lun, Wwpn wwpn)
    {
        if (_masks.TryGetValue(lun, out var mask)) mask.Remove(wwpn);
    }

    /// <summary>The LUNs <paramref name="wwpn"/> sees: those mapped to it, once zoned.</summary>
    public IReadOnlyList<int> Visible(Wwpn wwpn) =>
        !_zoned.Contains(wwpn) ? [] : _masks.Where(m => m.Value.Contains(wwpn)).Select(m => m.Key).ToList();

    /// <summary>A login by <paramref name="identity"/> as <paramref name="used"/>: null when zoned, else the refusal (counted).</summary>
    public string? Login(StorageIdentity identity, Wwpn used, DateTimeOffset now)
    {
        if (used != identity.Active && used != identity.Inactive)
            return Refuse(identity, used, now, $"{used} is not one of {identity.Lpar}'s identifiers");
        return _zoned.Contains(used) ? null : Refuse(identity, used, now, $"{used} is not zoned to {Unit}: it cannot log in");
    }

    /// <summary>A command from <paramref name="used"/> to <paramref name="lun"/>: GOOD when it is mapped there, else 25h/00h (counted).</summary>
    public ScsiOutcome Check(StorageIdentity identity, Wwpn used, int lun, DateTimeOffset now)
    {
        if (!_zoned.Contains(used))
        {
            Refuse(identity, used, now, $"{used} is not zoned to {Unit}");
            return ScsiOutcome.Check(Sense.LogicalUnitNotSupported);
        }
        if (_masks.TryGetValue(lun, out var mask) && mask.Contains(used)) return ScsiOutcome.Good;
        Refuse(identity, used, now, _masks.ContainsKey(lun) ? $"LUN {lun} is not mapped to {used}" : $"{Unit} has no LUN {lun}");
        return ScsiOutcome.Check(Sense.LogicalUnitNotSupported);
    }

    /// <summary>
    /// Before <paramref name="identity"/>'s partition moves: its inactive identifier, which the
    /// destination logs in with, must be zoned and see every LUN in <paramref name="needed"/>. Null
    /// when it does; else what is missing (counted), and the move is refused before it starts.
    /// </summary>
    public string? CheckMove(StorageIdentity identity, IReadOnlyCollection<int> needed, DateTimeOffset now)
    {
        if (!_zoned.Contains(identity.Inactive))
            return Refuse(identity, identity.Inactive, now, $"its inactive identifier {identity.Inactive} is not zoned to {Unit}: the destination could not log in");
        var visible = Visible(identity.Inactive).ToHashSet();
        var missing = needed.Where(l => !visible.Contains(l)).Order().ToList();
        return missing.Count == 0 ? null
            : Refuse(identity, identity.Inactive, now, $"its inactive identifier {identity.Inactive} does not see LUN {string.Join(", ", missing)} of {Unit}");
    }

    /// <summary>REPORT LUNS parameter data for <paramref name="wwpn"/> (SPC-4 6.33): the list length (4 bytes, big-endian), 4 reserved, then 8 bytes per mapped LUN.</summary>
    public byte[] ReportLuns(Wwpn wwpn)
    {
        var luns = Visible(wwpn);
        var data = new byte[8 + (8 * luns.Count)];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(8 * luns.Count));
        for (var i = 0; i < luns.Count; i++) EncodeLun(luns[i], data.AsSpan(8 + (8 * i), 8));
        return data;
    }

    /// <summary>Reads REPORT LUNS parameter data back; a clear error when it is not.</summary>
    public static IReadOnlyList<int> ParseReportLuns(ReadOnlySpan<byte> data)
    {
        if (data.Length < 8) throw new FormatException($"REPORT LUNS data is at least 8 bytes; got {data.Length}");
        var length = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (length % 8 != 0 || 8 + length > (ulong)data.Length)
            throw new FormatException($"REPORT LUNS list length {length} does not fit {data.Length - 8} bytes of 8-byte entries");
        var luns = new List<int>();
        for (var offset = 8; offset < 8 + length; offset += 8) luns.Add(DecodeLun(data.Slice(offset, 8)));
        return luns;
    }

    /// <summary>SAM-5 single-level LUN: peripheral device addressing below 256, flat space (01b) above.</summary>
    public static void EncodeLun(int lun, Span<byte> entry)
    {
        entry.Clear();
        if (lun < 256) entry[1] = (byte)lun;
        else
        {
            entry[0] = (byte)(0x40 | (lun >> 8));
            entry[1] = (byte)lun;
        }
    }

    public static int DecodeLun(ReadOnlySpan<byte> entry) => (entry[0] >> 6) switch
    {
        0 when entry[0] == 0 => entry[1],
        1 => ((entry[0] & 0x3F) << 8) | entry[1],
        _ => throw new FormatException($"LUN entry {Convert.ToHexString(entry)} uses an addressing method other than peripheral or flat space"),
    };

    private string Refuse(StorageIdentity identity, Wwpn used, DateTimeOffset now, string reason)
    {
        RefusalCount++;
        _refusals.Enqueue(new AccessRefusal(now, Unit, identity.Lpar, identity.Active, identity.Inactive, used, reason));
        while (_refusals.Count > RefusalsKept) _refusals.Dequeue();
        return reason;
    }
}
