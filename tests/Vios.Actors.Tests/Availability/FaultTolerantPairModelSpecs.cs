using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S22's loop without actors, on simulated time in 1 ms steps, through the coordinator's own state
/// machine (<see cref="EpochCoordinator{TRequester}"/>): a real primary (8 MB, 20,000 writes a second
/// spread over its memory) is paired with a secondary slowed per page (<see cref="ReplicaSlowdown{TReply}"/>);
/// every 20 ms tick the coordinator steers the primary's CPU share by the secondary's lag and starts
/// an epoch when fewer than <see cref="EpochCoordinator{T}.PipelineDepth"/> await acknowledgement;
/// its actions are carried out here as the LPAR and the replica would.
/// </summary>
public sealed class FaultTolerantPairModelSpecs : IDisposable
{
    private const int IntervalMs = 20;
    private static readonly LagControllerSettings Setpoints = LagControllerSettings.Default;
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private readonly Lpar _primary;
    private readonly EpochCoordinator<string> _coordinator;
    private readonly ReplicaSlowdown<long> _secondary = new();
    // Pages of the epoch being sent: those sent before its stun and those of the stun.
    private int _epochPages;
    private TimeSpan _now;
    private bool _steer = true;

    public FaultTolerantPairModelSpecs()
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("node", [new ResourceDomain("cec1/node0", 8, 1024, [])]));
        var allocation = planner.Place(new ResourceRequest("primary", 1, 8, [], PlacementPolicy.Locality)).Allocation!;
        _primary = new Lpar(new LparDefinition("primary", 1, 8, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UnixEpoch), VmmSettings.Default);
        Assert.Null(_primary.Start());
        Assert.Null(_primary.SetWorkload(new RunWorkload("primary", 20_000, 0.1, 4, Seed: 22)));
        _coordinator = new EpochCoordinator<string>("primary", "node", _primary.Memory!.PageCount, CheckpointSettings.Default);
        Carry(_coordinator.Replicate(new ReplicateCheckpoints("primary", "backup", IntervalMs, Verify: false, TargetFirmware: "backup/firmware"), "operator"));
        Carry(_coordinator.Paired("backup"));
        Assert.NotNull(_coordinator.Pairing);
    }

    private long Writes => _primary.Status("node").Workload!.Writes;

    private LagController Controller => _coordinator.Pairing!.Steering;

    /// <summary>Runs the pair for <paramref name="duration"/>; returns the lag and rate of every tick.</summary>
    private List<(long Lag, double Rate)> Run(TimeSpan duration, bool steer = true)
    {
        _steer = steer;
        var decisions = new List<(long Lag, double Rate)>();
        for (var step = 0; step < duration.TotalMilliseconds; step++)
        {
            _now += TimeSpan.FromMilliseconds(1);
            _primary.Advance(TimeSpan.FromMilliseconds(1));
            foreach (var epoch in _secondary.Release(_now)) Carry(_coordinator.Acknowledged(new ReplicaAck("primary", epoch, [], [], null)));
            if ((long)_now.TotalMilliseconds % IntervalMs != 0) continue;

            Carry(_coordinator.Tick(Start + _now));
            decisions.Add((_coordinator.Pairing!.ObservedLag, Controller.Rate));
        }
        return decisions;
    }

    /// <summary>Does what the LPAR actor and the replica would with the coordinator's actions, and feeds their answers back.</summary>
    private void Carry(IReadOnlyList<EpochAction> actions)
    {
        foreach (var action in actions)
        {
            switch (action)
            {
                case ToLpar { Message: AllocatePrimaryCpu allocate }:
                    if (_steer) Assert.Null(_primary.AllocateCpu(allocate.Share));
                    break;
                case ToLpar { Message: PreCopyPages preCopy }:
                    var (frames, pages) = _primary.PreCopy(preCopy.Pick);
                    _epochPages = frames.Length;
                    Carry(_coordinator.PreCopied(new PreCopied(preCopy.Epoch, frames, pages)));
                    break;
                case ToLpar { Message: CaptureEpoch { Deferred: true } deferred }:
                    Assert.Null(_primary.StunDeferred(deferred.Epoch).Refusal);
                    Captured(_primary.FinishDeferredCapture());
                    break;
                case ToLpar { Message: CaptureEpoch capture }:
                    var (captured, refusal) = _primary.Capture(capture.Epoch, capture.Full, capture.Checksum);
                    Assert.Null(refusal);
                    _epochPages = 0;
                    Captured(captured!);
                    break;
                case ToLpar { Message: CommitEpoch commit }:
                    _primary.Commit(commit.Epoch);
                    break;
                case ToReplica { Message: ReplicaCommit commit }:
                    if (!_secondary.Hold(_now, _epochPages, commit.Epoch)) Carry(_coordinator.Acknowledged(new ReplicaAck("primary", commit.Epoch, [], [], null)));
                    break;
            }
        }
    }

    private void Captured(EpochCapture capture)
    {
        _epochPages += capture.Frames.Length;
        Carry(_coordinator.Captured(new EpochCaptureResult(capture, null, ForBoot: false)));
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

        Assert.True(Controller.Lowered > 0);
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
        Assert.True(Controller.Rate < 0.6, $"rate {Controller.Rate} while slowed");
        var lowered = Controller.Lowered;

        Assert.Null(_secondary.Slow(TimeSpan.Zero));
        var recovered = Run(TimeSpan.FromSeconds(1));

        Assert.Equal(1.0, Controller.Rate);
        Assert.Equal(lowered, Controller.Lowered);
        Assert.All(recovered.TakeLast(20), d => Assert.Equal((1L, 1.0), (d.Lag, d.Rate)));
    }

    public void Dispose() => _primary.Dispose();
}
