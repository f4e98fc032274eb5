using Vios.Actors.Availability;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S22 execution-latency control, driven by a simulated fault-tolerant pair: per step the primary
/// produces <see cref="PrimaryEpochsAtFullRate"/> times its rate in epochs, and the secondary applies
/// at most its capacity (fewer than that when slowed). Default settings: lower above 8 epochs of
/// lag, raise below 2, rate between 0.1 and 1.0.
/// </summary>
public sealed class LagControllerSpecs
{
    private const double PrimaryEpochsAtFullRate = 10;

    private readonly LagController _controller = new();
    private double _primary;
    private long _applied;

    /// <summary>Runs the pair for <paramref name="steps"/> steps; returns the lag and rate seen at each.</summary>
    private List<LagDecision> Run(int steps, long secondaryCapacity)
    {
        var decisions = new List<LagDecision>();
        for (var i = 0; i < steps; i++)
        {
            _primary += PrimaryEpochsAtFullRate * _controller.Rate;
            var produced = (long)_primary;
            _applied = Math.Min(produced, _applied + secondaryCapacity);
            decisions.Add(_controller.Observe(produced, _applied));
        }
        return decisions;
    }

    [Fact]
    public void A_slowed_secondary_lowers_the_primary_rate_and_keeps_the_lag_bounded()
    {
        var slowed = Run(200, secondaryCapacity: 4);

        Assert.True(_controller.Lowered > 0);
        Assert.All(slowed, d => Assert.InRange(d.Lag, 0, 25));
        // Once settled, the primary runs about as fast as the secondary follows (0.4), not pinned at either end.
        var settled = slowed.Skip(100).ToList();
        Assert.All(settled, d => Assert.InRange(d.Lag, 0, LagControllerSettings.Default.LowerAboveLag + 6));
        Assert.InRange(settled.Average(d => d.Rate), 0.25, 0.55);
    }

    [Fact]
    public void Without_the_slowdown_the_rate_goes_back_up_to_the_maximum()
    {
        Run(200, secondaryCapacity: 4);
        var lowered = _controller.Lowered;
        Assert.True(_controller.Rate < 0.6, $"rate {_controller.Rate} while slowed");

        var recovered = Run(50, secondaryCapacity: 12);

        Assert.Equal(1.0, _controller.Rate);
        Assert.Equal(1.0, recovered[^1].Rate);
        Assert.Equal(lowered, _controller.Lowered);
        Assert.All(recovered.TakeLast(20), d => Assert.Equal(LagAction.Held, d.Action));
    }

    [Fact]
    public void A_secondary_that_keeps_up_leaves_the_primary_at_full_rate()
    {
        var decisions = Run(100, secondaryCapacity: 10);

        Assert.All(decisions, d => Assert.Equal(1.0, d.Rate));
        Assert.Equal((0, 0, 100), (_controller.Lowered, _controller.Raised, _controller.Held));
    }

    [Fact]
    public void Lag_between_the_setpoints_holds_and_each_decision_is_counted()
    {
        var controller = new LagController(new LagControllerSettings(raiseBelowLag: 2, lowerAboveLag: 8, lowerFactor: 0.5, raiseFactor: 2, minRate: 0.25, maxRate: 1));

        var lowered = controller.Observe(primaryEpoch: 20, appliedEpoch: 10);
        var held = controller.Observe(primaryEpoch: 20, appliedEpoch: 15);
        var floor = controller.Observe(primaryEpoch: 40, appliedEpoch: 15);
        var atMinimum = controller.Observe(primaryEpoch: 40, appliedEpoch: 15);
        var raised = controller.Observe(primaryEpoch: 40, appliedEpoch: 41);

        Assert.Equal((10L, LagAction.Lowered, 0.5), (lowered.Lag, lowered.Action, lowered.Rate));
        Assert.Equal((5L, LagAction.Held, 0.5), (held.Lag, held.Action, held.Rate));
        Assert.Equal((LagAction.Lowered, 0.25), (floor.Action, floor.Rate));
        Assert.Equal((LagAction.Held, 0.25), (atMinimum.Action, atMinimum.Rate));
        Assert.Equal((0L, LagAction.Raised, 0.5), (raised.Lag, raised.Action, raised.Rate));
        Assert.Equal((2L, 1L, 2L), (controller.Lowered, controller.Raised, controller.Held));
    }

    [Fact]
    public void Settings_that_make_no_sense_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new LagControllerSettings(raiseBelowLag: 9, lowerAboveLag: 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LagControllerSettings(lowerFactor: 1.2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LagControllerSettings(raiseFactor: 0.9));
        Assert.Throws<ArgumentException>(() => new LagControllerSettings(minRate: 0.5, maxRate: 0.4));
    }
}
