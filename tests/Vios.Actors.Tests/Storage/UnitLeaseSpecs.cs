using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Storage;

/// <summary>
/// S21 on a real unit file: hosts (here in one process, each with its own view and a clock the spec
/// moves) join the heartbeat region, claim, wait for, break and release one lease; a holder whose
/// slot was reclaimed learns it on its next heartbeat.
/// </summary>
public sealed class UnitLeaseSpecs : IDisposable
{
    private static readonly LeaseTiming Timing = LeaseTiming.Default;

    private readonly string _directory = Directory.CreateTempSubdirectory("vios-leases-").FullName;
    private TimeSpan _now = TimeSpan.FromSeconds(100);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private UnitLeases Host(string name) => new(Path.Combine(_directory, "unit.meta"), name, Timing, () => _now);

    [Fact]
    public void One_host_claims_the_other_waits_while_it_heartbeats_and_breaks_it_once_it_stood_still_for_the_timeout_and_no_earlier()
    {
        using var vios1 = Host("vios1");
        using var vios2 = Host("vios2");
        Assert.Equal(0, vios1.Join()!.Slot);
        Assert.Equal(1, vios2.Join()!.Slot);

        var claimed = vios1.TryAcquire(0, "lun-0");
        Assert.Equal(LeaseVerdict.Claim, claimed.Verdict);
        var generation = claimed.Replacement!.Generation;
        Assert.Equal(LeaseVerdict.Wait, vios2.TryAcquire(0, "lun-0").Verdict);

        // vios1 heartbeats through two timeouts: never broken.
        for (var i = 0; i < 10; i++)
        {
            _now += Timing.HeartbeatInterval;
            Assert.True(vios1.Heartbeat());
            vios2.Scan();
            Assert.Equal(LeaseVerdict.Wait, vios2.TryAcquire(0, "lun-0").Verdict);
        }

        // vios1 stops (frozen): just under the timeout, still waiting; at it, broken.
        _now += Timing.Timeout - TimeSpan.FromMilliseconds(10);
        vios2.Scan();
        Assert.Equal(LeaseVerdict.Wait, vios2.TryAcquire(0, "lun-0").Verdict);
        _now += TimeSpan.FromMilliseconds(10);
        var broken = vios2.TryAcquire(0, "lun-0");
        Assert.Equal(LeaseVerdict.Break, broken.Verdict);
        Assert.Equal(("vios2", generation + 1), (vios2.Read(0, "lun-0").Owner, vios2.Read(0, "lun-0").Generation));

        // vios1 resumes: its slot is its own still, but the lease is not; its release changes nothing.
        Assert.True(vios1.Heartbeat());
        Assert.False(vios1.StillHeld(0, "lun-0", generation));
        Assert.False(vios1.Release(0, "lun-0", generation));
        Assert.True(vios2.StillHeld(0, "lun-0", generation + 1));
    }

    [Fact]
    public void A_clean_leave_lets_another_host_take_the_lease_at_once_and_a_released_lease_is_free()
    {
        using var vios1 = Host("vios1");
        using var vios2 = Host("vios2");
        vios1.Join();
        vios2.Join();
        var generation = vios1.TryAcquire(3, "lun-3").Replacement!.Generation;
        Assert.True(vios1.Release(3, "lun-3", generation));
        Assert.True(vios2.Read(3, "lun-3").IsFree);
        Assert.Equal(LeaseVerdict.Claim, vios2.TryAcquire(3, "lun-3").Verdict);

        Assert.Equal(LeaseVerdict.Held, vios2.TryAcquire(3, "lun-3").Verdict);
        vios2.Leave();
        Assert.Null(vios2.Slot);
        Assert.Equal(LeaseVerdict.Break, vios1.TryAcquire(3, "lun-3").Verdict);
    }

    [Fact]
    public void A_host_frozen_past_the_timeout_finds_its_slot_reclaimed_and_all_its_leases_lost()
    {
        using var vios1 = Host("vios1");
        using var vios2 = Host("vios2");
        vios1.Join();
        var generation = vios1.TryAcquire(0, "lun-0").Replacement!.Generation;

        // Every slot scanned is taken but vios1's, which stands still past the timeout.
        var others = Enumerable.Range(2, UnitLeases.SlotsScanned - 1).Select(i => Host($"other{i}")).ToList();
        try
        {
            foreach (var other in others) Assert.NotNull(other.Join());
            Assert.Null(vios2.Join());
            _now += Timing.Timeout;
            foreach (var other in others) Assert.True(other.Heartbeat());
            var taken = vios2.Join();
            Assert.Equal(0, taken!.Slot);

            Assert.False(vios1.Heartbeat());
            Assert.Null(vios1.Slot);
            Assert.False(vios1.StillHeld(0, "lun-0", generation));
            Assert.Equal(LeaseVerdict.Break, vios2.TryAcquire(0, "lun-0").Verdict);
        }
        finally
        {
            foreach (var other in others) other.Dispose();
        }
    }
}
