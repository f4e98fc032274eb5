using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>The checkpoint coordinator's claim on its partition's fence (<see cref="OwnershipGate"/>), on fence answers and a clock given by the spec.</summary>
public sealed class OwnershipGateSpecs
{
    private static readonly DateTimeOffset Start = new(2026, 12, 8, 1, 0, 0, TimeSpan.Zero);
    private static readonly OwnershipSettings Settings = OwnershipSettings.Default with { SettleAfterFreeze = TimeSpan.FromSeconds(5) };
    private static readonly OwnerClaim Claim = new("lpar:p", 7);

    private static OwnershipGate Gate() => new("p", "vios1", Claim, Settings);

    [Fact]
    public void A_new_copy_holds_and_raises_the_fence_then_owns_the_partition_at_its_epoch_or_above_a_lower_one()
    {
        var gate = Gate();
        Assert.True(gate.Holding);
        Assert.True(gate.Raise);

        Assert.Equal(FenceVerdict.Owned, gate.Answered(7, Start));
        Assert.Equal(OwnershipPhase.Owned, gate.Phase);
        Assert.False(gate.Holding);
        // A late duplicate answer changes nothing.
        Assert.Equal(FenceVerdict.Ignored, gate.Answered(9, Start));
        Assert.Equal(OwnershipPhase.Owned, gate.Phase);

        Assert.Equal(FenceVerdict.Owned, Gate().Answered(null, Start));
        Assert.Equal(FenceVerdict.Owned, Gate().Answered(3, Start));
    }

    [Fact]
    public void A_fence_above_the_claim_loses_the_partition_for_good_and_a_later_check_reads_nothing()
    {
        var gate = Gate();

        Assert.Equal(FenceVerdict.Lost, gate.Answered(8, Start));
        Assert.Equal(OwnershipPhase.Lost, gate.Phase);
        Assert.False(gate.Holding);
        var lost = gate.Lost!;
        Assert.Equal(("p", 7L, 8L), (lost.Lpar, lost.Epoch, lost.Fence));
        Assert.Contains("vios1", lost.Reason);

        Assert.False(gate.Check(new CheckOwnership("frozen") { AfterFreeze = true }, Start));
        Assert.Equal(FenceVerdict.Ignored, gate.Answered(7, Start));
        Assert.Equal(OwnershipPhase.Lost, gate.Phase);
    }

    [Fact]
    public void A_check_after_a_refused_write_reads_the_fence_once_and_says_it_confirmed()
    {
        var gate = Gate();
        gate.Answered(7, Start);

        Assert.True(gate.Check(new CheckOwnership("the fence refused a write"), Start));
        Assert.True(gate.Holding);
        Assert.False(gate.Raise);
        Assert.Equal(FenceVerdict.ConfirmedAfterCheck, gate.Answered(7, Start));
        Assert.False(gate.Holding);
    }

    [Fact]
    public void After_a_freeze_the_copy_holds_until_the_settle_time_reading_every_retry_and_a_raise_meanwhile_loses_it()
    {
        var gate = Gate();
        gate.Answered(7, Start);
        Assert.True(gate.Check(new CheckOwnership("frozen 12 s") { AfterFreeze = true }, Start));

        var first = gate.Answered(7, Start.AddSeconds(0.2));
        Assert.Equal(FenceOutcome.ReadAgain, first.Outcome);
        Assert.Equal(Settings.FenceRetry, first.After);
        // Near the end of the settle, the next read comes when it ends, not a whole retry later.
        var last = gate.Answered(7, Start.AddSeconds(4.7));
        Assert.Equal(FenceOutcome.ReadAgain, last.Outcome);
        Assert.Equal(TimeSpan.FromSeconds(0.3), last.After);
        Assert.True(gate.Holding);

        Assert.Equal(FenceVerdict.ConfirmedAfterCheck, gate.Answered(7, Start.AddSeconds(5)));

        // A second freeze: the failover's raise arrives during the settle.
        var again = Gate();
        again.Answered(7, Start);
        again.Check(new CheckOwnership("frozen") { AfterFreeze = true }, Start);
        Assert.Equal(FenceOutcome.ReadAgain, again.Answered(7, Start.AddSeconds(1)).Outcome);
        Assert.Equal(FenceVerdict.Lost, again.Answered(8, Start.AddSeconds(2)));
    }

    [Fact]
    public void A_freeze_during_the_first_raise_settles_before_the_journal_is_read()
    {
        var gate = Gate();
        Assert.True(gate.Check(new CheckOwnership("frozen") { AfterFreeze = true }, Start));
        Assert.True(gate.Raise);

        Assert.Equal(FenceOutcome.ReadAgain, gate.Answered(7, Start.AddSeconds(1)).Outcome);
        Assert.False(gate.Raise);
        Assert.Equal(FenceVerdict.ConfirmedAfterCheck, gate.Answered(7, Start.AddSeconds(6)));
    }
}
