using Vios.Bench.Chaos;

namespace Vios.Host.Tests.Chaos;

/// <summary>The soak's checkers on made-up observations: each rule catches what it is for, and only that.</summary>
public sealed class ChaosCheckerSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 10, 0, 0, TimeSpan.Zero);
    private static readonly Fault Kill = new(1, FaultKind.Kill, 0, TimeSpan.Zero);

    private static NodeView View(string node, params (string Lpar, string State)[] states) =>
        new(node, states.ToDictionary(s => s.Lpar, s => s.State, StringComparer.Ordinal));

    private static ChaosChecker Checker() => new(TimeSpan.FromSeconds(60));

    [Fact]
    public void A_partition_running_on_two_nodes_in_one_round_is_a_violation_reported_once()
    {
        var checker = Checker();
        checker.ObserveRound(T0, [View("vios1", ("z", "running")), View("vios2", ("z", "running"))]);
        checker.ObserveRound(T0.AddSeconds(1), [View("vios1", ("z", "running")), View("vios2", ("z", "running"))]);

        var violation = Assert.Single(checker.Violations);
        Assert.Equal(ViolationKind.TwoCopies, violation.Kind);
        Assert.Contains("vios1", violation.Detail);
        Assert.Contains("vios2", violation.Detail);
    }

    [Fact]
    public void A_stopped_old_copy_beside_the_running_new_one_is_not_a_violation()
    {
        var checker = Checker();
        checker.ObserveRound(T0, [View("vios1", ("z", "failed")), View("vios2", ("z", "running")), new NodeView("vios3", null)]);

        Assert.Empty(checker.Violations);
        Assert.Equal("vios2", checker.LastRunningOn["z"]);
    }

    [Fact]
    public void A_partition_back_within_its_target_records_the_recovery_time_and_no_violation()
    {
        var checker = Checker();
        checker.ObserveRound(T0, [View("vios1", ("z", "running"))]);
        checker.FaultInjected(Kill, T0, [("z", "cold", TimeSpan.FromSeconds(5))]);
        checker.ObserveRound(T0.AddSeconds(1), [new NodeView("vios1", null), View("vios2")]);
        Assert.Equal(["z"], checker.Recovering);

        checker.ObserveRound(T0.AddSeconds(3.2), [new NodeView("vios1", null), View("vios2", ("z", "running"))]);

        Assert.Empty(checker.Recovering);
        var recovery = Assert.Single(checker.Recoveries);
        Assert.Equal(TimeSpan.FromSeconds(3.2), recovery.Took);
        Assert.Empty(checker.Violations);
    }

    [Fact]
    public void A_partition_back_after_its_target_is_over_target()
    {
        var checker = Checker();
        checker.FaultInjected(Kill, T0, [("h", "hot", TimeSpan.FromSeconds(3.5))]);
        checker.ObserveRound(T0.AddSeconds(4), [View("vios2", ("h", "running"))]);

        Assert.Equal(ViolationKind.RecoveryOverTarget, Assert.Single(checker.Violations).Kind);
    }

    [Fact]
    public void Without_a_live_majority_the_target_does_not_apply_but_the_liveness_limit_does()
    {
        var checker = Checker();
        checker.FaultInjected(Kill, T0, [("h", "hot", TimeSpan.FromSeconds(3.5)), ("z", "cold", TimeSpan.FromSeconds(5))], majorityLives: false);
        checker.ObserveRound(T0.AddSeconds(9), [View("vios2", ("h", "running"))]);
        checker.ObserveRound(T0.AddSeconds(61), [View("vios2", ("h", "running"))]);

        Assert.Equal(ViolationKind.NotRecovered, Assert.Single(checker.Violations).Kind);
        Assert.All(checker.Recoveries, r => Assert.False(r.MajorityLived));
        Assert.Equal(TimeSpan.FromSeconds(9), checker.Recoveries.Single(r => r.Lpar == "h").Took);
    }

    [Fact]
    public void A_partition_never_back_within_the_liveness_limit_is_not_recovered()
    {
        var checker = Checker();
        checker.FaultInjected(Kill, T0, [("z", "cold", TimeSpan.FromSeconds(5))]);
        checker.ObserveRound(T0.AddSeconds(61), [View("vios2")]);

        Assert.Equal(ViolationKind.NotRecovered, Assert.Single(checker.Violations).Kind);
        Assert.Null(Assert.Single(checker.Recoveries).Took);
        Assert.Empty(checker.Recovering);
    }

    [Fact]
    public void Coming_back_from_an_epoch_older_than_one_seen_committed_before_the_fault_is_a_lost_epoch()
    {
        var checker = Checker();
        checker.Committed("z", 12, T0.AddSeconds(-2));
        checker.Committed("z", 13, T0.AddSeconds(-1));
        // Committed by the new owner after the fault: not something the restore had to contain.
        checker.Committed("z", 15, T0.AddSeconds(5));

        checker.Restored("z", 13, T0, "from epoch 13");
        Assert.Empty(checker.Violations);

        checker.Restored("z", 12, T0, "from epoch 12");
        var violation = Assert.Single(checker.Violations);
        Assert.Equal(ViolationKind.CommittedEpochLost, violation.Kind);
        Assert.Contains("epoch 13", violation.Detail);
    }

    [Fact]
    public void A_stream_handed_from_writer_to_writer_is_fine_but_an_old_writer_writing_again_is_a_second_writer()
    {
        var checker = Checker();
        checker.JournalRows(T0, [new("lpar-z", 1, "aaaa"), new("lpar-z", 2, "aaaa"), new("lpar-z", 3, "bbbb"), new("lpar-y", 1, "cccc")]);
        Assert.Empty(checker.Violations);

        // Rows read later, after the earlier ones were deleted by a new full image: the history is kept.
        checker.JournalRows(T0.AddSeconds(5), [new("lpar-z", 4, "bbbb"), new("lpar-z", 5, "aaaa")]);

        var violation = Assert.Single(checker.Violations);
        Assert.Equal(ViolationKind.SecondWriter, violation.Kind);
        Assert.StartsWith("lpar-z", violation.Detail);
    }

    [Fact]
    public void The_schedule_is_the_same_for_the_same_seed_starts_with_every_kind_once_and_keeps_a_lone_lighthouse()
    {
        static List<Fault> Faults(int seed, int lighthouses)
        {
            var schedule = new ChaosSchedule(seed, viosNodes: 4, lighthouses, databaseRestarts: false);
            return Enumerable.Range(0, 200).Select(_ => schedule.Next()).ToList();
        }

        Assert.Equal(Faults(7, 2), Faults(7, 2));
        Assert.Equal(
            [FaultKind.Kill, FaultKind.ShortPause, FaultKind.LongPause, FaultKind.Leave, FaultKind.LighthouseKill],
            Faults(7, 2).Take(5).Select(f => f.Kind).Order());
        Assert.NotEqual(Faults(7, 2), Faults(8, 2));
        Assert.DoesNotContain(Faults(7, 1), f => f.Kind == FaultKind.LighthouseKill);
        Assert.DoesNotContain(Faults(7, 2), f => f.Kind == FaultKind.DatabaseRestart);
        Assert.All(Faults(7, 2).Where(f => f.Kind == FaultKind.LongPause), f => Assert.InRange(f.Duration, ChaosSchedule.LongPauseMin, ChaosSchedule.LongPauseMax));
        Assert.All(Faults(7, 2).Where(f => f.Kind != FaultKind.LighthouseKill), f => Assert.InRange(f.Target, 0, 3));
    }
}
