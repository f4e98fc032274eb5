using Akka.Cluster;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// The HA manager's dead-node and failure rules (<see cref="FailureDetector"/>), on members, reports
/// and a clock given by the spec: no cluster, no actor.
/// </summary>
public sealed class FailureDetectorSpecs
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AfterGrace = Grace + TimeSpan.FromSeconds(1);

    // The addresses HaManagerHarness.List gives nodes a, b and c, in that order.
    private const string A = "akka.tcp://vios@127.0.0.1:4100";
    private const string B = "akka.tcp://vios@127.0.0.1:4101";
    private const string C = "akka.tcp://vios@127.0.0.1:4102";

    private static FailureDetector Detector() => new(Grace, TimeSpan.FromMinutes(1), Start);

    /// <summary>Partitions p on a and q on b, these nodes registered, each at its own address whichever are listed.</summary>
    private static LparList Listing(params string[] registered) =>
        HaManagerHarness.List([HaManagerHarness.Running("p", "a"), HaManagerHarness.Running("q", "b")], registered) with
        {
            NodeAddresses = registered.ToDictionary(n => n, n => n switch { "a" => A, "b" => B, _ => C }),
        };

    private static List<MemberView> Members(params (string Address, MemberStatus Status)[] members) =>
        members.Select(m => new MemberView(m.Address, m.Status, Vios: true)).ToList();

    private static NodeSilent Silent(string node, string by, bool fenced = false, params string[] lastLive) =>
        new(node, by, 7, lastLive, Start, Start) { FencedByReporter = fenced };

    [Fact]
    public void A_silent_node_that_is_still_Up_is_not_dead_and_is_once_it_is_downed_though_still_registered()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        detector.Learn(list);
        Assert.True(detector.Silent(Silent(A, B), Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.Up))));

        Assert.Empty(detector.DeadNodes(list, Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.Up)), Start));
        Assert.Equal(["a"], detector.DeadNodes(list, Members((A, MemberStatus.Down), (B, MemberStatus.Up), (C, MemberStatus.Up)), Start));
        Assert.Equal(new FenceNode("a", A), detector.FenceFor("a"));
    }

    [Fact]
    public void A_restart_stops_the_partition_first_only_on_a_registered_node_that_is_not_dead()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        var up = Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.Up));
        detector.Learn(list);

        // The partition failed on a live node (its guest went silent): stopped there before it moves.
        Assert.True(detector.StopFirst("a", list, up, Start));
        // Held silent, not fenced yet: still stopped first, which fences it.
        Assert.True(detector.Silent(Silent(A, B), up));
        Assert.True(detector.StopFirst("a", list, up, Start));
        // Fenced: dead, nothing to stop; an unregistered node, no failed node or no list: nothing either.
        Assert.False(detector.StopFirst("a", list, Members((A, MemberStatus.Down), (B, MemberStatus.Up), (C, MemberStatus.Up)), Start));
        Assert.False(detector.StopFirst("c", Listing("a", "b"), up, Start));
        Assert.False(detector.StopFirst(null, list, up, Start));
        Assert.False(detector.StopFirst("a", null, up, Start));
    }

    [Fact]
    public void A_report_from_a_member_that_is_not_Up_is_ignored()
    {
        // A node that was frozen reports every peer silent from its stale view before it learns it was downed.
        var detector = Detector();
        var list = Listing("a", "b", "c");
        detector.Learn(list);

        Assert.False(detector.Silent(Silent(B, A, fenced: true), Members((A, MemberStatus.Down), (B, MemberStatus.Up), (C, MemberStatus.Up))));
        Assert.Empty(detector.SilentNodes);
        Assert.Empty(detector.DeadNodes(list, Members((A, MemberStatus.Down), (B, MemberStatus.Up), (C, MemberStatus.Up)), Start));
    }

    [Fact]
    public void A_fenced_report_makes_the_node_dead_at_once_and_hearing_it_again_does_not_revive_it()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        var up = Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.Up));
        detector.Learn(list);
        Assert.True(detector.Silent(Silent(A, B), up));
        Assert.False(detector.Silent(Silent(A, C), up));

        // The reporter fenced it: news, and dead before the down reaches this node.
        Assert.True(detector.Silent(Silent(A, B, fenced: true), up));
        Assert.Equal(["a"], detector.DeadNodes(list, up, Start));

        Assert.False(detector.HeardAgain(new NodeHeardAgain(A, C, Start), up));
        Assert.Equal(["a"], detector.DeadNodes(list, up, Start));
    }

    [Fact]
    public void A_silent_node_heard_again_by_an_Up_member_is_no_longer_held_silent()
    {
        var detector = Detector();
        var up = Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.Up));
        detector.Learn(Listing("a", "b", "c"));
        detector.Silent(Silent(A, B), up);

        Assert.False(detector.HeardAgain(new NodeHeardAgain(A, C, Start), Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.Leaving))));
        Assert.True(detector.HeardAgain(new NodeHeardAgain(A, C, Start), up));
        Assert.Empty(detector.SilentNodes);
    }

    [Fact]
    public void A_fenced_node_registered_again_from_another_address_is_a_new_incarnation_and_not_dead()
    {
        var detector = Detector();
        detector.Learn(Listing("a", "b", "c"));
        detector.Silent(Silent(A, B, fenced: true), Members((A, MemberStatus.Up), (B, MemberStatus.Up)));
        var again = Listing("a", "b", "c") with { NodeAddresses = new Dictionary<string, string> { ["a"] = "akka.tcp://vios@127.0.0.1:4999", ["b"] = B, ["c"] = C } };

        Assert.Empty(detector.DeadNodes(again, Members((B, MemberStatus.Up), (C, MemberStatus.Up)), Start));
    }

    [Fact]
    public void A_node_missing_from_the_list_is_dead_only_after_the_startup_grace_and_once_it_is_no_member()
    {
        var detector = Detector();
        detector.Learn(Listing("a", "b"));
        var list = Listing("b");

        Assert.Empty(detector.DeadNodes(list, Members((B, MemberStatus.Up)), Start + Grace / 2));
        // Still a member: registering again, or leaving; its removal decides.
        Assert.Empty(detector.DeadNodes(list, Members((A, MemberStatus.Up), (B, MemberStatus.Up)), Start + AfterGrace));
        Assert.Equal(["a"], detector.DeadNodes(list, Members((B, MemberStatus.Up)), Start + AfterGrace));
    }

    [Fact]
    public void A_node_that_left_gracefully_is_not_dead_until_it_is_back_from_another_address()
    {
        var detector = Detector();
        detector.Learn(Listing("a", "b"));
        Assert.Equal("a", detector.Leaving(A));
        Assert.Null(detector.Leaving(A));
        Assert.Equal(("a", false), detector.Removed(A, left: true));
        Assert.Empty(detector.DeadNodes(Listing("b"), Members((B, MemberStatus.Up)), Start + AfterGrace));

        // Its own registration, still listed from the address it left: not back.
        Assert.Empty(detector.Learn(Listing("a", "b")));
        var back = Listing("a", "b") with { NodeAddresses = new Dictionary<string, string> { ["a"] = "akka.tcp://vios@127.0.0.1:4999", ["b"] = B } };
        Assert.Equal([("a", "akka.tcp://vios@127.0.0.1:4999")], detector.Learn(back));

        // Back, then downed: dead.
        Assert.Equal(("a", false), detector.Removed("akka.tcp://vios@127.0.0.1:4999", left: false));
        Assert.Equal(["a"], detector.DeadNodes(Listing("b"), Members((B, MemberStatus.Up)), Start + AfterGrace));
    }

    [Fact]
    public void A_recovered_leave_older_than_remembered_no_longer_hides_the_node()
    {
        var recent = Detector();
        var settled = Detector();
        recent.LeaveRecorded(new NodeLeftGracefully("a", A, Start), recovering: true, Start + TimeSpan.FromSeconds(30));
        settled.LeaveRecorded(new NodeLeftGracefully("a", A, Start), recovering: true, Start + TimeSpan.FromMinutes(2));
        var list = Listing("b");
        var members = Members((B, MemberStatus.Up));

        Assert.Empty(recent.DeadNodes(list, members, Start + AfterGrace));
        Assert.Equal(["a"], settled.DeadNodes(list, members, Start + AfterGrace));
        Assert.Single(settled.LeavesOnRecord);
        settled.RejoinRecorded(new NodeRejoined("a", C, Start), recovering: true);
        Assert.Empty(settled.LeavesOnRecord);
    }

    [Fact]
    public void A_list_is_complete_only_with_every_Up_vios_member_that_is_not_held_silent_registered()
    {
        var detector = Detector();
        var members = Members((A, MemberStatus.Up), (B, MemberStatus.Up), (C, MemberStatus.WeaklyUp));
        detector.Learn(Listing("a", "b", "c"));
        var noDead = new HashSet<string>();

        Assert.False(detector.Complete(Listing("a", "b"), noDead, members));
        Assert.True(detector.Complete(Listing("a", "b", "c"), noDead, members));
        detector.Silent(Silent(C, A), members);
        Assert.True(detector.Complete(Listing("a", "b"), noDead, members));
        // A lighthouse is no vios member.
        Assert.True(detector.Complete(Listing("a", "b"), noDead, [.. members, new MemberView("akka.tcp://vios@127.0.0.1:4200", MemberStatus.Up, Vios: false)]));
        // A leaving member still hosts its partitions: a list without it is not complete.
        var leaving = Members((A, MemberStatus.Up), (B, MemberStatus.Leaving));
        Assert.False(detector.Complete(Listing("a"), noDead, leaving));
        Assert.True(detector.Complete(Listing("a", "b"), noDead, leaving));
    }

    [Fact]
    public void The_partitions_of_a_registered_node_seen_leaving_are_not_failed_whatever_is_reported_of_them()
    {
        // A new instance never saw b's leave begin; b is Leaving, and its partition q is reported failed there.
        var detector = Detector();
        var list = Listing("a", "b", "c");
        var failing = list with { Lpars = [list.Lpars[0], list.Lpars[1] with { State = LparState.Failed, IntendedRunning = true }] };
        var members = Members((A, MemberStatus.Up), (B, MemberStatus.Leaving), (C, MemberStatus.Up));
        detector.Learn(failing);

        var dead = detector.DeadNodes(failing, members, Start);

        Assert.Empty(dead);
        Assert.Empty(detector.Check(failing, dead, Registry(list), new HashSet<string>(), Start).Events);
        // The same report from a node that is not leaving fails it.
        Assert.NotEmpty(Detector().Check(failing, dead, Registry(list), new HashSet<string>(), Start).Events);
        // The leave's own event is still news, so the HA manager records it for its successor.
        Assert.Equal("b", detector.Leaving(B));
    }

    [Fact]
    public void A_partition_on_a_dead_node_fails_once_and_not_again_while_its_restart_is_pending_or_in_progress()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        var draft = Registry(list);
        var dead = new HashSet<string> { "a" };

        var check = detector.Check(list, dead, draft, new HashSet<string>(), Start);

        var failed = Assert.Single(check.Events.OfType<FailureRecorded>());
        Assert.Equal(("p", "a", "p@a#0"), (failed.Lpar, failed.FailedNode, failed.FailureId));
        Assert.Contains(check.Events, e => e is RestartPlanned { Lpar: "p" });
        Assert.Empty(detector.Check(list, dead, draft, new HashSet<string>(), Start).Events);
        Assert.Empty(detector.Check(list, dead, Registry(list), new HashSet<string> { "p" }, Start).Events);
    }

    [Fact]
    public void A_silent_guest_fails_its_partition_only_when_reported_from_the_partitions_current_node()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        detector.GuestSilent(new GuestSilent(C, "q", Start, Start));
        Assert.Empty(detector.Check(list, new HashSet<string>(), Registry(list), new HashSet<string>(), Start).Events);

        detector.GuestSilent(new GuestSilent(B, "q", Start, Start));
        var failed = Assert.Single(detector.Check(list, new HashSet<string>(), Registry(list), new HashSet<string>(), Start).Events.OfType<FailureRecorded>());
        Assert.Equal("q", failed.Lpar);
        Assert.Contains("heartbeats stopped", failed.Cause);
    }

    [Fact]
    public void A_partition_meant_to_run_that_its_restarted_node_reports_only_defined_fails()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        var defined = list with
        {
            Lpars = [list.Lpars[0] with { State = LparState.Defined, IntendedRunning = true }, list.Lpars[1] with { State = LparState.Defined, IntendedRunning = false }],
        };

        // Once is a moment of a start in progress; for longer, it died with its node's earlier process.
        Assert.Empty(detector.Check(defined, new HashSet<string>(), Registry(list), new HashSet<string>(), Start).Events);
        var later = Start + FailureDetector.DefinedLongEnough;
        var failed = Assert.Single(detector.Check(defined, new HashSet<string>(), Registry(list), new HashSet<string>(), later).Events.OfType<FailureRecorded>());

        Assert.Equal("p", failed.Lpar);
        Assert.Contains("came back without it", failed.Cause);
        // Not while its state is the record's own assumption (a move, an intent recovered before the node reported).
        var assumed = defined with { Lpars = [defined.Lpars[0] with { StateReported = false }] };
        Assert.Empty(detector.Check(assumed, new HashSet<string>(), Registry(list), new HashSet<string>(), later).Events);
    }

    [Fact]
    public void A_partition_meant_to_run_that_its_live_node_reports_failed_fails_at_once_and_one_stopped_on_purpose_does_not()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c");
        // p's copy on a lost the partition to a newer owner that is gone as well (it failed, with the
        // owner epoch the record knows); q failed on b but its operator had stopped it.
        var failedThere = list with
        {
            Lpars = [list.Lpars[0] with { State = LparState.Failed, IntendedRunning = true }, list.Lpars[1] with { State = LparState.Failed, IntendedRunning = false }],
        };

        var failed = Assert.Single(detector.Check(failedThere, new HashSet<string>(), Registry(list), new HashSet<string>(), Start).Events.OfType<FailureRecorded>());

        Assert.Equal(("p", "a"), (failed.Lpar, failed.FailedNode));
        Assert.Contains("reports it failed", failed.Cause);
        // Not on the record's own assumption (a move, an intent recovered before the node reported).
        var assumed = failedThere with { Lpars = [failedThere.Lpars[0] with { StateReported = false }] };
        Assert.Empty(detector.Check(assumed, new HashSet<string>(), Registry(list), new HashSet<string>(), Start).Events);
    }

    /// <summary>A defined partition that takes all 8 CPUs of <paramref name="node"/>: nothing else fits there.</summary>
    private static LparSummary Ballast(string node) =>
        new(new LparDefinition("ballast", 8, 16, PlacementPolicy.Balanced, [],
            new Allocation("ballast", node, PlacementPolicy.Balanced, [], [], []), Start), LparState.Defined, true);

    [Fact]
    public void A_designated_node_without_room_for_the_partition_is_passed_over_for_one_with_room()
    {
        var detector = Detector();
        var list = Listing("a", "b", "c") with { Lpars = [HaManagerHarness.Running("p", "a"), Ballast("b")] };
        var draft = new HaRegistry();
        var (declared, _) = draft.Decide(new DeclareAvailability("p", "a", "b", "c"), ["a", "b", "c"]);
        draft.Apply(declared!);

        var planned = Assert.Single(detector.Check(list, new HashSet<string> { "a" }, draft, new HashSet<string>(), Start).Events.OfType<RestartPlanned>());

        Assert.Equal("c", planned.TargetNode);
        Assert.Contains("consistency failover image node b has no room for it", planned.Reason);
    }

    [Fact]
    public void Two_failures_in_one_survey_do_not_both_take_the_last_room_of_a_node()
    {
        // b and c have room for one 8-CPU partition each; two of them fail on a at once.
        LparSummary Big(string name) => new(new LparDefinition(name, 8, 16, PlacementPolicy.Balanced, [],
            new Allocation(name, "a", PlacementPolicy.Balanced, [], [], []), Start), LparState.Running, true);
        var detector = Detector();
        var list = Listing("a", "b", "c") with { Lpars = [Big("p1"), Big("p2")] };
        var draft = new HaRegistry();
        foreach (var name in new[] { "p1", "p2" })
            draft.Apply(draft.Decide(new DeclareAvailability(name, "a", "b", "b"), ["a", "b", "c"]).Event!);

        var targets = detector.Check(list, new HashSet<string> { "a" }, draft, new HashSet<string>(), Start).Events.OfType<RestartPlanned>()
            .Select(p => (p.Lpar, p.TargetNode));

        Assert.Equal([("p1", "b"), ("p2", "c")], targets);
    }

    [Fact]
    public void A_full_designated_node_is_kept_when_no_live_node_has_room()
    {
        var detector = Detector();
        var list = Listing("a", "b") with { Lpars = [HaManagerHarness.Running("p", "a"), Ballast("b")] };
        var draft = new HaRegistry();
        draft.Apply(draft.Decide(new DeclareAvailability("p", "a", "b", "b"), ["a", "b"]).Event!);

        var planned = Assert.Single(detector.Check(list, new HashSet<string> { "a" }, draft, new HashSet<string>(), Start).Events.OfType<RestartPlanned>());

        Assert.Equal("b", planned.TargetNode);
    }

    /// <summary>A registry with an availability record of each listed partition, on the listed nodes.</summary>
    private static HaRegistry Registry(LparList list)
    {
        var registry = new HaRegistry();
        var nodes = list.Nodes.Select(n => n.Node).ToList();
        foreach (var summary in list.Lpars)
        {
            var (declared, refusal) = registry.Decide(new DeclareAvailability(summary.Definition.Name, summary.Definition.Node, null, null), nodes);
            Assert.True(declared is not null, refusal);
            registry.Apply(declared);
        }
        return registry;
    }
}

/// <summary>What a node does after a freeze of its own process (<see cref="FreezeResponse"/>).</summary>
public sealed class FreezeResponseSpecs
{
    private const string Self = "akka.tcp://vios@127.0.0.1:4100";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private static readonly MemberView[] WithPeer =
        [new(Self, MemberStatus.Up, true), new("akka.tcp://vios@127.0.0.1:4101", MemberStatus.Up, true)];

    [Fact]
    public void A_freeze_longer_than_the_limit_downs_the_node_when_another_vios_member_can_take_its_partitions()
    {
        Assert.True(FreezeResponse.DownsItself(TimeSpan.FromSeconds(8), Limit, WithPeer, Self));
        Assert.False(FreezeResponse.DownsItself(TimeSpan.FromSeconds(3), Limit, WithPeer, Self));
        Assert.False(FreezeResponse.DownsItself(TimeSpan.FromSeconds(8), null, WithPeer, Self));
    }

    [Fact]
    public void A_node_alone_or_beside_lighthouses_and_leaving_members_keeps_running()
    {
        MemberView[] alone = [new(Self, MemberStatus.Up, true), new("akka.tcp://vios@127.0.0.1:4200", MemberStatus.Up, false),
            new("akka.tcp://vios@127.0.0.1:4101", MemberStatus.Leaving, true)];

        Assert.False(FreezeResponse.DownsItself(TimeSpan.FromSeconds(30), Limit, alone, Self));
    }
}
