using CsCheck;
using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Storage;

/// <summary>The storage unit's metadata sectors: heartbeat slots and lock sectors read back, and anything torn or foreign is a typed error.</summary>
public sealed class UnitSectorSpecs
{
    private static readonly Gen<string> Names = Gen.String[Gen.Char.AlphaNumeric, 0, 60];

    private static readonly Gen<HeartbeatSlot> Slots = Gen.Select(Gen.Bool, Gen.Int[0, UnitLayout.MaxHosts - 1], Gen.ULong, Gen.ULong, Names)
        .Select(t => new HeartbeatSlot(t.Item1, UnitLayout.SlotOffset(t.Item2), t.Item3, t.Item4, t.Item5));

    private static readonly Gen<LockSector> Locks = Gen.Select(Names, Gen.Int[0, 3], Names, Gen.Long[0, long.MaxValue], Gen.ULong, Gen.ULong, Gen.ULong, Gen.UInt)
        .Select(t => new LockSector(t.Item1, (LockMode)t.Item2, t.Item3, t.Item4, t.Item5, t.Item6, t.Item7, t.Item8));

    [Fact]
    public void Slots_and_locks_read_back_as_written_and_a_never_written_sector_is_empty_or_free()
    {
        Slots.Sample(slot => Assert.Equal(slot, HeartbeatSlot.Decode(slot.Encode(), slot.Position)));
        Locks.Sample(sector => Assert.Equal(sector, LockSector.Decode(sector.Encode(), UnitLayout.LockOffset(3), "ignored")));

        Assert.Null(HeartbeatSlot.Decode(new byte[UnitLayout.SectorSize], UnitLayout.SlotOffset(0)));
        Assert.Equal(LockSector.FreeNamed("lun-0"), LockSector.Decode(new byte[UnitLayout.SectorSize], UnitLayout.LockOffset(0), "lun-0"));
    }

    [Fact]
    public void The_live_slot_starts_with_the_VMFS_magic_and_a_lock_prints_as_vmkfstools_does()
    {
        var slot = new HeartbeatSlot(true, UnitLayout.SlotOffset(2), 6155, 23_668_000, "vios1").Encode();
        Assert.Equal(new byte[] { 0x02, 0xef, 0xcd, 0xab }, slot[..4]);
        Assert.Equal(0x300400, UnitLayout.SlotOffset(2));

        var held = new LockSector("lun-0", LockMode.Exclusive, "vios1", 0x300400, 6155, 44, 23668, 1);
        Assert.Equal("Lock [lun-0 v 44, hb offset 3146752 gen 6155, mode 1, owner vios1 mtime 23668 nHld 1]", held.ToString());
    }

    [Fact]
    public void A_torn_truncated_misplaced_or_foreign_sector_is_a_corrupt_sector_error_naming_where()
    {
        var offset = UnitLayout.SlotOffset(1);
        var slot = new HeartbeatSlot(true, offset, 1, 2, "vios1").Encode();

        var torn = slot.ToArray();
        torn[20] ^= 0xFF;
        Assert.Contains("checksum", Assert.Throws<CorruptSectorException>(() => HeartbeatSlot.Decode(torn, offset)).Message);
        Assert.Contains("truncated", Assert.Throws<CorruptSectorException>(() => HeartbeatSlot.Decode(slot[..100], offset)).Message);
        // A slot copied to another place says where it belongs.
        Assert.Contains("0x300200", Assert.Throws<CorruptSectorException>(() => HeartbeatSlot.Decode(slot, UnitLayout.SlotOffset(5))).Message);
        // A lock sector where a slot should be, and the other way round.
        var lockSector = new LockSector("unit", LockMode.Free, "", 0, 0, 1, 0, 0).Encode();
        Assert.Contains("magic", Assert.Throws<CorruptSectorException>(() => HeartbeatSlot.Decode(lockSector, offset)).Message);
        Assert.Contains("magic", Assert.Throws<CorruptSectorException>(() => LockSector.Decode(slot, offset, "unit")).Message);

        // Random contents under a valid checksum, after each kind's magic: read, or refused as corrupt, never anything else.
        Gen.Select(Gen.Bool, Gen.Byte.Array[0, UnitLayout.SectorSize - 8]).Sample(t =>
        {
            using var writer = new Vios.Actors.Serialization.SpanWriter();
            writer.UInt32(t.Item1 ? 0x4b434c56u : HeartbeatSlot.MagicLive);
            writer.Bytes(t.Item2);
            var sealedSector = UnitLayout.Seal(writer, "garbage");
            try { LockSector.Decode(sealedSector, UnitLayout.LockOffset(0), "x"); }
            catch (CorruptSectorException) { }
            try { HeartbeatSlot.Decode(sealedSector, UnitLayout.SlotOffset(0)); }
            catch (CorruptSectorException) { }
        });
    }
}
