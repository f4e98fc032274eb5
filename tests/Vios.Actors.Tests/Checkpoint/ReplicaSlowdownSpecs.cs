using Vios.Actors.Checkpoint;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>A slowed secondary: replies held for the pages' apply cost, one epoch after the other, in order.</summary>
public sealed class ReplicaSlowdownSpecs
{
    private static readonly TimeSpan PerPage = TimeSpan.FromMicroseconds(100);
    private readonly ReplicaSlowdown<string> _slowdown = new();

    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    [Fact]
    public void Without_a_slowdown_every_reply_goes_at_once()
    {
        Assert.False(_slowdown.Hold(Ms(0), 10_000, "epoch 1"));
        Assert.False(_slowdown.Hold(Ms(1), 10_000, "epoch 2"));
        Assert.Equal(0, _slowdown.Held);
        Assert.Null(_slowdown.NextDue);
    }

    [Fact]
    public void A_slowed_replica_holds_each_reply_for_its_pages_one_epoch_after_the_other()
    {
        Assert.Null(_slowdown.Slow(PerPage));

        Assert.True(_slowdown.Hold(Ms(0), 100, "epoch 1"));
        Assert.True(_slowdown.Hold(Ms(2), 50, "epoch 2"));

        // 100 pages take 10 ms; epoch 2 waits for epoch 1, then takes 5 ms more.
        Assert.Equal(Ms(10), _slowdown.NextDue);
        Assert.Empty(_slowdown.Release(Ms(9.9)));
        Assert.Equal(["epoch 1"], _slowdown.Release(Ms(10)));
        Assert.Empty(_slowdown.Release(Ms(14.9)));
        Assert.Equal(["epoch 2"], _slowdown.Release(Ms(15)));
        Assert.Null(_slowdown.NextDue);
    }

    [Fact]
    public void An_idle_slowed_replica_starts_the_next_apply_when_its_commit_arrives()
    {
        Assert.Null(_slowdown.Slow(PerPage));
        _slowdown.Hold(Ms(0), 10, "epoch 1");
        Assert.Equal(["epoch 1"], _slowdown.Release(Ms(1)));

        _slowdown.Hold(Ms(50), 10, "epoch 2");

        Assert.Equal(Ms(51), _slowdown.NextDue);
    }

    [Fact]
    public void Replies_leave_in_the_order_of_their_commits_whatever_their_cost()
    {
        Assert.Null(_slowdown.Slow(PerPage));
        _slowdown.Hold(Ms(0), 100, "epoch 1");
        _slowdown.Hold(Ms(0), 0, "failure of epoch 2");
        _slowdown.Hold(Ms(0), 1, "epoch 3");

        Assert.Equal(["epoch 1", "failure of epoch 2", "epoch 3"], _slowdown.Release(Ms(60)));
    }

    [Fact]
    public void Removing_the_slowdown_releases_the_held_replies_and_answers_at_once_again()
    {
        Assert.Null(_slowdown.Slow(PerPage));
        _slowdown.Hold(Ms(0), 1_000, "epoch 1");
        _slowdown.Hold(Ms(0), 1_000, "epoch 2");

        Assert.Null(_slowdown.Slow(TimeSpan.Zero));

        Assert.Equal(["epoch 1", "epoch 2"], _slowdown.Release(Ms(1)));
        Assert.False(_slowdown.Hold(Ms(2), 1_000, "epoch 3"));
    }

    [Fact]
    public void A_negative_cost_is_refused_and_changes_nothing()
    {
        Assert.Null(_slowdown.Slow(PerPage));

        Assert.Equal("a slowdown is zero or more per page; got -1 ms", _slowdown.Slow(Ms(-1)));
        Assert.Equal(PerPage, _slowdown.PerPage);
    }
}
