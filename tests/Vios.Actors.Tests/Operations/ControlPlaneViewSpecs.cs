using System.Buffers;
using Vios.Actors.Availability;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Tests.Operations;

/// <summary>
/// What a node's control view answers for a partition (issue 12): its node reachable, unreachable
/// since T, downed with a failover pending, and nothing known; and how old its lists are and why.
/// p0 runs on vios-a; vios-b is the other node; the manager publishes from vios-b.
/// </summary>
public sealed class ControlPlaneViewSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 18, 40, 0, TimeSpan.Zero);
    private const string AddressA = "akka.tcp://vios@127.0.0.1:5001";
    private const string AddressB = "akka.tcp://vios@127.0.0.1:5002";

    private static LparList List(LparState state = LparState.Running)
    {
        var registry = new PartitionRegistry();
        foreach (var node in new[] { "vios-a", "vios-b" })
            registry.Register(NodeResources.FromDomains(node, [new ResourceDomain("cec1/node0", 4, 4096, ["eth"])]), new Dictionary<string, LparState>());
        var (defined, refusal) = registry.Decide(new CreateLpar("p0", 1, 512, PlacementPolicy.Locality, [], "vios-a"), T0);
        Assert.True(defined is not null, refusal?.Reason);
        registry.Apply(defined);
        registry.Report("p0", state);
        return registry.List() with { NodeAddresses = new Dictionary<string, string> { ["vios-a"] = AddressA, ["vios-b"] = AddressB } };
    }

    private static ControlPlaneView Published(LparState state = LparState.Running) =>
        ControlPlaneView.Empty
            .WithMember(AddressA, MemberCondition.Reachable, T0)
            .WithMember(AddressB, MemberCondition.Reachable, T0)
            .WithPartitions(List(state), AddressB, T0);

    [Fact]
    public void A_partition_on_a_reachable_node_is_known_and_its_node_is_not_impaired()
    {
        var known = Assert.IsType<PartitionKnown>(Published().Partition("p0", T0.AddSeconds(0.5)));

        Assert.Equal(("vios-a", LparState.Running, false), (known.Node.Node, known.LastKnownState, known.NodeImpaired));
        Assert.Null(known.Failover);
        Assert.Equal(0.5, known.List.AgeSeconds, 3);
    }

    [Fact]
    public void A_partition_on_an_unreachable_node_answers_its_last_state_the_node_and_since_when()
    {
        var view = Published().WithMember(AddressA, MemberCondition.Unreachable, T0.AddSeconds(2));
        // Seen unreachable again later (another member's report): the first time it was lost stands.
        view = view.WithMember(AddressA, MemberCondition.Unreachable, T0.AddSeconds(3));

        var known = Assert.IsType<PartitionKnown>(view.Partition("p0", T0.AddSeconds(4.1)));

        Assert.True(known.NodeImpaired);
        Assert.Equal((MemberCondition.Unreachable, T0.AddSeconds(2)), (known.Node.Condition, known.Node.UnreachableSince));
        Assert.Equal("p0 on vios-a: running (last known); vios-a unreachable since 18:40:02.000 (2.1 s ago)", known.Summary(T0.AddSeconds(4.1)));
    }

    [Fact]
    public void A_partition_on_a_downed_node_with_a_failover_pending_names_the_image_and_the_target_node()
    {
        var plan = new RestartPlanned("p0", "p0@vios-a#0", "vios-b", FailoverImage.Consistency, "its consistency failover image node", T0.AddMilliseconds(2500));
        var status = new HaStatus([], [plan]) { SilentNodes = [AddressA] };
        var view = Published()
            .WithMember(AddressA, MemberCondition.Unreachable, T0.AddSeconds(2))
            .WithMember(AddressA, MemberCondition.Downed, T0.AddMilliseconds(2400))
            .WithAvailability(status, AddressB, T0.AddMilliseconds(2600));

        var known = Assert.IsType<PartitionKnown>(view.Partition("p0", T0.AddSeconds(3)));

        Assert.Equal((MemberCondition.Downed, true), (known.Node.Condition, known.Node.HeldSilent));
        Assert.Equal(plan, known.Failover);
        Assert.Equal(
            "p0 on vios-a: running (last known); vios-a downed at 18:40:02.400, unreachable since 18:40:02.000 (1.0 s ago), held silent by the heartbeat masters; "
            + "failover in progress: to vios-b from its consistency image, planned at 18:40:02.500",
            known.Summary(T0.AddSeconds(3)));
        // A downed member never becomes merely unreachable again.
        Assert.Equal(MemberCondition.Downed, view.WithMember(AddressA, MemberCondition.Unreachable, T0.AddSeconds(4)).Node("vios-a").Condition);
    }

    [Fact]
    public void A_removed_node_keeps_its_address_when_the_next_list_no_longer_names_it()
    {
        var view = Published()
            .WithMember(AddressA, MemberCondition.Unreachable, T0.AddSeconds(2))
            .WithMember(AddressA, MemberCondition.Removed, T0.AddSeconds(5))
            .WithPartitions(List() with { NodeAddresses = new Dictionary<string, string> { ["vios-b"] = AddressB } }, AddressB, T0.AddSeconds(5.5));

        var reach = view.Node("vios-a");

        Assert.Equal((AddressA, MemberCondition.Removed, true), (reach.Address, reach.Condition, reach.Impaired));
    }

    [Fact]
    public void A_node_reachable_again_is_no_longer_impaired()
    {
        var view = Published().WithMember(AddressA, MemberCondition.Unreachable, T0.AddSeconds(2)).WithMember(AddressA, MemberCondition.Reachable, T0.AddSeconds(3));

        Assert.False(view.Node("vios-a").Impaired);
        Assert.Null(view.Node("vios-a").UnreachableSince);
    }

    [Fact]
    public void Nothing_known_is_said_plainly_before_any_list_and_for_a_partition_not_in_the_list()
    {
        var none = Assert.IsType<PartitionUnknown>(ControlPlaneView.Empty.Partition("p0", T0));
        Assert.Equal("this node has not received a partition list from the partition manager yet", none.Reason);

        var missing = Assert.IsType<PartitionUnknown>(Published().Partition("ghost", T0.AddSeconds(1.4)));
        Assert.Equal("no partition named 'ghost' in the partition list of 18:40:00.000 (1.4 s ago)", missing.Reason);
    }

    [Fact]
    public void A_list_whose_publisher_is_unreachable_says_the_manager_is_moving_and_how_old_it_is()
    {
        var view = Published().WithMember(AddressB, MemberCondition.Unreachable, T0.AddSeconds(1));

        var age = view.PartitionsAge(T0.AddSeconds(1.4))!;

        Assert.Equal("the partition manager is moving to another node (vios-b unreachable since 18:40:01.000 (0.4 s ago)); as of 1.4 s ago",
            age.Describe(T0.AddSeconds(1.4)));
        // A reachable publisher that did not answer is said to be late, with what the caller saw.
        Assert.Equal("the partition manager did not answer within 500 ms; as of 1.4 s ago",
            Published().PartitionsAge(T0.AddSeconds(1.4))!.Describe(T0.AddSeconds(1.4), "the partition manager did not answer within 500 ms"));
    }

    [Fact]
    public void The_HA_status_is_published_again_when_a_failover_is_planned_or_completes_and_not_when_nothing_changed()
    {
        var record = new AvailabilityRecord("p0", "vios-a", "vios-b", "vios-b", []);
        var failure = new FailureEntry("p0@vios-a#0", "vios-a", "vios-a is no longer in the cluster", T0, "vios-b", FailoverImage.Consistency, "why", T0, false);
        var plan = new RestartPlanned("p0", failure.FailureId, "vios-b", FailoverImage.Consistency, "why", T0);
        var quiet = ControlViewPublisher.Fingerprint(new HaStatus([record], []));
        var planned = ControlViewPublisher.Fingerprint(new HaStatus([record with { Failures = [failure] }], [plan]) { SilentNodes = [AddressA] });
        var completed = ControlViewPublisher.Fingerprint(new HaStatus([record with { Node = "vios-b", Failures = [failure with { Completed = true }] }], []));

        Assert.Equal(quiet, ControlViewPublisher.Fingerprint(new HaStatus([record], [])));
        Assert.Equal(3, new[] { quiet, planned, completed }.Distinct().Count());
    }

    [Fact]
    public void What_is_published_crosses_the_wire_through_our_serializer()
    {
        var status = new HaStatus([new AvailabilityRecord("p0", "vios-a", "vios-b", "vios-b", [])],
            [new RestartPlanned("p0", "p0@vios-a#0", "vios-b", FailoverImage.Boot, "why", T0)]) { SilentNodes = [AddressA], Window = TimeSpan.FromMinutes(10) };
        foreach (var message in new IViosMessage[] { new PartitionListPublished(List(), AddressB), new HaStatusPublished(status, AddressB) })
        {
            Assert.True(MessageCatalog.All.TryGetByType(message.GetType(), out var entry), message.GetType().Name);
            var buffer = new ArrayBufferWriter<byte>();
            entry.Codec.Write(message, buffer);
            var back = entry.Codec.Read(buffer.WrittenSpan);
            var view = back switch
            {
                PartitionListPublished p => ControlPlaneView.Empty.WithPartitions(p.List, p.Publisher, T0),
                HaStatusPublished h => Published().WithAvailability(h.Status, h.Publisher, T0),
                _ => throw new InvalidOperationException(),
            };
            Assert.IsType<PartitionKnown>(Published().WithAvailability(status, AddressB, T0).Partition("p0", T0));
            if (back is PartitionListPublished) Assert.Equal(AddressA, view.Node("vios-a").Address);
            else Assert.Equal(FailoverImage.Boot, Assert.IsType<PartitionKnown>(view.Partition("p0", T0)).Failover!.Image);
        }
    }
}
