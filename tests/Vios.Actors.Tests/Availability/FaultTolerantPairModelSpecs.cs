using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S22's loop without actors, on simulated time in 1 ms steps: a real primary (8 MB, 20,000 writes a
/// second spread over its memory) captures its dirty pages at each 20 ms tick with at most
/// <see cref="CheckpointCoordinatorActor.PipelineDepth"/> epochs awaiting acknowledgement; a secondary
/// slowed per page (<see cref="ReplicaSlowdown{TReply}"/>) acknowledges them; <see cref="ExecutionLag"/>
/// measures and <see cref="LagController"/> (default setpoints) sets the primary's CPU share, as the
/// coordinator does.
/// </summary>
public sealed class FaultTolerantPairModelSpecs : IDisposable
{
    private const int IntervalMs = 20;
    private static readonly LagControllerSettings Setpoints = LagControllerSettings.Default;

    private readonly Lpar _primary;
    private readonly ExecutionLag _lag = new();
    private readonly LagController _controller = new(Setpoints);
    private readonly ReplicaSlowdown<long> _secondary = new();
    private int _unacknowledged;
    private long _epoch;
    private TimeSpan _now;

    public FaultTolerantPairModelSpecs()
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("node", [new ResourceDomain("cec1/node0", 8, 1024, [])]));
        var allocation = planner.Place(new ResourceRequest("primary", 1, 8, [], PlacementPolicy.Locality)).Allocation!;
        _primary = new Lpar(new LparDefinition("primary", 1, 8, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UnixEpoch), VmmSettings.Default);
        Assert.Null(_primary.Start());
        Assert.Null(_primary.SetWorkload(new RunWorkload("primary", 20_000, 0.1, 4, Seed: 22)));
    }

    private long Writes => _primary.Status("node").Workload!.Writes;

    /// <summary>Runs the pair for <paramref name="duration"/>; returns the decision of every tick.</summary>
    private List<LagDecision> Run(TimeSpan duration, bool steer = true)
    {
        var decisions = new List<LagDecision>();
        for (var step = 0; step < duration.TotalMilliseconds; step++)
        {
            _now += TimeSpan.FromMilliseconds(1);
            _primary.Advance(TimeSpan.FromMilliseconds(1));
            foreach (var epoch in _secondary.Release(_now)) Acknowledged(epoch);
            if ((long)_now.TotalMilliseconds % IntervalMs != 0) continue;

            var decision = _controller.Observe(_lag.Tick(), _lag.Applied);
            if (steer) Assert.Null(_primary.AllocateCpu(decision.Rate));
            decisions.Add(decision);
            if (_unacknowledged >= CheckpointCoordinatorActor.PipelineDepth) continue;
            var next = ++_epoch;
            _lag.Capturing(next);
            var (capture, refusal) = _primary.Capture(next, full: false, withChecksum: false);
            Assert.Null(refusal);
            _unacknowledged++;
            if (!_secondary.Hold(_now, capture!.Frames.Length, next)) Acknowledged(next);
        }
        return decisions;
    }

    private void Acknowledged(long epoch)
    {
        _lag.Acknowledged(epoch);
        _unacknowledged--;
    }

    [Fact]
    public void A_secondary_that_keeps_up_lags_one_epoch_and_leaves_the_primary_at_full_speed()
    {
        var decisions = Run(TimeSpan.FromSeconds(2));

        Assert.All(decisions, d => Assert.Equal((1L, 1.0), (d.Lag, d.Rate)));
        Assert.InRange(Writes, 38_000, 42_000);
    }

    [Fact]
    public void Unsteered_a_slowed_secondary_falls_ever_further_behind()
    {
        Run(TimeSpan.FromSeconds(1));
        Assert.Null(_secondary.Slow(TimeSpan.FromMicroseconds(200)));

        var decisions = Run(TimeSpan.FromSeconds(3), steer: false);

        Assert.True(decisions[^1].Lag > 3 * Setpoints.LowerAboveLag, $"lag {decisions[^1].Lag}");
        Assert.True(decisions.Skip(50).Select(d => d.Lag).Max() > 3 * Setpoints.LowerAboveLag);
    }

    [Fact]
    public void A_slowed_secondary_lowers_the_primary_and_the_lag_stays_bounded()
    {
        Run(TimeSpan.FromSeconds(1));
        Assert.Null(_secondary.Slow(TimeSpan.FromMicroseconds(200)));

        var slowed = Run(TimeSpan.FromSeconds(4));
        var writesBefore = Writes;
        var settled = Run(TimeSpan.FromSeconds(4));
        var settledWrites = Writes - writesBefore;

        Assert.True(_controller.Lowered > 0);
        var peak = slowed.Max(d => d.Lag);
        Assert.True(peak > Setpoints.LowerAboveLag, $"the slowdown never showed: peak lag {peak}");
        // The secondary applies 5,000 pages a second: the primary settles at about a quarter of its speed
        // (its writes fall on distinct pages), and the lag swings between the setpoints with little overshoot.
        Assert.All(settled, d => Assert.InRange(d.Lag, 0, 2 * Setpoints.LowerAboveLag));
        Assert.InRange(settled.Average(d => d.Rate), 0.15, 0.45);
        Assert.InRange(settledWrites, 0.15 * 4 * 20_000, 0.45 * 4 * 20_000);
    }

    [Fact]
    public void With_the_slowdown_removed_the_primary_goes_back_to_full_speed()
    {
        Run(TimeSpan.FromSeconds(1));
        Assert.Null(_secondary.Slow(TimeSpan.FromMicroseconds(200)));
        Run(TimeSpan.FromSeconds(3));
        Assert.True(_controller.Rate < 0.6, $"rate {_controller.Rate} while slowed");
        var lowered = _controller.Lowered;

        Assert.Null(_secondary.Slow(TimeSpan.Zero));
        var recovered = Run(TimeSpan.FromSeconds(1));

        Assert.Equal(1.0, _controller.Rate);
        Assert.Equal(lowered, _controller.Lowered);
        Assert.All(recovered.TakeLast(20), d => Assert.Equal((1L, 1.0), (d.Lag, d.Rate)));
    }

    public void Dispose() => _primary.Dispose();
}
