using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S5 failover decided and applied by hand the way the HA manager does it (decide, persist, apply).
/// Partition <c>db</c> runs on vios1; its consistency failover image node is vios2, its boot
/// failover image node vios3. The window is the default 10 minutes.
/// </summary>
public sealed class HaRegistrySpecs
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] AllNodes = ["vios1", "vios2", "vios3", "vios4"];

    private readonly List<IViosMessage> _journal = [];
    private readonly HaRegistry _registry = new();

    public HaRegistrySpecs() => Declare(_registry, new DeclareAvailability("db", "vios1", "vios2", "vios3"));

    private void Declare(HaRegistry registry, DeclareAvailability command, IReadOnlyCollection<string>? cluster = null)
    {
        var (declared, refusal) = registry.Decide(command, cluster ?? AllNodes);
        Assert.True(declared is not null, refusal);
        Persist(registry, declared);
    }

    private void Persist(HaRegistry registry, IViosMessage @event)
    {
        _journal.Add(@event);
        registry.Apply(@event);
    }

    /// <summary>Decides a failure and, like the manager, persists and applies its events.</summary>
    private FailoverDecision Fail(HaRegistry registry, string failureId, string node, DateTimeOffset at, IReadOnlyCollection<string>? live = null)
    {
        var decision = registry.Decide(new LparFailed("db", node, failureId, "node downed"), live ?? AllNodes, at);
        foreach (var @event in decision.Events) Persist(registry, @event);
        return decision;
    }

    private RestartPlanned Restarted(HaRegistry registry, string failureId, string node, DateTimeOffset at, IReadOnlyCollection<string>? live = null)
    {
        var decision = Fail(registry, failureId, node, at, live);
        Assert.True(decision.Outcome == FailoverOutcome.Restart, decision.Refusal?.Reason ?? decision.Outcome.ToString());
        var (completed, refusal) = registry.Complete("db", failureId, decision.Restart!.TargetNode, at.AddSeconds(30));
        Assert.True(completed is not null, refusal);
        Persist(registry, completed);
        return decision.Restart;
    }

    [Fact]
    public void First_failure_restarts_on_the_consistency_node_from_the_consistency_image()
    {
        var decision = Fail(_registry, "db#1", "vios1", T0);

        Assert.Equal(FailoverOutcome.Restart, decision.Outcome);
        Assert.Equal(("vios2", FailoverImage.Consistency), (decision.Restart!.TargetNode, decision.Restart.Image));
        Assert.Equal("first failure: consistency image on vios2", decision.Restart.Reason);
        Assert.Collection(decision.Events, e => Assert.IsType<FailureRecorded>(e), e => Assert.IsType<RestartPlanned>(e));
    }

    [Fact]
    public void Second_failure_inside_the_window_restarts_on_the_boot_node_from_the_boot_image()
    {
        Restarted(_registry, "db#1", "vios1", T0);

        var second = Restarted(_registry, "db#2", "vios2", T0.AddMinutes(9));

        Assert.Equal(("vios3", FailoverImage.Boot), (second.TargetNode, second.Image));
        Assert.Equal("second failure within 10 min: boot image on vios3", second.Reason);
        Assert.Equal("vios3", _registry.Find("db")!.Node);
    }

    [Fact]
    public void Third_failure_inside_the_window_of_the_second_stays_on_the_boot_image()
    {
        Restarted(_registry, "db#1", "vios1", T0);
        Restarted(_registry, "db#2", "vios2", T0.AddMinutes(9));

        var third = Restarted(_registry, "db#3", "vios3", T0.AddMinutes(15));

        Assert.Equal(FailoverImage.Boot, third.Image);
        Assert.StartsWith("third failure within 10 min", third.Reason);
    }

    [Fact]
    public void Failure_after_the_window_restarts_from_the_consistency_image_again()
    {
        Restarted(_registry, "db#1", "vios1", T0);

        var later = Restarted(_registry, "db#2", "vios2", T0.AddMinutes(11));

        Assert.Equal(FailoverImage.Consistency, later.Image);
        // vios2 is where it failed this time, so the consistency image goes elsewhere.
        Assert.NotEqual("vios2", later.TargetNode);
        Assert.StartsWith("failure 11 min after the previous one (window 10 min)", later.Reason);
    }

    [Fact]
    public void The_failure_window_is_configurable()
    {
        var registry = new HaRegistry(new FailoverPolicy(TimeSpan.FromMinutes(2)));
        Declare(registry, new DeclareAvailability("db", "vios1", "vios2", "vios3"));
        Restarted(registry, "db#1", "vios1", T0);

        var second = Restarted(registry, "db#2", "vios2", T0.AddMinutes(3));
        var third = Restarted(registry, "db#3", registry.Find("db")!.Node, T0.AddMinutes(4));

        Assert.Equal(FailoverImage.Consistency, second.Image);
        Assert.Equal(FailoverImage.Boot, third.Image);
        Assert.Equal("second failure within 2 min: boot image on vios3", third.Reason);
    }

    [Fact]
    public void A_designated_node_that_is_gone_falls_back_to_the_live_node_with_fewest_partitions_and_says_so()
    {
        // Two more partitions already on vios3 make vios4 the emptier fallback.
        Declare(_registry, new DeclareAvailability("web", "vios3", "vios1", "vios2"));
        Declare(_registry, new DeclareAvailability("mq", "vios3", "vios1", "vios2"));

        var decision = Fail(_registry, "db#1", "vios1", T0, live: ["vios1", "vios3", "vios4"]);

        Assert.Equal(("vios4", FailoverImage.Consistency), (decision.Restart!.TargetNode, decision.Restart.Image));
        Assert.Equal("first failure: consistency image on vios4 (consistency failover image node vios2 is not live; vios4 has the fewest partitions)", decision.Restart.Reason);
    }

    [Fact]
    public void Fallback_ties_are_broken_by_node_name()
    {
        var decision = Fail(_registry, "db#1", "vios1", T0, live: ["vios4", "vios3", "vios1"]);

        Assert.Equal("vios3", decision.Restart!.TargetNode);
    }

    [Fact]
    public void The_failed_node_never_takes_the_restart_even_when_designated()
    {
        Declare(_registry, new DeclareAvailability("db", "vios2", "vios2", "vios3"));

        var decision = Fail(_registry, "db#1", "vios2", T0);

        Assert.NotEqual("vios2", decision.Restart!.TargetNode);
        Assert.Contains("consistency failover image node vios2 is where it failed", decision.Restart.Reason);
    }

    [Fact]
    public void No_live_node_refuses_with_a_reason_and_a_later_retry_plans_the_same_failure_once()
    {
        var refused = Fail(_registry, "db#1", "vios1", T0, live: ["vios1"]);

        Assert.Equal(FailoverOutcome.Refused, refused.Outcome);
        Assert.Null(refused.Restart);
        Assert.Equal("first failure: consistency failover image node vios2 is not live and no other live node can take 'db' (failed on vios1)", refused.Refusal!.Reason);
        Assert.Single(refused.Events.OfType<FailureRecorded>());

        var retried = Fail(_registry, "db#1", "vios1", T0.AddMinutes(1), live: ["vios1", "vios2"]);

        Assert.Equal(FailoverOutcome.Restart, retried.Outcome);
        Assert.Equal(FailoverImage.Consistency, retried.Restart!.Image);
        Assert.Empty(retried.Events.OfType<FailureRecorded>());
        Assert.Single(_registry.Find("db")!.Failures);
    }

    [Fact]
    public void A_partition_without_an_availability_record_is_refused()
    {
        var decision = _registry.Decide(new LparFailed("ghost", "vios1", "ghost#1", "heartbeats stopped"), AllNodes, T0);

        Assert.Equal(FailoverOutcome.Refused, decision.Outcome);
        Assert.Empty(decision.Events);
        Assert.Equal("'ghost' has no availability record", decision.Refusal!.Reason);
    }

    [Fact]
    public void Failover_image_nodes_not_given_are_chosen_different_where_the_cluster_allows()
    {
        var (wide, _) = _registry.Decide(new DeclareAvailability("web", "vios1", null, null), AllNodes);
        var (narrow, _) = _registry.Decide(new DeclareAvailability("web", "vios1", null, null), ["vios1", "vios4"]);
        var (alone, refusal) = _registry.Decide(new DeclareAvailability("web", "vios1", null, null), ["vios1"]);

        // db is counted on vios1, so vios2..vios4 are tied and taken by name.
        Assert.Equal(("vios2", "vios3"), (wide!.ConsistencyNode, wide.BootNode));
        Assert.Equal(("vios4", "vios4"), (narrow!.ConsistencyNode, narrow.BootNode));
        Assert.Null(alone);
        Assert.Equal("no node other than vios1 to hold the consistency failover image of 'web'", refusal);
    }

    [Fact]
    public void The_same_failure_reported_again_is_a_duplicate_with_nothing_to_persist()
    {
        var first = Fail(_registry, "db#1", "vios1", T0);

        var again = Fail(_registry, "db#1", "vios1", T0.AddSeconds(5));

        Assert.Equal(FailoverOutcome.Duplicate, again.Outcome);
        Assert.Empty(again.Events);
        Assert.Equal(first.Restart, again.Restart);
    }

    [Fact]
    public void Replaying_the_journal_after_a_handover_neither_loses_nor_repeats_a_restart()
    {
        // The old singleton completed one restart and planned a second, then its node went away.
        Restarted(_registry, "db#1", "vios1", T0);
        var planned = Fail(_registry, "db#2", "vios2", T0.AddMinutes(5)).Restart!;

        var successor = new HaRegistry();
        foreach (var @event in _journal) successor.Apply(@event);

        // Not lost: the planned restart is pending on the successor, exactly as planned.
        Assert.Equal(planned, Assert.Single(successor.PendingRestarts));
        // Not repeated: the detector reports db#2 again, and db#1 comes back too.
        Assert.Equal(FailoverOutcome.Duplicate, successor.Decide(new LparFailed("db", "vios2", "db#2", "node downed"), AllNodes, T0.AddMinutes(6)).Outcome);
        Assert.Equal(FailoverOutcome.Duplicate, successor.Decide(new LparFailed("db", "vios1", "db#1", "node downed"), AllNodes, T0.AddMinutes(6)).Outcome);

        var (completed, _) = successor.Complete("db", "db#2", planned.TargetNode, T0.AddMinutes(6));
        successor.Apply(completed!);
        Assert.Empty(successor.PendingRestarts);
        Assert.Equal(planned.TargetNode, successor.Find("db")!.Node);
    }

    [Fact]
    public void A_snapshot_and_the_events_after_it_rebuild_the_same_state()
    {
        Restarted(_registry, "db#1", "vios1", T0);
        var snapshot = _registry.Snapshot();
        var since = _journal.Count;
        Fail(_registry, "db#2", "vios2", T0.AddMinutes(5));

        var successor = new HaRegistry();
        successor.Apply(snapshot);
        foreach (var @event in _journal.Skip(since)) successor.Apply(@event);

        Assert.Equivalent(_registry.Snapshot(), successor.Snapshot(), strict: true);
        Assert.Single(successor.PendingRestarts);
        // The second failure is within the window of the first, which came back from the snapshot.
        Assert.Equal(FailoverImage.Boot, successor.PendingRestarts[0].Image);
    }

    [Fact]
    public void An_event_delivered_twice_in_a_row_changes_nothing_the_second_time()
    {
        Restarted(_registry, "db#1", "vios1", T0);
        Fail(_registry, "db#2", "vios2", T0.AddMinutes(5));

        var twice = new HaRegistry();
        foreach (var @event in _journal)
        {
            twice.Apply(@event);
            twice.Apply(@event);
        }

        Assert.Equivalent(_registry.Snapshot(), twice.Snapshot(), strict: true);
        Assert.Equal(2, twice.Find("db")!.Failures.Count);
        Assert.Single(twice.PendingRestarts);
    }

    [Fact]
    public void A_restart_completes_once()
    {
        Restarted(_registry, "db#1", "vios1", T0);

        var (again, refusal) = _registry.Complete("db", "db#1", "vios2", T0.AddMinutes(1));
        var (unknown, unknownRefusal) = _registry.Complete("db", "db#9", "vios2", T0.AddMinutes(1));

        Assert.Null(again);
        Assert.Equal("the restart for failure 'db#1' of 'db' already completed", refusal);
        Assert.Null(unknown);
        Assert.Equal("no failure 'db#9' of 'db' is known", unknownRefusal);
    }

    [Fact]
    public void Failure_history_keeps_the_latest_failures_only()
    {
        for (var i = 0; i < HaRegistry.HistoryLimit + 5; i++)
            Restarted(_registry, $"db#{i}", _registry.Find("db")!.Node, T0.AddHours(i));

        var failures = _registry.Find("db")!.Failures;
        Assert.Equal(HaRegistry.HistoryLimit, failures.Count);
        Assert.Equal($"db#{HaRegistry.HistoryLimit + 4}", failures[^1].FailureId);
    }

    [Fact]
    public void A_hot_standby_is_promoted_on_its_replica_node_and_a_second_failure_in_the_window_still_goes_to_the_boot_image()
    {
        Persist(_registry, new SetAvailabilityRequirement("db", TimeSpan.FromSeconds(3), FullPerformance: true));
        Persist(_registry, new StandbyChosen("db", StandbyMode.Hot, "vios4", true, "hot on vios4", T0));

        var first = Restarted(_registry, "db#1", "vios1", T0);
        Assert.Equal(("vios4", FailoverImage.Replica), (first.TargetNode, first.Image));
        Assert.Equal("first failure: hot standby, promote the replica on vios4", first.Reason);

        // The replica was used up; S5's rule for a repeated failure is the boot image, hot or not.
        var second = Restarted(_registry, "db#2", "vios4", T0.AddMinutes(2));
        Assert.Equal(("vios3", FailoverImage.Boot), (second.TargetNode, second.Image));
    }

    [Fact]
    public void A_hot_standby_whose_replica_node_is_gone_restarts_from_the_consistency_image_and_says_why()
    {
        Persist(_registry, new StandbyChosen("db", StandbyMode.Hot, "vios4", true, "hot on vios4", T0));

        var plan = Restarted(_registry, "db#1", "vios1", T0, live: ["vios2", "vios3"]);

        Assert.Equal(("vios2", FailoverImage.Consistency), (plan.TargetNode, plan.Image));
        Assert.Equal("first failure (its hot replica's node vios4 is not live, so from the image): consistency image on vios2", plan.Reason);
    }

    [Fact]
    public void Requirements_and_standby_choices_survive_a_snapshot_and_a_requirement_needs_a_record_and_a_positive_time()
    {
        Persist(_registry, new SetAvailabilityRequirement("db", TimeSpan.FromSeconds(3), FullPerformance: true));
        Persist(_registry, new StandbyChosen("db", StandbyMode.Hot, "vios4", true, "hot on vios4", T0));
        var recovered = new HaRegistry();
        recovered.Apply(_registry.Snapshot());

        var record = recovered.Find("db")!;
        Assert.Equal((TimeSpan.FromSeconds(3), true), (record.Requirement!.MaxRecovery, record.Requirement.FullPerformance));
        Assert.Equal((StandbyMode.Hot, "vios4"), (record.Standby!.Mode, record.Standby.ReplicaNode));
        Assert.Equal("'web' has no availability record (is it a partition?)", recovered.Check(new SetAvailabilityRequirement("web", TimeSpan.FromSeconds(1), false)));
        Assert.Equal("the maximum recovery time of 'db' must be positive", recovered.Check(new SetAvailabilityRequirement("db", TimeSpan.Zero, false)));
        Assert.Null(recovered.Check(new SetAvailabilityRequirement("db", TimeSpan.FromSeconds(1), false)));
    }

    [Fact]
    public void A_failover_image_node_the_partition_now_runs_on_is_chosen_again_and_the_other_is_kept()
    {
        // db fails on vios1 and comes back on its consistency node vios2: vios2 can no longer take it over.
        var decision = Fail(_registry, "db#1", "vios1", T0);
        Assert.Equal("vios2", decision.Restart!.TargetNode);
        Persist(_registry, _registry.Complete("db", "db#1", "vios2", T0.AddSeconds(2)).Event!);
        Assert.Equal(("vios2", "vios2", "vios3"), Nodes(_registry));

        // Not while a restart is under way, nor while its node is not live.
        Assert.Empty(_registry.Redesignate(AllNodes, new HashSet<string> { "db" }));
        Assert.Empty(_registry.Redesignate(["vios1", "vios3", "vios4"], new HashSet<string>()));

        // vios1 is back and has no partition: it holds the consistency image; the boot node stays.
        var changed = Assert.Single(_registry.Redesignate(AllNodes, new HashSet<string>()));
        Assert.Equal(new AvailabilityDeclared("db", "vios2", "vios1", "vios3"), changed);
        Assert.Equal(("vios2", "vios1", "vios3"), Nodes(_registry));
        // The failure history stays with the record, and nothing changes a second time.
        Assert.Single(_registry.Find("db")!.Failures);
        Assert.Empty(_registry.Redesignate(AllNodes, new HashSet<string>()));

        // A node merely not live now is not replaced: it may be restarting.
        Assert.Empty(_registry.Redesignate(["vios2", "vios3"], new HashSet<string>()));
    }

    [Fact]
    public void A_failover_image_node_that_died_is_chosen_again_among_the_live_nodes_before_the_partition_needs_it()
    {
        Assert.Equal(("vios1", "vios2", "vios3"), Nodes(_registry));

        // vios2 was killed: until its next incarnation registers, a survivor holds db's consistency image.
        var changed = Assert.Single(_registry.Redesignate(["vios1", "vios3", "vios4"], new HashSet<string>(), dead: new HashSet<string> { "vios2" }));

        Assert.Equal(new AvailabilityDeclared("db", "vios1", "vios4", "vios3"), changed);
        Assert.Empty(_registry.Redesignate(["vios1", "vios3", "vios4"], new HashSet<string>(), dead: new HashSet<string> { "vios2" }));
    }

    [Fact]
    public void A_hot_replica_is_promoted_where_it_is_even_when_its_node_has_no_room_for_another_partition()
    {
        Persist(_registry, new StandbyChosen("db", StandbyMode.Hot, "vios4", true, "hot on vios4", T0));

        var decision = _registry.Decide(new LparFailed("db", "vios1", "db#1", "node downed"), AllNodes, T0, withRoom: new HashSet<string> { "vios3" });

        Assert.Equal(("vios4", FailoverImage.Replica), (decision.Restart!.TargetNode, decision.Restart.Image));
    }

    [Fact]
    public void Failover_image_nodes_are_chosen_among_nodes_with_room_and_a_full_one_is_chosen_again_while_another_has_room()
    {
        var registry = new HaRegistry();
        // vios2 has the fewest partitions but no room: vios3 and vios4 are chosen.
        var (declared, _) = registry.Decide(new DeclareAvailability("web", "vios1", null, null), AllNodes, withRoom: new HashSet<string> { "vios3", "vios4" });
        Assert.Equal(new AvailabilityDeclared("web", "vios1", "vios3", "vios4"), declared);

        // db's consistency node vios2 fills up (a ballast partition defined there); its boot node vios3 has room.
        LparSummary Placed(string name, string node, int vcpus) => new(new LparDefinition(name, vcpus, 16, PlacementPolicy.Balanced, [],
            new Allocation(name, node, PlacementPolicy.Balanced, [], [], []), T0), LparState.Running, true);
        var list = HaManagerHarness.List([Placed("db", "vios1", 1), Placed("ballast", "vios2", 8)], AllNodes);

        var changed = Assert.Single(_registry.Redesignate(AllNodes, new HashSet<string>(), NodeRoom.Of(list)));

        Assert.Equal(new AvailabilityDeclared("db", "vios1", "vios4", "vios3"), changed);
        Assert.Empty(_registry.Redesignate(AllNodes, new HashSet<string>(), NodeRoom.Of(list)));
        // With room nowhere else, a full node is kept rather than chosen again for nothing.
        var full = HaManagerHarness.List([Placed("db", "vios1", 1), Placed("b2", "vios2", 8), Placed("b3", "vios3", 8), Placed("b4", "vios4", 8)], AllNodes);
        Assert.Empty(_registry.Redesignate(AllNodes, new HashSet<string>(), NodeRoom.Of(full)));
    }

    private static (string Node, string Consistency, string Boot) Nodes(HaRegistry registry) =>
        registry.Find("db") is { } r ? (r.Node, r.ConsistencyNode, r.BootNode) : default;

    [Fact]
    public void A_survivors_takeover_is_recorded_as_a_failure_restarted_and_completed_at_its_own_times()
    {
        var done = new TakeoverCompleted("db", "vios1", "db@vios1#0", "vios2", FailoverImage.Consistency, T0, TimeSpan.FromSeconds(2), "from epoch 7");

        var (events, refusal) = _registry.Decide(done);

        Assert.Null(refusal);
        Assert.Collection(events,
            e => Assert.Equal(("vios1", T0), (Assert.IsType<FailureRecorded>(e).FailedNode, ((FailureRecorded)e).At)),
            e => Assert.Equal("vios2", Assert.IsType<RestartPlanned>(e).TargetNode),
            e => Assert.Equal((T0.AddSeconds(2), "taken over by vios2: from epoch 7"), (Assert.IsType<RestartCompleted>(e).At, ((RestartCompleted)e).Detail)));
        // Deciding does not change the registry: only the recorded events do.
        Assert.Empty(_registry.Find("db")!.Failures);
        foreach (var e in events) Persist(_registry, e);
        Assert.Equal(("vios2", true), (_registry.Find("db")!.Node, Assert.Single(_registry.Find("db")!.Failures).Completed));
        Assert.Empty(_registry.PendingRestarts);

        // Announced again (the survivor asks until it is answered): nothing more to record.
        var (again, why) = _registry.Decide(done);
        Assert.Empty(again);
        Assert.Null(why);
    }

    [Fact]
    public void A_takeover_completes_the_restart_planned_for_the_same_failure_meanwhile()
    {
        var planned = Fail(_registry, "db@vios1#0", "vios1", T0).Restart!;
        var done = new TakeoverCompleted("db", "vios1", "db@vios1#0", "vios3", FailoverImage.Consistency, T0, TimeSpan.FromSeconds(2), "from epoch 7");

        var (events, _) = _registry.Decide(done);

        Assert.Equal("vios2", planned.TargetNode);
        Assert.Equal("vios3", Assert.IsType<RestartCompleted>(Assert.Single(events)).Node);
        foreach (var e in events) Persist(_registry, e);
        Assert.Empty(_registry.PendingRestarts);
        Assert.Equal("vios3", _registry.Find("db")!.Node);
    }

    [Fact]
    public void A_takeover_of_a_partition_without_a_record_is_refused()
    {
        var (events, refusal) = _registry.Decide(new TakeoverCompleted("ghost", "vios1", "g#0", "vios2", FailoverImage.Consistency, T0, TimeSpan.Zero, ""));

        Assert.Empty(events);
        Assert.Equal("'ghost' has no availability record", refusal);
    }

    [Fact]
    public void A_takeover_is_recorded_as_the_survivor_did_it_though_the_standby_choice_moved_on()
    {
        // The replica was on vios3 when vios3 promoted it; the choice has since moved the replica to vios4.
        Persist(_registry, new StandbyChosen("db", StandbyMode.Hot, "vios4", true, "re-planned", T0));
        var done = new TakeoverCompleted("db", "vios1", "db@vios1#0", "vios3", FailoverImage.Replica, T0, TimeSpan.FromSeconds(1), "promoted its replica at epoch 9");

        var (events, _) = _registry.Decide(done);

        var planned = Assert.Single(events.OfType<RestartPlanned>());
        Assert.Equal(("vios3", FailoverImage.Replica), (planned.TargetNode, planned.Image));
    }
}
