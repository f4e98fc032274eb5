using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// How the partition manager's registry resolves a partition a firmware reports outside the
/// record's placement: never stopped for being missing, stopped only where the operator's intent
/// (placed and running elsewhere, or deleted) says so.
/// </summary>
public sealed class ReportedPartitionSpecs
{
    private static readonly Dictionary<string, LparState> NoStates = [];

    private readonly PartitionRegistry _registry = new();

    private static NodeResources Node(string name) =>
        NodeResources.FromDomains(name, [new ResourceDomain("cec1/node0", 4, 4096, ["eth"])]);

    private LparDefinition Define(string name, string node)
    {
        var (defined, refusal) = _registry.Decide(new CreateLpar(name, 1, 512, PlacementPolicy.Balanced, [], node), DateTimeOffset.UnixEpoch);
        Assert.True(defined is not null, refusal?.Reason);
        _registry.Apply(defined);
        return defined.Definition;
    }

    [Fact]
    public void A_registry_with_no_record_stops_nothing_and_shows_what_runs()
    {
        // A manager on an empty journal: the node reports two partitions it runs.
        var decisions = _registry.Register(Node("a"), new Dictionary<string, LparState> { ["db"] = LparState.Running, ["web"] = LparState.Defined });

        Assert.All(decisions, d => Assert.Equal(ReportedLparVerdict.NotInRecord, d.Verdict));
        Assert.DoesNotContain(decisions, d => d.Stops);
        Assert.Equal(["db", "web"], _registry.List().Strays.Select(s => s.Name));
        Assert.Empty(_registry.List().Lpars);
    }

    [Fact]
    public void A_copy_placed_elsewhere_is_left_running_until_its_placed_node_runs_it_and_is_then_stopped()
    {
        _registry.Register(Node("b"), NoStates);
        Define("db", "b");

        // a still runs db (it was failed over to b while a was paused); b has not started it yet.
        var onA = Assert.Single(_registry.Register(Node("a"), new Dictionary<string, LparState> { ["db"] = LparState.Running }));
        Assert.Equal(ReportedLparVerdict.PlacedElsewhere, onA.Verdict);
        Assert.False(onA.Stops);

        // b reports db running: a's copy is to be stopped, by name and with the reason.
        var stop = Assert.Single(_registry.Report("b", "db", LparState.Running));
        Assert.Equal(("db", "a", ReportedLparVerdict.StopPlacedElsewhere), (stop.Name, stop.Node, stop.Verdict));
        Assert.Contains("runs on a and on b", stop.Reason);
        Assert.Empty(_registry.Strays);
        Assert.Equal(LparState.Running, _registry.StateOf("db"));
    }

    [Fact]
    public void A_copy_registering_where_its_placed_node_already_runs_it_is_stopped_at_once()
    {
        _registry.Register(Node("b"), NoStates);
        Define("db", "b");
        _registry.Report("b", "db", LparState.Running);

        var decision = Assert.Single(_registry.Register(Node("a"), new Dictionary<string, LparState> { ["db"] = LparState.Running }));
        Assert.Equal(ReportedLparVerdict.StopPlacedElsewhere, decision.Verdict);
    }

    [Fact]
    public void A_report_from_a_node_the_partition_is_not_placed_on_does_not_change_its_state()
    {
        _registry.Register(Node("b"), NoStates);
        Define("db", "b");
        _registry.Report("b", "db", LparState.Stopped);

        _registry.Report("a", "db", LparState.Running);

        Assert.Equal(LparState.Stopped, _registry.StateOf("db"));
    }

    [Fact]
    public void A_partition_deleted_while_its_node_was_away_is_stopped_there_and_a_new_one_of_that_name_is_not()
    {
        _registry.Register(Node("a"), NoStates);
        Define("db", "a");
        _registry.Unregister("a");
        _registry.Apply(_registry.Decide(new DeleteLpar("db")).Event!);

        var decision = Assert.Single(_registry.Register(Node("a"), new Dictionary<string, LparState> { ["db"] = LparState.Stopped }));
        Assert.Equal(ReportedLparVerdict.StopDeleted, decision.Verdict);
        Assert.Contains("deleted (from a) while a was away", decision.Reason);

        // The name is free again: a partition defined under it is hosted, not stopped.
        Define("db", "a");
        Assert.Empty(_registry.Register(Node("a"), new Dictionary<string, LparState> { ["db"] = LparState.Defined }));
    }

    [Fact]
    public void A_snapshot_remembers_the_deletions()
    {
        _registry.Register(Node("a"), NoStates);
        Define("db", "a");
        _registry.Apply(_registry.Decide(new DeleteLpar("db")).Event!);

        var recovered = new PartitionRegistry();
        recovered.Apply(_registry.Snapshot());

        var decision = Assert.Single(recovered.Register(Node("a"), new Dictionary<string, LparState> { ["db"] = LparState.Stopped }));
        Assert.Equal(ReportedLparVerdict.StopDeleted, decision.Verdict);
    }
}
