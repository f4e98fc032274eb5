using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Storage;

/// <summary>S21: claiming, holding, waiting for and breaking an on-disk lease (<see cref="LeaseRules"/>), and the heartbeat slots behind it, on sectors and times the spec gives.</summary>
public sealed class LeaseRuleSpecs
{
    private static readonly LeaseTiming Timing = LeaseTiming.Default;
    private static readonly HostSlot Slot1 = new(1, 3);
    private static readonly HostSlot Slot2 = new(2, 7);

    private static HeartbeatSlot Live(HostSlot slot, string host, ulong uptime = 1000) => new(true, slot.Offset, slot.Generation, uptime, host);

    [Fact]
    public void A_free_lock_is_claimed_under_a_raised_generation_naming_the_claimants_slot()
    {
        var free = LockSector.FreeNamed("lun-0") with { Generation = 41 };

        var decision = LeaseRules.Acquire(free, "vios1", Slot1, 5000, null, TimeSpan.Zero, Timing);

        Assert.Equal(LeaseVerdict.Claim, decision.Verdict);
        Assert.Equal(new LockSector("lun-0", LockMode.Exclusive, "vios1", Slot1.Offset, 3, 42, 5000, 1), decision.Replacement);
        Assert.True(LeaseRules.StillHeld(decision.Replacement!, "vios1", 42));
        Assert.Equal(LeaseVerdict.Held, LeaseRules.Acquire(decision.Replacement!, "vios1", Slot1, 6000, Live(Slot1, "vios1"), TimeSpan.Zero, Timing).Verdict);
    }

    [Fact]
    public void A_held_lock_waits_while_its_holder_heartbeats_and_breaks_once_its_slot_stood_still_for_the_timeout_and_no_earlier()
    {
        var held = new LockSector("lun-0", LockMode.Exclusive, "vios1", Slot1.Offset, 3, 42, 5000, 1);

        var early = LeaseRules.Acquire(held, "vios2", Slot2, 9000, Live(Slot1, "vios1"), Timing.Timeout - TimeSpan.FromMilliseconds(1), Timing);
        Assert.Equal((LeaseVerdict.Wait, TimeSpan.FromMilliseconds(1)), (early.Verdict, early.RetryIn));

        var broken = LeaseRules.Acquire(held, "vios2", Slot2, 9000, Live(Slot1, "vios1"), Timing.Timeout, Timing);
        Assert.Equal(LeaseVerdict.Break, broken.Verdict);
        Assert.Equal(("vios2", 43ul, Slot2.Offset, 7ul), (broken.Replacement!.Owner, broken.Replacement.Generation, broken.Replacement.HeartbeatOffset, broken.Replacement.HeartbeatGeneration));
        Assert.Contains("has not moved for 2.5 s", broken.Why);
        // The old holder, resumed, finds the generation it claimed at gone.
        Assert.False(LeaseRules.StillHeld(broken.Replacement, "vios1", 42));
    }

    [Fact]
    public void A_holder_whose_slot_was_cleared_or_reclaimed_loses_its_leases_at_once()
    {
        var held = new LockSector("lun-0", LockMode.Exclusive, "vios1", Slot1.Offset, 3, 42, 5000, 1);

        Assert.Equal(LeaseVerdict.Break, LeaseRules.Acquire(held, "vios2", Slot2, 1, Live(Slot1, "vios1") with { Live = false }, TimeSpan.Zero, Timing).Verdict);
        Assert.Equal(LeaseVerdict.Break, LeaseRules.Acquire(held, "vios2", Slot2, 1, Live(Slot1, "vios1") with { Generation = 4 }, TimeSpan.Zero, Timing).Verdict);
        Assert.Equal(LeaseVerdict.Break, LeaseRules.Acquire(held, "vios2", Slot2, 1, Live(Slot1, "vios3"), TimeSpan.Zero, Timing).Verdict);
        Assert.Equal(LeaseVerdict.Break, LeaseRules.Acquire(held, "vios2", Slot2, 1, null, TimeSpan.Zero, Timing).Verdict);
        // Its own next process, under its reclaimed slot, breaks it too.
        Assert.Equal(LeaseVerdict.Break, LeaseRules.Acquire(held, "vios1", Slot1 with { Generation = 4 }, 1, Live(Slot1 with { Generation = 4 }, "vios1"), TimeSpan.Zero, Timing).Verdict);
    }

    [Fact]
    public void A_release_frees_the_lock_under_a_raised_generation()
    {
        var held = new LockSector("lun-0", LockMode.Exclusive, "vios1", Slot1.Offset, 3, 42, 5000, 1);

        var released = LeaseRules.Release(held, 6000);

        Assert.True(released.IsFree);
        Assert.Equal((43ul, 0u, ""), (released.Generation, released.Holders, released.Owner));
        Assert.False(LeaseRules.StillHeld(released, "vios1", 42));
        Assert.Equal(44ul, LeaseRules.Acquire(released, "vios2", Slot2, 7000, null, TimeSpan.Zero, Timing).Replacement!.Generation);
    }

    [Fact]
    public void A_slot_stands_still_in_the_watchers_own_time_from_when_it_last_moved()
    {
        var watch = new HeartbeatWatch();
        var at = TimeSpan.FromSeconds(100);
        watch.Saw(Slot1.Offset, Live(Slot1, "vios1", 1000), at);
        watch.Saw(Slot1.Offset, Live(Slot1, "vios1", 1000), at + TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), watch.StillFor(Slot1.Offset, at + TimeSpan.FromSeconds(2)));

        watch.Saw(Slot1.Offset, Live(Slot1, "vios1", 1500), at + TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(1), watch.StillFor(Slot1.Offset, at + TimeSpan.FromSeconds(3)));
        Assert.Equal(TimeSpan.Zero, watch.StillFor(Slot2.Offset, at));
    }

    [Fact]
    public void A_host_takes_back_its_own_slot_first_then_an_unwritten_a_cleared_or_a_dead_one_and_none_of_a_live_host()
    {
        HeartbeatSlot S(int slot, bool live, string host, ulong generation = 5) => new(live, UnitLayout.SlotOffset(slot), generation, 1, host);
        TimeSpan Fresh(int _) => TimeSpan.Zero;

        var own = LeaseRules.ChooseSlot([S(0, true, "vios2"), null, S(2, true, "vios1", 9)], "vios1", 77, Fresh, Timing)!.Value;
        Assert.Equal((2, new HeartbeatSlot(true, UnitLayout.SlotOffset(2), 10, 77, "vios1")), own);
        Assert.Equal(1, LeaseRules.ChooseSlot([S(0, true, "vios2"), null, S(2, false, "vios3")], "vios1", 77, Fresh, Timing)!.Value.Slot);
        Assert.Equal(2, LeaseRules.ChooseSlot([S(0, true, "vios2"), S(1, true, "vios4"), S(2, false, "vios3")], "vios1", 77, Fresh, Timing)!.Value.Slot);
        Assert.Equal(1, LeaseRules.ChooseSlot([S(0, true, "vios2"), S(1, true, "vios4")], "vios1", 77, i => i == 1 ? Timing.Timeout : TimeSpan.Zero, Timing)!.Value.Slot);
        Assert.Null(LeaseRules.ChooseSlot([S(0, true, "vios2"), S(1, true, "vios4")], "vios1", 77, Fresh, Timing));
    }
}
