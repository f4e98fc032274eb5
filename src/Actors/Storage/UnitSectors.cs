using System.IO.Hashing;
using Vios.Actors.Serialization;

namespace Vios.Actors.Storage;

/// <summary>A sector of a storage unit that does not read as what its place says (torn, overwritten, or never written): what was expected, and where.</summary>
public sealed class CorruptSectorException(string message) : Exception(message);

/// <summary>
/// Where things are in a storage unit's metadata file, VMFS's layout in spirit: a superblock, lock
/// sectors (one per lockable object: the unit, each LUN, each file), and the heartbeat region at
/// 0x300000, one 512-byte slot per host. Every metadata sector ends in a CRC-32 of the rest, so a
/// torn or foreign sector is a <see cref="CorruptSectorException"/>, never a misread.
/// </summary>
public static class UnitLayout
{
    public const int SectorSize = 512;

    /// <summary>The first lock sector; lock sector n is at <c>LockRegion + n * SectorSize</c>.</summary>
    public const long LockRegion = 0x10000;

    public const int MaxLocks = 4096;

    /// <summary>The heartbeat region, where VMFS has it; slot n at <c>HeartbeatRegion + n * SectorSize</c> (<c>xxd -s 0x300000 -l 512</c> shows slot 0).</summary>
    public const long HeartbeatRegion = 0x300000;

    public const int MaxHosts = 2048;

    public static long LockOffset(int index) =>
        index is >= 0 and < MaxLocks ? LockRegion + ((long)index * SectorSize) : throw new ArgumentOutOfRangeException(nameof(index), $"lock 0 to {MaxLocks - 1}; got {index}");

    public static long SlotOffset(int slot) =>
        slot is >= 0 and < MaxHosts ? HeartbeatRegion + ((long)slot * SectorSize) : throw new ArgumentOutOfRangeException(nameof(slot), $"slot 0 to {MaxHosts - 1}; got {slot}");

    /// <summary>Seals a sector: its last four bytes become the CRC-32 of the rest.</summary>
    public static byte[] Seal(SpanWriter writer, string what)
    {
        if (writer.Length > SectorSize - 4) throw new InvalidOperationException($"{what} takes {writer.Length} bytes, over a sector's {SectorSize - 4}");
        var sector = new byte[SectorSize];
        writer.Written.CopyTo(sector);
        Crc32.Hash(sector.AsSpan(0, SectorSize - 4), sector.AsSpan(SectorSize - 4));
        return sector;
    }

    /// <summary>A reader over a sector whose CRC holds; all zeros is <c>false</c> (never written).</summary>
    public static bool Open(ReadOnlySpan<byte> sector, string what, long offset)
    {
        if (sector.Length != SectorSize) throw new CorruptSectorException($"{what} at 0x{offset:x}: {sector.Length} bytes, not a {SectorSize}-byte sector (a truncated unit file?)");
        if (!sector.ContainsAnyExcept((byte)0)) return false;
        Span<byte> crc = stackalloc byte[4];
        Crc32.Hash(sector[..(SectorSize - 4)], crc);
        if (!crc.SequenceEqual(sector[(SectorSize - 4)..]))
            throw new CorruptSectorException($"{what} at 0x{offset:x}: its checksum does not match (a torn or foreign write)");
        return true;
    }

    public static Exception Error(string what, long offset, string reason) => new CorruptSectorException($"{what} at 0x{offset:x}: {reason}");
}

/// <summary>
/// A host's heartbeat slot (VMFS: magic 0xabcdef02 while the host is alive, 0xabcdef01 once it
/// cleared it; its own position; a generation raised when another host reclaims the slot; the
/// host's uptime in microseconds, which moves at every heartbeat; the host's id). A lease names the
/// slot and generation of its holder; renewing every lease a host holds is one write of its slot.
/// </summary>
public sealed record HeartbeatSlot(bool Live, long Position, ulong Generation, ulong UptimeMicros, string Host)
{
    public const uint MagicLive = 0xabcdef02;
    public const uint MagicOff = 0xabcdef01;

    public byte[] Encode()
    {
        using var writer = new SpanWriter(UnitLayout.SectorSize);
        writer.UInt32(Live ? MagicLive : MagicOff);
        writer.UInt64((ulong)Position);
        writer.UInt64(Generation);
        writer.UInt64(UptimeMicros);
        writer.String16(Host);
        return UnitLayout.Seal(writer, "a heartbeat slot");
    }

    /// <summary>The slot at <paramref name="offset"/>; null when never written.</summary>
    public static HeartbeatSlot? Decode(ReadOnlySpan<byte> sector, long offset)
    {
        const string what = "heartbeat slot";
        if (!UnitLayout.Open(sector, what, offset)) return null;
        var reader = new SpanReader(sector, what, reason => UnitLayout.Error(what, offset, reason));
        var magic = reader.UInt32();
        if (magic is not (MagicLive or MagicOff)) throw UnitLayout.Error(what, offset, $"magic {magic:x8} is neither {MagicLive:x8} nor {MagicOff:x8}");
        var position = (long)reader.UInt64();
        if (position != offset) throw UnitLayout.Error(what, offset, $"it says it is at 0x{position:x}");
        return new HeartbeatSlot(magic == MagicLive, position, reader.UInt64(), reader.UInt64(), reader.String16("the host"));
    }
}

/// <summary>The mode of a lock sector (VMFS: 0 free, 1 exclusive, 2 read-only, 3 multi-writer).</summary>
public enum LockMode : uint
{
    Free = 0,
    Exclusive = 1,
    ReadOnly = 2,
    MultiWriter = 3,
}

/// <summary>
/// An on-disk lock (VMFS's lock sector, as <c>vmkfstools -D</c> prints it): the object it guards,
/// its mode, its owner, the owner's heartbeat slot and that slot's generation when it claimed it,
/// the lock's own generation (raised at every claim, release and break: a holder that finds it
/// raised has lost the lock), when it last changed (the owner's uptime), and how many hold it.
/// </summary>
public sealed record LockSector(string Name, LockMode Mode, string Owner, long HeartbeatOffset, ulong HeartbeatGeneration, ulong Generation, ulong ChangedMicros, uint Holders)
{
    private const uint Magic = 0x4b434c56; // "VLCK"

    public static LockSector FreeNamed(string name) => new(name, LockMode.Free, "", 0, 0, 0, 0, 0);

    public bool IsFree => Mode == LockMode.Free;

    public byte[] Encode()
    {
        using var writer = new SpanWriter(UnitLayout.SectorSize);
        writer.UInt32(Magic);
        writer.UInt32((uint)Mode);
        writer.UInt64((ulong)HeartbeatOffset);
        writer.UInt64(HeartbeatGeneration);
        writer.UInt64(Generation);
        writer.UInt64(ChangedMicros);
        writer.UInt32(Holders);
        writer.String16(Owner);
        writer.String16(Name);
        return UnitLayout.Seal(writer, "a lock sector");
    }

    /// <summary>The lock at <paramref name="offset"/>; a never-written sector is a free lock named <paramref name="name"/>.</summary>
    public static LockSector Decode(ReadOnlySpan<byte> sector, long offset, string name)
    {
        const string what = "lock sector";
        if (!UnitLayout.Open(sector, what, offset)) return FreeNamed(name);
        var reader = new SpanReader(sector, what, reason => UnitLayout.Error(what, offset, reason));
        if (reader.UInt32() is var magic && magic != Magic) throw UnitLayout.Error(what, offset, $"magic {magic:x8} is not a lock's");
        var mode = reader.UInt32();
        if (!Enum.IsDefined((LockMode)mode)) throw UnitLayout.Error(what, offset, $"mode {mode} is not 0 to 3");
        var lockSector = new LockSector("", (LockMode)mode, "", (long)reader.UInt64(), reader.UInt64(), reader.UInt64(), reader.UInt64(), reader.UInt32());
        return lockSector with { Owner = reader.String16("the owner"), Name = reader.String16("the name") };
    }

    /// <summary>As <c>vmkfstools -D</c> prints a lock.</summary>
    public override string ToString() =>
        $"Lock [{Name} v {Generation}, hb offset {HeartbeatOffset} gen {HeartbeatGeneration}, mode {(uint)Mode}, owner {(Owner.Length == 0 ? "none" : Owner)} mtime {ChangedMicros} nHld {Holders}]";
}
