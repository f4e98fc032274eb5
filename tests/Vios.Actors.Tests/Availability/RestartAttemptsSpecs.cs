using Vios.Actors.Availability;

namespace Vios.Actors.Tests.Availability;

public sealed class RestartAttemptsSpecs
{
    [Fact]
    public void A_partition_has_one_attempt_at_a_time()
    {
        var attempts = new RestartAttempts();

        var first = attempts.Begin("web");

        Assert.NotNull(first);
        Assert.Null(attempts.Begin("web"));
        Assert.True(attempts.InProgress("web"));
        Assert.NotNull(attempts.Begin("db"));
    }

    [Fact]
    public void The_outcome_of_an_attempt_given_up_is_stale_and_does_not_end_the_next_one()
    {
        var attempts = new RestartAttempts();
        var overdue = attempts.Begin("web")!.Value;
        Assert.Equal(1, attempts.Fail("web", overdue));
        var next = attempts.Begin("web")!.Value;

        // The first attempt's ask times out long after it was given up.
        Assert.Null(attempts.Fail("web", overdue));

        Assert.True(attempts.InProgress("web"));
        Assert.Equal(2, attempts.Fail("web", next));
    }

    [Fact]
    public void Failures_count_in_a_row_until_the_partition_runs_again()
    {
        var attempts = new RestartAttempts();
        for (var i = 1; i <= 3; i++) Assert.Equal(i, attempts.Fail("web", attempts.Begin("web")!.Value));

        attempts.Complete("web");

        Assert.False(attempts.InProgress("web"));
        Assert.Equal(1, attempts.Fail("web", attempts.Begin("web")!.Value));
    }
}
