using System.Buffers.Binary;
using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Storage;

/// <summary>A storage unit's metadata file on a real file: compare-and-write under contention, a lease claimed by exactly one of several racers, a truncated file.</summary>
public sealed class SectorFileSpecs : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vios-sectors-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string UnitPath => Path.Combine(_directory, "unit.meta");

    private static byte[] Counter(ulong value)
    {
        var sector = new byte[UnitLayout.SectorSize];
        BinaryPrimitives.WriteUInt64LittleEndian(sector, value);
        return sector;
    }

    [Fact]
    public void Concurrent_compare_and_writes_lose_no_update()
    {
        const int writers = 4, each = 250;
        var offset = UnitLayout.LockOffset(0);
        using (var file = SectorFile.OpenShared(UnitPath, UnitLayout.HeartbeatRegion + (UnitLayout.MaxHosts * UnitLayout.SectorSize)))
            file.Write(offset, Counter(0));

        Parallel.For(0, writers, _ =>
        {
            // Each writer opens the unit itself, as each host does; within a process they share it.
            using var file = SectorFile.OpenShared(UnitPath, 0);
            for (var done = 0; done < each;)
            {
                var seen = file.Read(offset);
                var next = Counter(BinaryPrimitives.ReadUInt64LittleEndian(seen) + 1);
                if (file.CompareAndWrite(offset, seen, next).Written) done++;
            }
        });

        using var check = SectorFile.OpenShared(UnitPath, 0);
        Assert.Equal((ulong)(writers * each), BinaryPrimitives.ReadUInt64LittleEndian(check.Read(offset)));
    }

    [Fact]
    public void Of_hosts_racing_for_a_free_lease_exactly_one_wins_and_the_others_see_its_claim()
    {
        var offset = UnitLayout.LockOffset(1);
        using var file = SectorFile.OpenShared(UnitPath, UnitLayout.HeartbeatRegion + (UnitLayout.MaxHosts * UnitLayout.SectorSize));
        for (var round = 0; round < 20; round++)
        {
            var before = file.Read(offset);
            var current = LockSector.Decode(before, offset, "lun-0");
            var results = new AtsResult[6];
            Parallel.For(0, results.Length, host =>
            {
                var decision = LeaseRules.Acquire(current, $"vios{host}", new HostSlot(host, 1), 1, null, TimeSpan.Zero, LeaseTiming.Default);
                results[host] = file.CompareAndWrite(offset, before, decision.Replacement!.Encode());
            });

            var winner = Assert.Single(results, r => r.Written);
            var owner = LockSector.Decode(winner.Found, offset, "lun-0").Owner;
            Assert.All(results.Where(r => !r.Written), r => Assert.Equal(owner, LockSector.Decode(r.Found, offset, "lun-0").Owner));
            Assert.Equal(current.Generation + 1, LockSector.Decode(file.Read(offset), offset, "lun-0").Generation);
            // Released for the next round.
            Assert.True(file.CompareAndWrite(offset, winner.Found, LeaseRules.Release(LockSector.Decode(winner.Found, offset, "lun-0"), 2).Encode()).Written);
        }
    }

    [Fact]
    public void A_truncated_unit_file_reads_short_sectors_that_are_refused_as_corrupt_and_the_file_stays_usable()
    {
        var offset = UnitLayout.SlotOffset(0);
        using (var file = SectorFile.OpenShared(UnitPath, UnitLayout.HeartbeatRegion + UnitLayout.SectorSize))
            file.Write(offset, new HeartbeatSlot(true, offset, 1, 1, "vios1").Encode());
        using (var truncate = new FileStream(UnitPath, FileMode.Open, FileAccess.Write)) truncate.SetLength(offset + 100);

        using var reopened = SectorFile.OpenShared(UnitPath, 0);
        Assert.Contains("truncated", Assert.Throws<CorruptSectorException>(() => HeartbeatSlot.Decode(reopened.Read(offset), offset)).Message);
        // Written again, it reads.
        reopened.Write(offset, new HeartbeatSlot(true, offset, 2, 1, "vios1").Encode());
        Assert.Equal(2ul, HeartbeatSlot.Decode(reopened.Read(offset), offset)!.Generation);
    }
}
