using Vios.Actors.Availability;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S22 execution lag on the primary's epoch schedule: every tick makes an epoch due, started or not;
/// the secondary's applied epoch counts at the tick it was captured at.
/// </summary>
public sealed class ExecutionLagSpecs
{
    private readonly ExecutionLag _lag = new();

    [Fact]
    public void A_secondary_that_applies_each_epoch_before_the_next_tick_lags_one_epoch()
    {
        for (var epoch = 1; epoch <= 10; epoch++)
        {
            _lag.Tick();
            Assert.Equal(1, _lag.Lag);
            _lag.Capturing(epoch);
            _lag.Acknowledged(epoch);
        }

        Assert.Equal((10L, 10L, 0L), (_lag.Due, _lag.Applied, _lag.Lag));
    }

    [Fact]
    public void Ticks_skipped_while_the_pipeline_is_full_count_so_a_slow_secondary_lags_ever_more()
    {
        // Two epochs sent, neither acknowledged: the next ticks cannot start an epoch, and still come due.
        _lag.Tick();
        _lag.Capturing(1);
        _lag.Tick();
        _lag.Capturing(2);
        var lags = new List<long>();
        for (var tick = 0; tick < 5; tick++)
        {
            _lag.Tick();
            lags.Add(_lag.Lag);
        }

        Assert.Equal([3L, 4L, 5L, 6L, 7L], lags);
        _lag.Acknowledged(1);
        Assert.Equal(6, _lag.Lag);
    }

    [Fact]
    public void An_epoch_captured_after_skipped_ticks_makes_up_for_them_once_applied()
    {
        _lag.Tick();
        _lag.Capturing(1);
        _lag.Tick();
        _lag.Capturing(2);
        for (var tick = 0; tick < 6; tick++) _lag.Tick();
        _lag.Acknowledged(1);
        _lag.Acknowledged(2);
        Assert.Equal(6, _lag.Lag);

        // Epoch 3 is captured at tick 8 and carries every page written up to it.
        _lag.Capturing(3);
        _lag.Acknowledged(3);

        Assert.Equal((8L, 8L, 0L), (_lag.Due, _lag.Applied, _lag.Lag));
    }

    [Fact]
    public void An_acknowledgement_acknowledges_the_epochs_before_it_and_an_unknown_one_changes_nothing()
    {
        _lag.Tick();
        _lag.Capturing(1);
        _lag.Tick();
        _lag.Capturing(2);
        _lag.Tick();

        _lag.Acknowledged(7);
        Assert.Equal(3, _lag.Lag);
        _lag.Acknowledged(2);
        Assert.Equal(1, _lag.Lag);
        // Epoch 1's entry went with epoch 2's acknowledgement: a late duplicate cannot move the secondary back.
        _lag.Acknowledged(1);
        Assert.Equal(1, _lag.Lag);
    }

    [Fact]
    public void An_epoch_number_captured_again_after_a_refused_capture_takes_the_later_tick()
    {
        _lag.Tick();
        _lag.Capturing(1);
        _lag.Tick();
        _lag.Tick();
        _lag.Capturing(1);

        _lag.Acknowledged(1);

        Assert.Equal((3L, 0L), (_lag.Applied, _lag.Lag));
    }
}
