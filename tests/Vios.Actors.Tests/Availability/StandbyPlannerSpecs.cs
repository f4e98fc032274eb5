using Vios.Actors.Availability;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// S17 standby selection. The partitions run on vios1; vios2 has room for a 4-vCPU, 8 GiB replica,
/// vios3 only for a small one.
/// </summary>
public sealed class StandbyPlannerSpecs
{
    private static readonly StandbyNode Vios1 = new("vios1", 0, 0);
    private static readonly StandbyNode Vios2 = new("vios2", 4, 8192);
    private static readonly StandbyNode Vios3 = new("vios3", 2, 2048);

    private static readonly RecoveryEstimate Typical = new(ColdRestart: TimeSpan.FromSeconds(40), HotPromotion: TimeSpan.FromSeconds(2));

    private readonly StandbyPlanner _planner = new();

    public StandbyPlannerSpecs() => _planner.Replan([Vios1, Vios2, Vios3]);

    private static AvailabilityRequirement Needs(string lpar, int seconds, bool fullPerformance, int vcpus = 4, long mb = 8192) =>
        new(lpar, "vios1", vcpus, mb, TimeSpan.FromSeconds(seconds), fullPerformance);

    [Fact]
    public void A_partition_a_cold_restart_serves_gets_cold_standby_and_no_replica()
    {
        var choice = _planner.Require(Needs("db", seconds: 60, fullPerformance: false), Typical);

        Assert.Equal((StandbyMode.Cold, null, true), (choice.Mode, choice.ReplicaNode, choice.RequirementMet));
        Assert.Equal("cold: restart from the image in about 40 s meets the 60 s limit, and reduced performance during failover is acceptable", choice.Reason);
    }

    [Fact]
    public void Full_performance_during_failover_gets_a_hot_replica_on_a_node_with_room()
    {
        var choice = _planner.Require(Needs("db", seconds: 60, fullPerformance: true), Typical);

        Assert.Equal((StandbyMode.Hot, "vios2", true), (choice.Mode, choice.ReplicaNode, choice.RequirementMet));
        Assert.Equal("hot on vios2: full performance during failover needs a hot replica; promotion in about 2 s meets the 60 s limit", choice.Reason);
    }

    [Fact]
    public void A_cold_restart_slower_than_the_limit_gets_a_hot_replica()
    {
        var choice = _planner.Require(Needs("db", seconds: 10, fullPerformance: false), Typical);

        Assert.Equal((StandbyMode.Hot, "vios2", true), (choice.Mode, choice.ReplicaNode, choice.RequirementMet));
        Assert.Contains("a cold restart (40 s) exceeds the 10 s limit", choice.Reason);
    }

    [Fact]
    public void Without_room_for_a_replica_the_best_available_is_cold_and_says_the_requirement_cannot_be_met()
    {
        var choice = _planner.Require(Needs("db", seconds: 10, fullPerformance: true, vcpus: 8), Typical);

        Assert.Equal((StandbyMode.Cold, null, false), (choice.Mode, choice.ReplicaNode, choice.RequirementMet));
        Assert.Equal(
            "cold (requirement cannot be met): full performance during failover needs a hot replica, but no node other than vios1 has 8 vCPUs and 8192 MB free for a replica; restart from the image in about 40 s is the best available",
            choice.Reason);
    }

    [Fact]
    public void A_promotion_slower_than_the_limit_is_still_hot_but_not_met()
    {
        var choice = _planner.Require(Needs("db", seconds: 1, fullPerformance: false), Typical);

        Assert.Equal((StandbyMode.Hot, "vios2", false), (choice.Mode, choice.ReplicaNode, choice.RequirementMet));
        Assert.Contains("promoting the replica takes about 2 s, over the 1 s limit", choice.Reason);
    }

    [Fact]
    public void A_replica_reserves_its_room_so_the_next_one_goes_elsewhere()
    {
        var big = _planner.Require(Needs("db", seconds: 60, fullPerformance: true), Typical);
        var small = _planner.Require(Needs("web", seconds: 60, fullPerformance: true, vcpus: 2, mb: 2048), Typical);
        var another = _planner.Require(Needs("mq", seconds: 60, fullPerformance: true, vcpus: 1, mb: 1024), Typical);

        Assert.Equal("vios2", big.ReplicaNode);
        Assert.Equal("vios3", small.ReplicaNode);
        Assert.Equal((StandbyMode.Cold, false), (another.Mode, another.RequirementMet));
    }

    [Fact]
    public void When_the_replica_node_leaves_the_partition_is_re_picked_and_again_when_it_returns()
    {
        _planner.Require(Needs("db", seconds: 60, fullPerformance: true), Typical);
        _planner.Require(Needs("web", seconds: 60, fullPerformance: false), Typical);

        var left = _planner.Replan([Vios1, Vios3]);

        var change = Assert.Single(left);
        Assert.Equal(("db", StandbyMode.Hot, "vios2"), (change.Lpar, change.Before!.Mode, change.Before.ReplicaNode));
        Assert.Equal((StandbyMode.Cold, false), (change.After.Mode, change.After.RequirementMet));
        Assert.Contains("requirement cannot be met", change.After.Reason);

        var joined = _planner.Replan([Vios1, Vios2, Vios3]);

        var back = Assert.Single(joined);
        Assert.Equal(("db", StandbyMode.Hot, "vios2", true), (back.Lpar, back.After.Mode, back.After.ReplicaNode, back.After.RequirementMet));
        Assert.Equal(StandbyMode.Hot, _planner.Choices["db"].Mode);
        Assert.Equal(StandbyMode.Cold, _planner.Choices["web"].Mode);
    }

    [Fact]
    public void A_replica_moves_to_another_node_with_room_when_its_node_leaves()
    {
        var vios4 = new StandbyNode("vios4", 8, 16384);
        _planner.Replan([Vios1, Vios2, Vios3, vios4]);
        _planner.Require(Needs("db", seconds: 60, fullPerformance: true), Typical);

        var changes = _planner.Replan([Vios1, Vios2, Vios3]);

        Assert.Equal("vios2", Assert.Single(changes).After.ReplicaNode);
    }

    [Fact]
    public void A_node_joining_does_not_move_a_replica_that_can_stay()
    {
        _planner.Require(Needs("db", seconds: 60, fullPerformance: true), Typical);

        var changes = _planner.Replan([Vios1, Vios2, Vios3, new StandbyNode("vios4", 64, 262144)]);

        Assert.Empty(changes);
        Assert.Equal("vios2", _planner.Choices["db"].ReplicaNode);
    }

    [Fact]
    public void A_restored_choice_keeps_its_replica_where_it_is_although_a_fresh_choice_would_go_elsewhere()
    {
        var roomy = new StandbyNode("vios4", 16, 65536);
        var need = Needs("db", 3, fullPerformance: true, vcpus: 2, mb: 2048);
        var planner = new StandbyPlanner();
        // A predecessor put the replica on vios3 (the journal says so); vios4 has more room now.
        var onRecord = StandbyPlanner.Choose(need, Typical, [Vios3]);
        Assert.Equal("vios3", onRecord.ReplicaNode);
        planner.Restore(need, Typical, onRecord);

        var changes = planner.Replan([Vios1, Vios2, Vios3, roomy]);

        Assert.Empty(changes);
        Assert.Equal("vios3", planner.Choices["db"].ReplicaNode);
        Assert.Equal("vios4", StandbyPlanner.Choose(need, Typical, [Vios1, Vios2, Vios3, roomy]).ReplicaNode);

        // Once vios3 is gone the replica moves, and the change is reported.
        var moved = Assert.Single(planner.Replan([Vios1, Vios2, roomy]));
        Assert.Equal(("vios3", "vios4"), (moved.Before!.ReplicaNode, moved.After.ReplicaNode));
    }
}
