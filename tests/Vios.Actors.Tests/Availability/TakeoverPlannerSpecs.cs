using Vios.Actors.Availability;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// Issue 12, point 4: what a survivor takes over when the node hosting the HA manager is downed.
/// Three nodes a, b, c; the HA manager and the partition manager ran on a, with web (cold, its
/// consistency node b) and db (hot, its replica on c) there.
/// </summary>
public sealed class TakeoverPlannerSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 21, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, string> Addresses = new()
    {
        ["a"] = "akka.tcp://vios@127.0.0.1:5001",
        ["b"] = "akka.tcp://vios@127.0.0.1:5002",
        ["c"] = "akka.tcp://vios@127.0.0.1:5003",
        ["d"] = "akka.tcp://vios@127.0.0.1:5004",
    };

    private static LparList List(PartitionRegistry registry) => registry.List() with { NodeAddresses = Addresses };

    private static (PartitionRegistry Registry, ControlPlaneView View) Cluster(string haHost = "a", IReadOnlyList<FailureEntry>? webFailures = null, string webNode = "a")
    {
        var registry = new PartitionRegistry();
        foreach (var node in Addresses.Keys)
            registry.Register(NodeResources.FromDomains(node, [new ResourceDomain("cec1/node0", 8, 8192, [])]), new Dictionary<string, LparState>());
        foreach (var (lpar, node) in new[] { ("web", webNode), ("db", "a") })
        {
            var (defined, refusal) = registry.Decide(new CreateLpar(lpar, 1, 256, PlacementPolicy.Balanced, [], node), T0);
            Assert.True(defined is not null, refusal?.Reason);
            registry.Apply(defined);
            registry.Report(lpar, LparState.Running);
        }
        var records = new List<AvailabilityRecord>
        {
            new("web", webNode, "b", "c", webFailures ?? []),
            new("db", "a", "b", "c", []) { Standby = new StandbyChosen("db", StandbyMode.Hot, "c", true, "hot", T0) },
        };
        var view = ControlPlaneView.Empty;
        foreach (var address in Addresses.Values) view = view.WithMember(address, MemberCondition.Reachable, T0);
        view = view.WithPartitions(List(registry), Addresses[haHost], T0)
            .WithAvailability(new HaStatus(records, []), Addresses[haHost], T0)
            .WithMember(Addresses["a"], MemberCondition.Downed, T0.AddSeconds(2));
        return (registry, view);
    }

    [Fact]
    public void The_consistency_node_restores_the_cold_partition_and_the_replica_node_promotes_the_hot_one_each_under_a_jumped_epoch()
    {
        var (_, view) = Cluster();

        var onB = Assert.Single(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        var onC = Assert.Single(TakeoverPlanner.Plan("c", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));

        Assert.Equal(("web", FailoverImage.Consistency, "b", "web@a#0"), (onB.Lpar, onB.Image, onB.Definition.Node, onB.FailureId));
        Assert.Equal(("db", FailoverImage.Replica, "c"), (onC.Lpar, onC.Image, onC.Definition.Node));
        Assert.Equal(1 + TakeoverPlanner.EpochJump, onB.Definition.OwnerEpoch);
    }

    [Fact]
    public void Nothing_is_taken_over_when_the_HA_manager_lives_on_another_node()
    {
        var (_, view) = Cluster(haHost: "b");

        Assert.Empty(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        Assert.Empty(TakeoverPlanner.Plan("c", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
    }

    [Fact]
    public void A_repeated_failure_within_the_window_goes_to_the_boot_node_from_the_boot_image()
    {
        var earlier = new FailureEntry("web@x#0", "x", "x was downed", T0.AddMinutes(-1), "a", FailoverImage.Consistency, "restarted", T0.AddMinutes(-1), true);
        var (_, view) = Cluster(webFailures: [earlier]);

        Assert.DoesNotContain(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)), p => p.Lpar == "web");
        var boot = Assert.Single(TakeoverPlanner.Plan("c", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)), p => p.Lpar == "web");
        Assert.Equal((FailoverImage.Boot, "web@a#1"), (boot.Image, boot.FailureId));
    }

    [Fact]
    public void A_designated_node_that_is_not_live_leaves_the_partition_to_the_next_HA_manager()
    {
        var (_, view) = Cluster();
        view = view.WithMember(Addresses["b"], MemberCondition.Unreachable, T0.AddSeconds(1));

        // web's consistency node b is impaired: the registry would fall back to c, which survivors may not agree on.
        Assert.DoesNotContain(TakeoverPlanner.Plan("c", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)), p => p.Lpar == "web");
    }

    [Fact]
    public void A_partition_with_a_restart_already_planned_or_not_on_the_downed_node_is_left_alone()
    {
        var (_, view) = Cluster(webNode: "c");
        var pending = new RestartPlanned("db", "db@a#0", "c", FailoverImage.Replica, "planned", T0);
        view = view.WithAvailability(view.Availability!.Value with { Pending = [pending] }, Addresses["a"], T0);

        Assert.Empty(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        Assert.Empty(TakeoverPlanner.Plan("c", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
    }

    [Fact]
    public void The_published_list_shows_the_takeover_until_a_partition_manager_publishes_again()
    {
        var (registry, view) = Cluster();
        var plan = Assert.Single(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));

        var list = TakeoverPlanner.ListWithTakeover(view, plan);

        var web = Assert.Single(list!.Lpars, l => l.Definition.Name == "web");
        Assert.Equal(("b", LparState.Running, plan.Definition.OwnerEpoch), (web.Definition.Node, web.State, web.Definition.OwnerEpoch));
        Assert.Null(TakeoverPlanner.ListWithTakeover(view.WithPartitions(List(registry), Addresses["c"], T0.AddSeconds(3)), plan));
    }

    [Fact]
    public void A_takeover_whose_survivor_dies_before_any_HA_manager_hears_of_it_is_taken_over_again_by_the_boot_node()
    {
        // a ran the managers and web (consistency node b, boot node c); a was downed, b took web over and
        // published the list with it; a was removed, and b was downed before the singletons started again.
        var (_, view) = Cluster();
        var first = Assert.Single(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        view = view.WithPartitions(TakeoverPlanner.ListWithTakeover(view, first)!, Addresses["a"], T0.AddSeconds(3))
            .WithMember(Addresses["a"], MemberCondition.Removed, T0.AddSeconds(4))
            .WithMember(Addresses["b"], MemberCondition.Downed, T0.AddSeconds(5));

        // The record still has web on a, which is gone too: it follows to b, and b, web's consistency
        // node, gives way to the boot node c, which restores web under an epoch above b's.
        var again = Assert.Single(TakeoverPlanner.Plan("c", Addresses["b"], view, FailoverPolicy.Default, T0.AddSeconds(5)));
        Assert.Equal(("web", "c", FailoverImage.Consistency, "web@b#0"), (again.Lpar, again.Definition.Node, again.Image, again.FailureId));
        Assert.Equal(first.Definition.OwnerEpoch + TakeoverPlanner.EpochJump, again.Definition.OwnerEpoch);
        Assert.Empty(TakeoverPlanner.Plan("d", Addresses["b"], view, FailoverPolicy.Default, T0.AddSeconds(5)));
        // Every survivor's control view shows it on c until a partition manager publishes.
        Assert.Equal("c", Assert.Single(TakeoverPlanner.ListWithTakeover(view, again)!.Lpars, l => l.Definition.Name == "web").Definition.Node);

        // Had the record web on d, a live node, d may run it at an epoch this list does not show: nothing.
        var records = view.Availability!.Value.Records.Select(r => r.Lpar == "web" ? r with { Node = "d" } : r).ToList();
        var onD = view.WithAvailability(new HaStatus(records, []), Addresses["a"], T0.AddSeconds(1));
        Assert.Empty(TakeoverPlanner.Plan("c", Addresses["b"], onD, FailoverPolicy.Default, T0.AddSeconds(5)));
    }

    [Fact]
    public void A_control_view_keeps_a_takeover_a_new_partition_manager_lists_at_an_older_epoch_until_a_list_catches_up()
    {
        var (registry, view) = Cluster();
        var plan = Assert.Single(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        view = view.WithPartitions(TakeoverPlanner.ListWithTakeover(view, plan)!, Addresses["a"], T0.AddSeconds(3));

        // The new partition manager (on c) recovered web on a at epoch 1: the view keeps web on b at 3, and takes the rest.
        var stale = List(registry);
        view = view.WithPartitions(stale, Addresses["c"], T0.AddSeconds(4));
        var web = view.Partitions!.Value.Lpars.Single(l => l.Definition.Name == "web");
        Assert.Equal(("b", plan.Definition.OwnerEpoch, LparState.Running), (web.Definition.Node, web.Definition.OwnerEpoch, web.State));
        Assert.Equal(Addresses["c"], view.Partitions.Publisher);
        Assert.Equal("a", view.Partitions.Value.Lpars.Single(l => l.Definition.Name == "db").Definition.Node);

        // Adopted: the list at the same epoch replaces it; a list without web drops it.
        registry.Unregister("a");
        var (moved, _) = registry.Decide(new LparTakenOver("web", "b", "a", plan.Definition.OwnerEpoch, plan.Reason));
        registry.Apply(moved!);
        registry.Report("web", LparState.Quiesced);
        view = view.WithPartitions(List(registry), Addresses["c"], T0.AddSeconds(5));
        Assert.Equal(LparState.Quiesced, view.Partitions!.Value.Lpars.Single(l => l.Definition.Name == "web").State);
        view = view.WithPartitions(List(registry) with { Lpars = [] }, Addresses["c"], T0.AddSeconds(6));
        Assert.Empty(view.Partitions!.Value.Lpars);
    }

    [Fact]
    public void A_promotion_the_replica_refuses_falls_back_to_the_last_committed_image_and_a_failed_restore_to_the_next_HA_manager()
    {
        var (_, view) = Cluster();
        var promote = Assert.Single(TakeoverPlanner.Plan("c", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        Assert.Equal(FailoverImage.Replica, promote.Image);

        var restore = TakeoverPlanner.Fallback(promote);

        Assert.Equal(promote with { Image = FailoverImage.Consistency }, restore);
        Assert.Null(TakeoverPlanner.Fallback(restore!));
    }

    [Fact]
    public void The_record_follows_a_takeover_under_a_newer_epoch_once_and_refuses_an_older_one()
    {
        var (registry, view) = Cluster();
        var plan = Assert.Single(TakeoverPlanner.Plan("b", Addresses["a"], view, FailoverPolicy.Default, T0.AddSeconds(2)));
        registry.Unregister("a");
        var taken = new LparTakenOver("web", "b", "a", plan.Definition.OwnerEpoch, plan.Reason);

        var (moved, refusal) = registry.Decide(taken);
        Assert.True(moved is not null, refusal);
        registry.Apply(moved);

        Assert.Equal(("b", plan.Definition.OwnerEpoch), (registry.Find("web")!.Node, registry.Find("web")!.OwnerEpoch));
        // Announced again (no answer reached the takeover): nothing more to do.
        Assert.Equal((null, null), registry.Decide(taken));
        // A move by the partition manager since (epoch + 1) is newer than a takeover at an older epoch.
        Assert.Contains("not older", registry.Decide(taken with { OwnerEpoch = 2, Node = "c" }).Refusal);
    }

    [Fact]
    public void A_node_that_is_not_up_itself_or_was_frozen_a_moment_ago_takes_nothing_over()
    {
        var settle = TimeSpan.FromSeconds(5);
        Assert.Null(TakeoverPlanner.StaleView(Akka.Cluster.MemberStatus.Up, null, settle));
        Assert.Null(TakeoverPlanner.StaleView(Akka.Cluster.MemberStatus.Up, TimeSpan.FromSeconds(6), settle));
        Assert.Equal("this node is down itself", TakeoverPlanner.StaleView(Akka.Cluster.MemberStatus.Down, null, settle));
        Assert.Equal("this node is leaving itself", TakeoverPlanner.StaleView(Akka.Cluster.MemberStatus.Leaving, null, settle));
        Assert.Equal("this process was frozen 1.5 s ago and its view is from before",
            TakeoverPlanner.StaleView(Akka.Cluster.MemberStatus.Up, TimeSpan.FromSeconds(1.5), settle));
    }
}
