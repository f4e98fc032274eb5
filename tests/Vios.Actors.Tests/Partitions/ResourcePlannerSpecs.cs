using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// S13 placement on a fixed topology. vios-a: two domains (cec1/node0 with 4 CPUs, 8 GiB and an
/// eth adapter; cec1/node1 with 4 CPUs, 8 GiB and an fc adapter). vios-b: one domain (cec2/node0
/// with 8 CPUs, 16 GiB, an eth and an fc adapter).
/// </summary>
public sealed class ResourcePlannerSpecs
{
    private readonly ResourcePlanner _planner = new();

    public ResourcePlannerSpecs()
    {
        _planner.Advertise(Node("vios-a", ("cec1/node0", 4, 8192, ["eth"]), ("cec1/node1", 4, 8192, ["fc"])));
        _planner.Advertise(Node("vios-b", ("cec2/node0", 8, 16384, ["eth", "fc"])));
    }

    private static NodeResources Node(string name, params (string Domain, int Cpus, long Mb, string[] Adapters)[] domains) =>
        NodeResources.FromDomains(name, domains.Select(d => new ResourceDomain(d.Domain, d.Cpus, d.Mb, d.Adapters)));

    private Allocation Placed(ResourceRequest request)
    {
        var result = _planner.Place(request);
        Assert.True(result.Allocation is not null, result.Refusal);
        return result.Allocation;
    }

    private string Refused(ResourceRequest request)
    {
        var result = _planner.Place(request);
        Assert.Null(result.Allocation);
        return result.Refusal!;
    }

    private static ResourceRequest Request(string name, int vcpus, long mb, PlacementPolicy policy, params string[] adapters) =>
        new(name, vcpus, mb, adapters, policy);

    [Fact]
    public void Locality_takes_everything_from_the_domain_with_the_most_free_cpus()
    {
        var allocation = Placed(Request("db", 4, 4096, PlacementPolicy.Locality));

        Assert.Equal("vios-b", allocation.Node);
        Assert.Equal(["cec2/node0"], allocation.Domains);
        Assert.Equal(4, allocation.Cpus.Count);
        Assert.Equal(4096, allocation.MemoryMb);
    }

    [Fact]
    public void Locality_needs_the_adapters_in_the_same_domain()
    {
        var allocation = Placed(Request("san", 2, 1024, PlacementPolicy.Locality, "eth", "fc") with { Node = null });

        Assert.Equal("vios-b", allocation.Node);
        Assert.Equal(["eth", "fc"], allocation.Adapters.Select(a => a.Kind).Order());
        Assert.Contains("no single position domain", Refused(Request("san2", 2, 1024, PlacementPolicy.Locality, "eth", "fc") with { Node = "vios-a" }));
    }

    [Fact]
    public void Spread_puts_cpus_and_memory_in_every_domain_of_the_node()
    {
        var allocation = Placed(Request("web", 4, 8192, PlacementPolicy.Spread) with { Node = "vios-a" });

        Assert.Equal(2, allocation.Cpus.Count(c => c.Position.Domain == "cec1/node0"));
        Assert.Equal(2, allocation.Cpus.Count(c => c.Position.Domain == "cec1/node1"));
        Assert.Equal([4096L, 4096L], allocation.Memory.Select(m => m.SizeMb));
    }

    [Fact]
    public void Spread_prefers_the_node_where_it_can_touch_the_most_domains()
    {
        Assert.Equal("vios-a", Placed(Request("web", 2, 1024, PlacementPolicy.Spread)).Node);
    }

    [Fact]
    public void Balanced_goes_to_the_least_loaded_node_and_levels_its_domains()
    {
        Placed(Request("big", 4, 2048, PlacementPolicy.Locality) with { Node = "vios-b" });
        Placed(Request("small", 3, 1024, PlacementPolicy.Locality) with { Node = "vios-a" });

        var allocation = Placed(Request("even", 3, 3072, PlacementPolicy.Balanced));

        // Both fit; afterwards vios-a is 6/8 busy and vios-b would be 7/8, so vios-a.
        Assert.Equal("vios-a", allocation.Node);
        // vios-a had 1 free CPU left in one domain and 4 in the other: leveling takes all 3 from the fuller one.
        Assert.Equal(3, allocation.Cpus.Count(c => c.Position.Domain == "cec1/node1"));
    }

    [Fact]
    public void Too_many_cpus_in_one_domain_is_refused_naming_the_largest_domain()
    {
        var reason = Refused(Request("huge", 9, 1024, PlacementPolicy.Locality));

        Assert.Equal("no node can place 'huge': none has 9 free vCPUs in one position domain (most: 8 on vios-b cec2/node0)", reason);
    }

    [Fact]
    public void Too_much_memory_is_refused_naming_the_most_there_is()
    {
        var reason = Refused(Request("fat", 2, 40_000, PlacementPolicy.Balanced));

        Assert.Equal("no node can place 'fat': none has 40000 MB of free memory (most: 16384 MB on vios-a)", reason);
    }

    [Fact]
    public void A_missing_adapter_kind_is_named()
    {
        Assert.Contains("none has 1 free 'ib' adapter (most: 0 on", Refused(Request("hpc", 1, 512, PlacementPolicy.Spread, "ib")));
    }

    [Fact]
    public void Bad_requests_are_refused_with_the_reason()
    {
        Assert.Equal("no vios node 'vios-z' advertises resources", Refused(Request("x", 1, 1, PlacementPolicy.Spread) with { Node = "vios-z" }));
        Assert.Equal("a partition needs at least 1 vCPU", Refused(Request("x", 0, 1, PlacementPolicy.Spread)));
        Placed(Request("twice", 1, 1, PlacementPolicy.Spread));
        Assert.Equal("partition 'twice' already has resources", Refused(Request("twice", 1, 1, PlacementPolicy.Spread)));
    }

    [Fact]
    public void Released_resources_can_be_placed_again_and_re_advertising_keeps_allocations()
    {
        Placed(Request("first", 8, 16384, PlacementPolicy.Locality) with { Node = "vios-b" });
        _planner.Advertise(Node("vios-b", ("cec2/node0", 8, 16384, ["eth", "fc"])));
        Assert.Contains("none has 1 free vCPUs", Refused(Request("second", 1, 1, PlacementPolicy.Locality) with { Node = "vios-b" }));

        Assert.True(_planner.Release("first"));

        Assert.Equal("vios-b", Placed(Request("second", 8, 16384, PlacementPolicy.Locality) with { Node = "vios-b" }).Node);
        Assert.False(_planner.Release("first"));
    }

    [Fact]
    public void The_guest_sees_each_of_its_resources_with_its_physical_position()
    {
        var allocation = Placed(Request("guest", 2, 2048, PlacementPolicy.Locality, "fc") with { Node = "vios-a" });

        var view = allocation.GuestView();

        Assert.Equal(["vcpu0", "vcpu1", "memory0 (2048 MB)", "fc0"], view.Select(v => v.Guest));
        Assert.All(view, v => Assert.Equal("cec1/node1", v.Position.Domain));
        Assert.Equal("cec1/node1/slot1", view.Single(v => v.Guest == "fc0").Position.ToString());
    }

    [Theory]
    [InlineData("cec1/node0")]
    [InlineData("cec1//slot3")]
    [InlineData("a/b/c/d")]
    public void A_position_that_is_not_cec_node_slot_is_refused(string text) =>
        Assert.Throws<FormatException>(() => PhysicalPosition.Parse(text));
}
