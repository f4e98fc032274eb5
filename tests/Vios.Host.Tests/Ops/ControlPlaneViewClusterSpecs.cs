using System.Text.Json;
using Akka.Actor;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>
/// Issue 12 on an in-process cluster of a lighthouse and three vios nodes (a, the oldest, hosts the
/// partition manager and the HA manager; b; c), each test its own cluster since it kills a node
/// (<see cref="ViosNode.KillAsync"/>: the ActorSystem terminates without leaving). Partitions here are
/// defined and not running, so the HA manager leaves them where they are and the answers stay put.
/// </summary>
public sealed class ControlPlaneViewClusterSpecs : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private LocalCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = LocalCluster.Create(TestCluster.Options());
        await _cluster.StartLighthouseAsync();
        foreach (var name in new[] { "a", "b", "c" })
            await _cluster.StartViosNodeAsync(awaitUp: true, customize: o => o with { Name = name });
        await _cluster.AwaitConvergenceAsync();
        await AwaitAssertAsync(async () =>
            Assert.Equal(3, (await Node("b").PartitionManager!.Ask<LparList>(ListLpars.Instance, Wait)).Nodes.Count), Wait, Poll);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private ViosNode Node(string name) => _cluster.ViosNodes.Single(n => n.Name == name);

    [Fact]
    public async Task A_partition_on_a_killed_node_is_answered_with_its_last_state_and_its_node_and_changes_fail_at_once()
    {
        await OkAsync(Node("b"), "lpar", "create", "idle", "--vcpus", "1", "--memory-mb", "16", "--node", "c");
        // The view of b has the list with idle on c before c dies.
        await AwaitAssertAsync(async () =>
        {
            var view = await Node("b").ControlView!.Ask<ControlPlaneView>(GetControlView.Instance, Wait);
            Assert.Contains(view.Partitions?.Value.Lpars ?? [], l => l.Definition.Name == "idle" && l.Definition.Node == "c");
        }, Wait, Poll);

        await Node("c").KillAsync();

        JsonElement shown = default;
        await AwaitAssertAsync(async () =>
        {
            shown = await JsonAsync(Node("b"), "lpar", "show", "idle");
            Assert.StartsWith("c ", shown.GetProperty("nodeCondition").GetString());
        }, Wait, Poll);
        Assert.Equal(("c", "Defined", true, "control view"),
            (shown.GetProperty("node").GetString(), shown.GetProperty("state").GetString(), shown.GetProperty("stale").GetBoolean(), shown.GetProperty("source").GetString()));
        Assert.NotEmpty(shown.GetProperty("resources").EnumerateArray());

        // The text says the same: last known state, the node's condition, where the answer came from.
        var text = await Ctl.AtAsync(Node("b"), "lpar", "show", "idle");
        Assert.Equal(0, text.ExitCode);
        Assert.StartsWith("lpar idle on c: defined (last known)", text.StdoutLines[0]);
        Assert.StartsWith("node c ", text.StdoutLines[1]);
        Assert.Contains(text.StdoutLines, l => l.StartsWith("answered from this node's control view: ", StringComparison.Ordinal));

        // A change is not sent to a node that cannot answer: it fails at once, saying why.
        var start = await Ctl.AtAsync(Node("b"), "lpar", "start", "idle");
        Assert.Equal(1, start.ExitCode);
        Assert.Contains("not sent: idle on c: defined (last known); c ", start.Stderr);
        // A read the view cannot answer in full says what is known.
        var stats = await Ctl.AtAsync(Node("b"), "checkpoint", "stats", "idle");
        Assert.Equal(1, stats.ExitCode);
        Assert.Contains("no live answer; idle on c: defined (last known); c ", stats.Stderr);

        // The partition manager itself never forwards to the dead node: it answers at once with what it knows.
        await AwaitAssertAsync(async () =>
        {
            var reply = await Node("b").PartitionManager!.Ask<object>(new ShowLpar("idle"), Wait);
            var unavailable = Assert.IsType<LparNodeUnavailable>(reply);
            Assert.Equal(("c", LparState.Defined), (unavailable.Node, unavailable.LastKnownState));
        }, Wait, Poll);
    }

    [Fact]
    public async Task With_the_singletons_host_killed_lists_and_status_come_from_the_view_saying_the_managers_are_moving()
    {
        await OkAsync(Node("b"), "lpar", "create", "idle", "--vcpus", "1", "--memory-mb", "16", "--node", "b");
        await AwaitAssertAsync(async () =>
        {
            Assert.Single((await JsonAsync(Node("b"), "ha", "status")).GetProperty("lpars").EnumerateArray());
            // b's view has heard both singletons' lists with the partition in them.
            var view = await Node("b").ControlView!.Ask<ControlPlaneView>(GetControlView.Instance, Wait);
            Assert.Contains(view.Availability?.Value.Records ?? [], r => r.Lpar == "idle");
            Assert.Contains(view.Partitions?.Value.Lpars ?? [], l => l.Definition.Name == "idle");
        }, Wait, Poll);

        await Node("a").KillAsync();

        // Until the singletons run on b, their proxies buffer; b's view answers and says why.
        JsonElement list = default, status = default;
        await AwaitAssertAsync(async () =>
        {
            list = await JsonAsync(Node("b"), "lpar", "list");
            Assert.True(list.GetProperty("stale").GetBoolean(), list.ToString());
            Assert.Contains("the partition manager is moving to another node (a ", list.GetProperty("staleReason").GetString());
            status = await JsonAsync(Node("b"), "ha", "status");
            Assert.True(status.GetProperty("stale").GetBoolean(), status.ToString());
            Assert.Contains("the HA manager is moving to another node (a ", status.GetProperty("staleReason").GetString());
            // A change is not sent to a singleton that is moving (its proxy would hold it until the
            // handover): it fails at once, saying why. In the same poll as the stale reads, so inside
            // the window they saw open.
            var create = await Ctl.AtAsync(Node("b"), "lpar", "create", "late", "--vcpus", "1", "--memory-mb", "16");
            Assert.Equal(1, create.ExitCode);
            Assert.Contains("not sent: the partition manager is moving to another node (a ", create.Stderr);
            var policy = await Ctl.AtAsync(Node("b"), "ha", "policy", "idle", "--max-recovery", "5");
            Assert.Equal(1, policy.ExitCode);
            Assert.Contains("not sent: the HA manager is moving to another node (a ", policy.Stderr);
        }, Wait, Poll);
        Assert.Equal("idle", list.GetProperty("lpars")[0].GetProperty("name").GetString());
        Assert.Equal("control view", list.GetProperty("source").GetString());
        Assert.True(list.GetProperty("asOf").GetDateTimeOffset() <= DateTimeOffset.UtcNow);
        Assert.Equal("idle", status.GetProperty("lpars")[0].GetProperty("lpar").GetString());
        var failures = await JsonAsync(Node("b"), "ha", "failures", "idle");
        Assert.Equal(("idle", "b"), (failures.GetProperty("lpar").GetString(), failures.GetProperty("node").GetString()));

        // Nothing known is a clear error, not a wait.
        var ghost = await Ctl.AtAsync(Node("b"), "lpar", "show", "ghost");
        Assert.Equal(1, ghost.ExitCode);
        Assert.Contains("no partition named 'ghost' in the partition list of ", ghost.Stderr);

        // Once the singletons run on a survivor, the answers are live again, and nothing refused was made.
        await AwaitAssertAsync(async () => Assert.False((await JsonAsync(Node("b"), "lpar", "list")).GetProperty("stale").GetBoolean()), Wait, Poll);
        Assert.DoesNotContain((await JsonAsync(Node("b"), "lpar", "list")).GetProperty("lpars").EnumerateArray(), l => l.GetProperty("name").GetString() == "late");
        await OkAsync(Node("b"), "lpar", "create", "late", "--vcpus", "1", "--memory-mb", "16");
    }

    private static async Task OkAsync(ViosNode node, params string[] command)
    {
        var result = await Ctl.AtAsync(node, command);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private static async Task<JsonElement> JsonAsync(ViosNode node, params string[] command)
    {
        var result = await Ctl.AtAsync(node, ["--json", .. command]);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }
}
