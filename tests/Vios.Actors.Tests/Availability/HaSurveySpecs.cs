using Akka.Cluster;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>One survey of the HA manager (<see cref="HaSurvey"/>), decided without an actor or a cluster.</summary>
public sealed class HaSurveySpecs
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly AvailabilitySettings Settings = AvailabilitySettings.Default;

    private const string A = "akka.tcp://vios@127.0.0.1:4100";
    private const string B = "akka.tcp://vios@127.0.0.1:4101";
    private const string C = "akka.tcp://vios@127.0.0.1:4102";

    private static readonly MemberView[] AllUp = [new(A, MemberStatus.Up, true), new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true)];

    [Fact]
    public void A_first_survey_declares_a_record_for_each_partition_and_leaves_the_registry_to_the_journal()
    {
        var registry = new HaRegistry();
        var list = HaManagerHarness.List([HaManagerHarness.Running("p", "a"), HaManagerHarness.Running("q", "b")], "a", "b", "c");

        var decision = HaSurvey.Decide(list, registry, Detector(), new StandbyUpkeep(Settings), AllUp, new HashSet<string>(), Start);

        Assert.True(decision.Complete);
        Assert.Equal(["p", "q"], decision.Events.OfType<AvailabilityDeclared>().Select(d => d.Lpar));
        Assert.Empty(registry.Records);
    }

    [Fact]
    public void A_list_without_every_live_vios_node_declares_records_but_fails_nothing()
    {
        var registry = Declared(HaManagerHarness.List([HaManagerHarness.Running("p", "a")], "a", "b", "c"));
        var detector = Detector();
        // a was downed; b is Up but has not registered with the new partition manager yet.
        const string d = "akka.tcp://vios@127.0.0.1:4103";
        var members = new MemberView[] { new(A, MemberStatus.Down, true), new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true), new(d, MemberStatus.Up, true) };
        detector.Learn(HaManagerHarness.List([], "a", "b", "c", "d"));
        detector.Removed(A, left: false);
        var partial = HaManagerHarness.List([HaManagerHarness.Running("p", "a"), HaManagerHarness.Running("r", "c")], "c", "d") with
        {
            NodeAddresses = new Dictionary<string, string> { ["c"] = C, ["d"] = d },
        };

        var decision = HaSurvey.Decide(partial, registry, detector, new StandbyUpkeep(Settings), members, new HashSet<string>(), Start);

        Assert.False(decision.Complete);
        Assert.Equal("r", Assert.IsType<AvailabilityDeclared>(Assert.Single(decision.Events)).Lpar);
    }

    [Fact]
    public void A_complete_list_with_a_dead_node_plans_the_restart_of_its_partition_on_a_live_one()
    {
        var list = HaManagerHarness.List([HaManagerHarness.Running("p", "a")], "a", "b", "c");
        var registry = Declared(list);
        var detector = Detector();
        detector.Learn(list);
        detector.Removed(A, left: false);
        var members = new MemberView[] { new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true) };
        var survivors = HaManagerHarness.List([HaManagerHarness.Running("p", "a")], "b", "c");

        var decision = HaSurvey.Decide(survivors, registry, detector, new StandbyUpkeep(Settings), members, new HashSet<string>(), Start);

        var planned = Assert.Single(decision.Events.OfType<RestartPlanned>());
        Assert.Equal("p", planned.Lpar);
        Assert.Contains(planned.TargetNode, new[] { "b", "c" });
        // Being restarted already: not planned twice.
        Assert.Empty(HaSurvey.Decide(survivors, registry, detector, new StandbyUpkeep(Settings), members, new HashSet<string> { "p" }, Start).Events);
    }

    [Fact]
    public void A_takeover_the_partition_manager_adopted_but_never_announced_here_is_followed_and_fails_over_when_its_new_node_dies()
    {
        // p ran on a; a died with the singletons on it, b took p over and the partition manager adopted
        // the takeover from b's registration, but b died before it told the HA manager.
        var registry = Declared(At([HaManagerHarness.Running("p", "a")], "a", "b", "c"));
        var detector = Detector();
        detector.Learn(At([], "a", "b", "c"));
        detector.Removed(A, left: false);
        var afterTakeover = At([HaManagerHarness.Running("p", "b")], "b", "c");
        var upBC = new MemberView[] { new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true) };

        var follow = HaSurvey.Decide(afterTakeover, registry, detector, new StandbyUpkeep(Settings), upBC, new HashSet<string>(), Start);

        var followed = Assert.Single(follow.Followed);
        Assert.Equal(("p", "b"), (followed.Lpar, followed.Node));
        Assert.NotEqual("b", followed.ConsistencyNode);
        Assert.Empty(follow.Events.OfType<RestartPlanned>());
        foreach (var e in follow.Events) registry.Apply(e);
        Assert.Equal("b", registry.Find("p")!.Node);

        // b dies in turn: p fails over from b (before, every report about b read as stale, and p was never back).
        detector.Removed(B, left: false);
        var decision = HaSurvey.Decide(At([HaManagerHarness.Running("p", "b")], "c"), registry, detector, new StandbyUpkeep(Settings),
            [new(C, MemberStatus.Up, true)], new HashSet<string>(), Start.AddSeconds(5));

        var planned = Assert.Single(decision.Events.OfType<RestartPlanned>());
        Assert.Equal(("p", "c"), (planned.Lpar, planned.TargetNode));
        Assert.Equal("b", Assert.Single(decision.Events.OfType<FailureRecorded>()).FailedNode);
    }

    [Fact]
    public void A_list_asked_for_before_a_record_changed_names_that_partition_and_one_asked_after_does_not()
    {
        var lists = new ListNumbering();
        var before = lists.Ask();
        lists.Recorded(new AvailabilityDeclared("p", "b", "c", "c"));
        lists.Recorded(new NodeRejoined("a", A, Start));

        Assert.Equal(["p"], lists.ChangedSince(before));
        var after = lists.Ask();
        Assert.Empty(lists.ChangedSince(after));
        lists.Recorded(new FailureRecorded("q", "f1", "a", "node died", Start));
        Assert.Equal(["q"], lists.ChangedSince(after));
        Assert.Equal(["p", "q"], lists.ChangedSince(before).Order());
    }

    [Fact]
    public void A_hot_pair_whose_replica_node_came_back_as_a_new_process_is_started_again()
    {
        var registry = Declared(At([HaManagerHarness.Running("p", "a")], "a", "b", "c"));
        registry.Apply(new SetAvailabilityRequirement("p", TimeSpan.FromSeconds(3), FullPerformance: true));
        registry.Apply(new StandbyChosen("p", StandbyMode.Hot, "b", true, "hot on b", Start));
        var standby = new StandbyUpkeep(Settings);
        var list = At([HaManagerHarness.Running("p", "a")], "a", "b", "c");

        var pair = Assert.Single(standby.PairsToStart(list, registry, new HashSet<string>()));
        Assert.Equal(("p", "a", "b"), (pair.Lpar, pair.Primary, pair.Replica));
        // Being started: not again.
        Assert.Empty(standby.PairsToStart(list, registry, new HashSet<string>()));
        standby.PairingEnded(new PairingDone("p", "a", "b", null));
        Assert.Empty(standby.PairsToStart(list, registry, new HashSet<string>()));

        Assert.Equal(B, pair.ReplicaAddress);

        // b was killed and started again under its name: its replica died with the old process.
        var restarted = list with { NodeAddresses = new Dictionary<string, string>(list.NodeAddresses) { ["b"] = "akka.tcp://vios@127.0.0.1:4201" } };
        var again = Assert.Single(standby.PairsToStart(restarted, registry, new HashSet<string>()));
        Assert.Equal((pair.Lpar, pair.Replica, "akka.tcp://vios@127.0.0.1:4201"), (again.Lpar, again.Replica, again.ReplicaAddress));
        // A refused pairing is tried again at the next survey.
        standby.PairingEnded(new PairingDone("p", "a", "b", "b has no room"));
        Assert.Single(standby.PairsToStart(restarted, registry, new HashSet<string>()));
    }

    [Fact]
    public void An_operators_move_is_followed_and_a_failover_image_node_that_is_now_the_partitions_own_is_chosen_again()
    {
        var registry = Declared(At([HaManagerHarness.Running("p", "a")], "a", "b", "c"));
        var before = registry.Find("p")!;
        var movedTo = before.ConsistencyNode;
        var list = At([HaManagerHarness.Running("p", movedTo)], "a", "b", "c");

        var decision = HaSurvey.Decide(list, registry, Detector(), new StandbyUpkeep(Settings), AllUp, new HashSet<string>(), Start);

        var followed = Assert.Single(decision.Followed);
        Assert.Equal(movedTo, followed.Node);
        Assert.NotEqual(movedTo, followed.ConsistencyNode);
        Assert.NotEqual(movedTo, followed.BootNode);
        // Logged as a warning that names the partition and its new node.
        var (level, text) = Assert.Single(decision.Describe(), line => line.Text.Contains("placed on"));
        Assert.Equal(Akka.Event.LogLevel.WarningLevel, level);
        Assert.Contains($"p is placed on {movedTo}", text);
    }

    [Fact]
    public void A_record_changed_since_the_list_was_asked_for_or_ahead_of_the_partition_manager_is_not_moved_back()
    {
        var registry = Declared(At([HaManagerHarness.Running("p", "a")], "a", "b", "c"));
        var list = At([HaManagerHarness.Running("p", "b")], "a", "b", "c");

        // The list may predate the change (a restart completed while it was on its way).
        var stale = HaSurvey.Decide(list, registry, Detector(), new StandbyUpkeep(Settings), AllUp, new HashSet<string>(), Start, new HashSet<string> { "p" });
        Assert.Empty(stale.Followed);

        // The record is ahead: b took p over from a and said so here; the partition manager has it as
        // b's stray, and adopts it in a moment. Moved back to a, p would be failed over from a again.
        var ahead = At([HaManagerHarness.Running("p", "a")], "b", "c") with
        {
            Strays = [new ReportedLpar("p", "b", LparState.Running, ReportedLparVerdict.PlacedElsewhere, "taken over")],
        };
        registry.Apply(new AvailabilityDeclared("p", "b", "c", "c"));
        var detector = Detector();
        detector.Learn(At([], "a", "b", "c"));
        detector.Removed(A, left: false);
        var decision = HaSurvey.Decide(ahead, registry, detector, new StandbyUpkeep(Settings),
            [new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true)], new HashSet<string>(), Start);
        Assert.Empty(decision.Followed);
        Assert.Empty(decision.Events.OfType<RestartPlanned>());
    }

    /// <summary>A partition list with these nodes registered at the addresses A, B and C of a, b and c.</summary>
    private static LparList At(IEnumerable<LparSummary> lpars, params string[] nodes) =>
        HaManagerHarness.List(lpars, nodes) with { NodeAddresses = nodes.ToDictionary(n => n, n => n switch { "a" => A, "b" => B, _ => C }) };

    private static FailureDetector Detector() => new(Settings.StartupGrace, Settings.LeaveRemembered, Start);

    private static HaRegistry Declared(LparList list)
    {
        var registry = new HaRegistry();
        foreach (var e in HaSurvey.Decide(list, registry, Detector(), new StandbyUpkeep(Settings), AllUp, new HashSet<string>(), Start).Events) registry.Apply(e);
        return registry;
    }
}
