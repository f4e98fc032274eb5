using Vios.Actors.Checkpoint;

namespace Vios.Actors.Tests.Checkpoint;

public sealed class EpochBackoffSpecs
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    [Fact]
    public void Each_consecutive_failure_doubles_the_wait_from_at_least_a_second_up_to_thirty()
    {
        Assert.Equal(
            [1, 2, 4, 8, 16, 30, 30],
            Enumerable.Range(1, 7).Select(n => EpochBackoff.WaitAfter(n, Interval).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(5), EpochBackoff.WaitAfter(1, TimeSpan.FromSeconds(5)));
        Assert.Equal(EpochBackoff.MaximumWait, EpochBackoff.WaitAfter(int.MaxValue, Interval));
    }

    [Fact]
    public void A_failed_epoch_holds_periodic_epochs_until_its_wait_is_over()
    {
        var backoff = new EpochBackoff();
        Assert.True(backoff.Due(Now));

        backoff.Failed(Interval, Now);
        backoff.Failed(Interval, Now);

        Assert.False(backoff.Due(Now + TimeSpan.FromSeconds(1.9)));
        Assert.True(backoff.Due(Now + TimeSpan.FromSeconds(2)));
        Assert.Equal("backing off after 2 failed epochs: the next periodic epoch in 1.5 s", backoff.Describe(Now + TimeSpan.FromSeconds(0.5)));
        Assert.Null(backoff.Describe(Now + TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void A_committed_epoch_ends_the_backoff_and_the_next_failure_starts_over()
    {
        var backoff = new EpochBackoff();
        for (var i = 0; i < 5; i++) backoff.Failed(Interval, Now);

        backoff.Clear();

        Assert.True(backoff.Due(Now));
        Assert.Equal(0, backoff.Failures);
        backoff.Failed(Interval, Now);
        Assert.Equal(Now + TimeSpan.FromSeconds(1), backoff.Until);
    }
}
