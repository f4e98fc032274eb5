using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// The partition manager's state, decided and applied by hand the way the manager does it (decide,
/// persist, apply). vios-a and vios-b each have one domain of 4 CPUs and 4 GiB with an eth adapter.
/// </summary>
public sealed class PartitionRegistrySpecs
{
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, LparState> NoStates = [];

    private readonly PartitionRegistry _registry = new();

    private static NodeResources Node(string name, int cpus = 4, long mb = 4096) =>
        NodeResources.FromDomains(name, [new ResourceDomain("cec1/node0", cpus, mb, ["eth"])]);

    private static CreateLpar Create(string name, int vcpus = 1, long mb = 512, string? node = null, PlacementPolicy policy = PlacementPolicy.Balanced) =>
        new(name, vcpus, mb, policy, [], node);

    private static LparDefined Decided(PartitionRegistry registry, CreateLpar command)
    {
        var (defined, refusal) = registry.Decide(command, Now);
        Assert.True(defined is not null, refusal?.Reason);
        Assert.Null(refusal);
        return defined;
    }

    private static string Refused(PartitionRegistry registry, CreateLpar command)
    {
        var (defined, refusal) = registry.Decide(command, Now);
        Assert.Null(defined);
        Assert.NotNull(refusal);
        return refusal.Reason;
    }

    /// <summary>Decides and applies, as the manager does once the event is persisted.</summary>
    private static LparDefinition Defined(PartitionRegistry registry, CreateLpar command)
    {
        var defined = Decided(registry, command);
        registry.Apply(defined);
        return defined.Definition;
    }

    [Fact]
    public void A_create_before_any_node_registered_is_refused()
    {
        Assert.Equal("no vios node has registered resources yet", Refused(_registry, Create("db")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("DB")]
    [InlineData("1db")]
    [InlineData("-db")]
    [InlineData("db_1")]
    [InlineData("db 1")]
    [InlineData("db/1")]
    [InlineData("db\n")]
    [InlineData("a0123456789012345678901234567890123456789")]
    public void A_name_that_is_not_a_partition_name_is_refused(string name)
    {
        _registry.Register(Node("vios-a"), NoStates);

        Assert.StartsWith($"'{name}' is not a partition name", Refused(_registry, Create(name)));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("db-1")]
    [InlineData("a012345678901234567890123456789012345678")]
    public void Lower_case_letters_digits_and_dashes_up_to_40_make_a_name(string name)
    {
        _registry.Register(Node("vios-a"), NoStates);

        Assert.Equal(name, Decided(_registry, Create(name)).Definition.Name);
    }

    [Fact]
    public void A_decided_partition_is_what_was_asked_placed_on_a_node()
    {
        _registry.Register(Node("vios-a"), NoStates);

        var definition = Decided(_registry, new CreateLpar("db", 2, 1024, PlacementPolicy.Locality, ["eth"], null)).Definition;

        Assert.Equal(("db", 2, 1024L, PlacementPolicy.Locality, Now, "vios-a"),
            (definition.Name, definition.Vcpus, definition.MemoryMb, definition.Policy, definition.CreatedAt, definition.Node));
        Assert.Equal(["eth"], definition.Adapters);
        Assert.Equal(2, definition.Allocation.Cpus.Count);
        Assert.Equal(1024, definition.Allocation.MemoryMb);
        Assert.Equal(["eth"], definition.Allocation.Adapters.Select(a => a.Kind));
    }

    [Fact]
    public void A_partition_above_the_guest_limits_is_refused()
    {
        _registry.Register(Node("vios-a"), NoStates);

        Assert.Equal("a partition has at most 65536 MB of memory", Refused(_registry, Create("huge", mb: GuestLimits.MaximumMemoryMb + 1)));
        Assert.Equal("a partition has at most 256 vCPUs", Refused(_registry, Create("wide", vcpus: GuestLimits.MaximumVcpus + 1)));
        Assert.Equal("a partition needs at least 1 vCPU", Refused(_registry, Create("none", vcpus: 0)));
    }

    [Fact]
    public void A_name_is_refused_once_a_partition_of_that_name_is_applied()
    {
        _registry.Register(Node("vios-a"), NoStates);
        Defined(_registry, Create("db"));

        Assert.Equal("a partition named 'db' already exists", Refused(_registry, Create("db")));
        // Typed: a caller that retries a create checks the kind, never the text.
        Assert.Equal(LparRefusal.AlreadyExists, _registry.Decide(Create("db"), Now).Refusal!.Kind);
        Assert.Equal(LparRefusal.Other, _registry.Decide(Create("Bad Name"), Now).Refusal!.Kind);
    }

    [Fact]
    public void A_decision_takes_no_resources_until_it_is_applied()
    {
        _registry.Register(Node("vios-a"), NoStates);

        var first = Decided(_registry, Create("first", vcpus: 4));
        Decided(_registry, Create("second", vcpus: 4));
        Assert.Empty(_registry.Definitions);
        Assert.Null(_registry.Find("first"));

        _registry.Apply(first);

        Assert.Same(first.Definition, _registry.Find("first"));
        Assert.Contains("none has 4 free vCPUs (most: 0 on vios-a)", Refused(_registry, Create("second", vcpus: 4)));
    }

    [Fact]
    public void A_pinned_node_is_honoured_and_an_unknown_one_is_refused()
    {
        _registry.Register(Node("vios-a"), NoStates);
        _registry.Register(Node("vios-b"), NoStates);

        Assert.Equal("vios-b", Decided(_registry, Create("on-b", node: "vios-b")).Definition.Node);
        Assert.Equal("vios-a", Decided(_registry, Create("on-a", node: "vios-a")).Definition.Node);
        Assert.Equal("no vios node 'vios-z' advertises resources", Refused(_registry, Create("on-z", node: "vios-z")));
    }

    [Fact]
    public void An_unregistered_node_takes_no_new_partitions_but_keeps_its_own()
    {
        _registry.Register(Node("vios-a"), NoStates);
        _registry.Register(Node("vios-b"), NoStates);
        var db = Defined(_registry, Create("db", node: "vios-a"));

        _registry.Unregister("vios-a");

        Assert.False(_registry.IsOnline("vios-a"));
        Assert.Equal(["vios-b"], _registry.OnlineNodes.Select(n => n.Node));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("vios-b", Defined(_registry, Create($"web{i}")).Node);
        }

        Assert.Equal("no vios node 'vios-a' advertises resources", Refused(_registry, Create("pinned", node: "vios-a")));
        Assert.Same(db, _registry.Find("db"));
        Assert.Equal([db], _registry.PlacedOn("vios-a"));
        var list = _registry.List();
        Assert.False(list.Lpars.Single(l => l.Definition.Name == "db").NodeOnline);
        Assert.All(list.Lpars.Where(l => l.Definition.Name != "db"), l => Assert.True(l.NodeOnline));
        Assert.Equal(["vios-b"], list.Nodes.Select(n => n.Node));
    }

    [Fact]
    public void A_node_that_registers_again_takes_partitions_and_still_holds_what_it_had()
    {
        _registry.Register(Node("vios-a"), NoStates);
        Defined(_registry, Create("db", vcpus: 3, node: "vios-a"));
        _registry.Unregister("vios-a");

        _registry.Register(Node("vios-a"), NoStates);

        Assert.True(_registry.IsOnline("vios-a"));
        Assert.True(_registry.List().Lpars.Single().NodeOnline);
        Assert.Equal("vios-a", Defined(_registry, Create("small", node: "vios-a")).Node);
        // db's 3 CPUs and small's 1 are still taken: nothing is left on vios-a.
        Assert.Contains("none has 1 free vCPUs", Refused(_registry, Create("more", node: "vios-a")));
    }

    [Fact]
    public void Reports_set_the_state_of_known_partitions_only()
    {
        _registry.Register(Node("vios-a"), NoStates);
        Defined(_registry, Create("db"));
        Assert.Equal(LparState.Defined, _registry.StateOf("db"));

        _registry.Report("db", LparState.Running);
        _registry.Report("ghost", LparState.Running);

        Assert.Equal(LparState.Running, _registry.StateOf("db"));
        Assert.Equal(LparState.Running, _registry.List().Lpars.Single().State);
        Assert.Equal(LparState.Defined, _registry.StateOf("ghost"));
        Assert.Equal(["db"], _registry.List().Lpars.Select(l => l.Definition.Name));
    }

    [Fact]
    public void A_registering_node_says_how_its_partitions_are()
    {
        _registry.Register(Node("vios-a"), NoStates);
        _registry.Register(Node("vios-b"), NoStates);
        Defined(_registry, Create("db", node: "vios-a"));
        Defined(_registry, Create("web", node: "vios-a"));
        Defined(_registry, Create("api", node: "vios-b"));
        _registry.Report("web", LparState.Running);
        _registry.Report("api", LparState.Running);

        _registry.Register(Node("vios-a"), new Dictionary<string, LparState> { ["db"] = LparState.Quiesced, ["api"] = LparState.Stopped });

        Assert.Equal(LparState.Quiesced, _registry.StateOf("db"));
        // A partition the node does not mention is not running there (the node restarted).
        Assert.Equal(LparState.Defined, _registry.StateOf("web"));
        // api is placed on vios-b: what vios-a says of it does not count.
        Assert.Equal(LparState.Running, _registry.StateOf("api"));
    }

    [Fact]
    public void Deleting_an_unknown_partition_is_refused()
    {
        Assert.Equal((null, "no partition named 'db'"), _registry.Decide(new DeleteLpar("db")));
    }

    [Theory]
    [InlineData(LparState.Activating, "activating")]
    [InlineData(LparState.Running, "running")]
    [InlineData(LparState.Quiesced, "quiesced")]
    public void Deleting_an_active_partition_is_refused_until_it_is_stopped(LparState state, string name)
    {
        _registry.Register(Node("vios-a"), NoStates);
        Defined(_registry, Create("db"));
        _registry.Report("db", state);

        Assert.Equal((null, $"'db' is {name}: stop it first"), _registry.Decide(new DeleteLpar("db")));

        _registry.Report("db", LparState.Stopped);

        Assert.Equal(new LparRemoved("db"), _registry.Decide(new DeleteLpar("db")).Event);
    }

    [Theory]
    [InlineData(LparState.Defined)]
    [InlineData(LparState.Stopped)]
    [InlineData(LparState.Failed)]
    public void A_partition_that_is_not_active_can_be_deleted(LparState state)
    {
        _registry.Register(Node("vios-a"), NoStates);
        Defined(_registry, Create("db"));
        _registry.Report("db", state);

        Assert.Equal((new LparRemoved("db"), (string?)null), _registry.Decide(new DeleteLpar("db")));
    }

    [Fact]
    public void A_deleted_partition_gives_its_resources_back_once_applied()
    {
        _registry.Register(Node("vios-a"), NoStates);
        Defined(_registry, Create("db", vcpus: 4, mb: 4096));
        _registry.Report("db", LparState.Running);
        _registry.Report("db", LparState.Stopped);
        Assert.Contains("none has 4 free vCPUs", Refused(_registry, Create("next", vcpus: 4, mb: 4096)));

        var removed = _registry.Decide(new DeleteLpar("db")).Event!;
        Assert.NotNull(_registry.Find("db"));
        _registry.Apply(removed);

        Assert.Null(_registry.Find("db"));
        Assert.Empty(_registry.List().Lpars);
        Assert.Equal(LparState.Defined, _registry.StateOf("db"));
        Assert.Equal("vios-a", Decided(_registry, Create("next", vcpus: 4, mb: 4096)).Definition.Node);
        // The name is free again too.
        Assert.Equal("vios-a", Decided(_registry, Create("db", vcpus: 4, mb: 4096)).Definition.Node);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_snapshot_recovers_the_same_definitions_and_the_same_placements(bool nodesRegisterFirst)
    {
        _registry.Register(Node("vios-a"), NoStates);
        _registry.Register(Node("vios-b"), NoStates);
        Defined(_registry, Create("db", vcpus: 3, mb: 3072, node: "vios-a"));
        Defined(_registry, Create("web", vcpus: 2, mb: 1024, node: "vios-b"));
        Defined(_registry, Create("gone", vcpus: 1, mb: 512, node: "vios-b"));
        _registry.Apply(_registry.Decide(new DeleteLpar("gone")).Event!);

        var recovered = new PartitionRegistry();
        if (nodesRegisterFirst)
        {
            recovered.Register(Node("vios-a"), NoStates);
            recovered.Register(Node("vios-b"), NoStates);
        }

        recovered.Apply(_registry.Snapshot());
        if (!nodesRegisterFirst)
        {
            recovered.Register(Node("vios-a"), NoStates);
            recovered.Register(Node("vios-b"), NoStates);
        }

        Assert.Equal(["db", "web"], recovered.Definitions.Select(d => d.Name));
        Assert.Equal(_registry.Definitions, recovered.Definitions);
        // vios-a has 1 CPU and 1 GiB left, vios-b 2 CPUs and 3 GiB: the same requests fit, and fail, the same way.
        CreateLpar[] probes =
        [
            Create("p1", vcpus: 1, mb: 1024, node: "vios-a"),
            Create("p2", vcpus: 2, mb: 1024, node: "vios-a"),
            Create("p3", vcpus: 1, mb: 2048, node: "vios-a"),
            Create("p4", vcpus: 2, mb: 3072, node: "vios-b"),
            Create("p5", vcpus: 3, mb: 512, node: "vios-b"),
            Create("p6", vcpus: 2, mb: 1024, policy: PlacementPolicy.Locality),
        ];
        foreach (var probe in probes)
        {
            var (expected, expectedRefusal) = _registry.Decide(probe, Now);
            var (actual, actualRefusal) = recovered.Decide(probe, Now);
            Assert.Equal(expectedRefusal, actualRefusal);
            Assert.Equal(expected?.Definition.Node, actual?.Definition.Node);
            Assert.Equal(expected?.Definition.Allocation.Cpus, actual?.Definition.Allocation.Cpus);
            Assert.Equal(expected?.Definition.Allocation.Memory, actual?.Definition.Allocation.Memory);
        }

        Assert.Equal(3, probes.Count(p => recovered.Decide(p, Now).Event is not null));
    }

    [Fact]
    public void A_partition_whose_node_is_gone_moves_to_another_node_and_its_resources_follow()
    {
        _registry.Register(Node("a", cpus: 4), NoStates);
        _registry.Register(Node("b", cpus: 4), NoStates);
        var db = Defined(_registry, Create("db", vcpus: 4, node: "a"));
        _registry.Report("db", LparState.Running);

        var (refused, reason) = _registry.Decide(new MoveLpar("db", "b", "test"));
        Assert.Null(refused);
        Assert.Equal(("'db' is running on a: stop it first", LparRefusal.WrongState), (reason!.Reason, reason.Kind));

        _registry.Unregister("a");
        var (moved, _) = _registry.Decide(new MoveLpar("db", "b", "a failed"));
        Assert.NotNull(moved);
        Assert.Equal(("b", "a", "a failed"), (moved.Definition.Node, moved.FromNode, moved.Reason));
        Assert.All(moved.Definition.Allocation.Cpus, c => Assert.StartsWith("b/", c.Id));
        _registry.Apply(moved);

        Assert.Equal("b", _registry.Find("db")!.Node);
        Assert.Equal(LparState.Defined, _registry.StateOf("db"));
        // b's four CPUs are db's now; a's are free again for when it returns.
        _registry.Register(Node("a", cpus: 4), NoStates);
        Assert.Equal("a", Defined(_registry, Create("web", vcpus: 4)).Node);
        Assert.Contains("none has 1 free vCPUs", Refused(_registry, Create("more", vcpus: 1)));
    }

    [Fact]
    public void A_move_to_an_unknown_node_or_where_it_does_not_fit_is_refused()
    {
        _registry.Register(Node("a", cpus: 4), NoStates);
        _registry.Register(Node("small", cpus: 2), NoStates);
        Defined(_registry, Create("db", vcpus: 4, node: "a"));
        _registry.Unregister("a");

        Assert.Equal(("no vios node 'nowhere' has registered resources", LparRefusal.NodeAbsent), Refusal(_registry.Decide(new MoveLpar("db", "nowhere", "x"))));
        var noRoom = Refusal(_registry.Decide(new MoveLpar("db", "small", "x")));
        Assert.Contains("none has 4 free vCPUs", noRoom.Reason);
        Assert.Equal(LparRefusal.NoRoom, noRoom.Kind);
        Assert.Equal(("no partition named 'ghost'", LparRefusal.NotFound), Refusal(_registry.Decide(new MoveLpar("ghost", "small", "x"))));
    }

    [Fact]
    public void A_move_to_the_node_it_is_placed_on_is_refused_as_already_placed()
    {
        _registry.Register(Node("a", cpus: 4), NoStates);
        Defined(_registry, Create("db", vcpus: 2, node: "a"));

        Assert.Equal(("'db' is already placed on a", LparRefusal.AlreadyPlaced), Refusal(_registry.Decide(new MoveLpar("db", "a", "x"))));
    }

    private static (string Reason, LparRefusal Kind) Refusal((LparMoved? Event, LparRefused? Refusal) decided)
    {
        Assert.Null(decided.Event);
        return (decided.Refusal!.Reason, decided.Refusal.Kind);
    }

    [Fact]
    public void A_move_goes_one_above_the_fence_when_the_fence_is_above_the_record()
    {
        _registry.Register(Node("a", cpus: 4), NoStates);
        _registry.Register(Node("b", cpus: 4), NoStates);
        _registry.Register(Node("c", cpus: 4), NoStates);
        Assert.Equal(1, Defined(_registry, Create("db", vcpus: 4, node: "a")).OwnerEpoch);
        _registry.Unregister("a");

        // The fence where the record's copy left it: one above the record, as before the fence was read.
        Assert.Equal(2, _registry.Decide(new MoveLpar("db", "b", "a failed"), fence: 1).Event!.Definition.OwnerEpoch);
        Assert.Equal(2, _registry.Decide(new MoveLpar("db", "b", "a failed")).Event!.Definition.OwnerEpoch);
        // A survivor's takeover raised the fence to 3 and died before announcing it: the move goes to 4, not 2.
        var moved = _registry.Decide(new MoveLpar("db", "c", "b failed"), fence: 3).Event!;
        Assert.Equal(4, moved.Definition.OwnerEpoch);
        _registry.Apply(moved);
        Assert.Equal(4, _registry.Find("db")!.OwnerEpoch);
    }

    [Fact]
    public void A_state_is_reported_only_once_the_partitions_node_says_so_not_from_an_intent_or_a_move()
    {
        _registry.Register(Node("a", cpus: 4), NoStates);
        _registry.Register(Node("b", cpus: 4), NoStates);
        Defined(_registry, Create("db", vcpus: 1, node: "a"));
        Summary Of() => _registry.List().Lpars.Single(l => l.Definition.Name == "db") is var s ? new(s.State, s.StateReported) : default;

        Assert.Equal(new Summary(LparState.Defined, false), Of());
        // The operator's start, recorded before the node ran it: Running, as asked, not as seen.
        _registry.Apply(new LparIntent("db", true));
        Assert.Equal(new Summary(LparState.Running, false), Of());
        _registry.Report("a", "db", LparState.Running);
        Assert.Equal(new Summary(LparState.Running, true), Of());

        // A failover's move and its restore's intent: Running again only once b reports it.
        _registry.Unregister("a");
        _registry.Apply(_registry.Decide(new MoveLpar("db", "b", "a failed")).Event!);
        Assert.Equal(new Summary(LparState.Defined, false), Of());
        _registry.Apply(new LparIntent("db", true));
        Assert.Equal(new Summary(LparState.Running, false), Of());
        _registry.Register(Node("b", cpus: 4), new Dictionary<string, LparState> { ["db"] = LparState.Running });
        Assert.Equal(new Summary(LparState.Running, true), Of());
    }

    private readonly record struct Summary(LparState State, bool Reported);
}
