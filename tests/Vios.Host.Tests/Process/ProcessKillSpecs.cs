using System.Text.Json;

namespace Vios.Host.Tests.Process;

/// <summary>
/// Real processes: a lighthouse and two vios nodes form a cluster; one is SIGKILLed and the survivors
/// remove it within 15 s; restarted on the same data it rejoins as the same node, one boot later.
/// </summary>
public sealed class ProcessKillSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan RemovalLimit = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_killed_node_is_removed_within_15_s_and_rejoins_when_restarted_on_its_data()
    {
        await using var cluster = await ProcessCluster.StartAsync();
        var first = await cluster.StartViosNodeAsync("vios1");
        var second = await cluster.StartViosNodeAsync("vios2");

        // The lighthouse saw the second node up; the first node's view converges a gossip round later.
        await AwaitAssertAsync(async () =>
        {
            var members = await ProcessCluster.MembersAsync(first.Ops);
            Assert.Equal(3, members.Count);
            Assert.All(members.Values, status => Assert.Equal("up", status));
            Assert.Contains(second.Address, members.Keys);
        }, ProcessCluster.StartTimeout, TimeSpan.FromMilliseconds(250));

        second.Process.Kill();
        await cluster.AwaitRemovedAsync(second.Address, RemovalLimit);

        foreach (var survivor in new[] { cluster.Lighthouse.Ops, first.Ops })
        {
            var (exitCode, output, _) = await ProcessCluster.CtlAsync(survivor, "cluster", "show");
            Assert.Equal(0, exitCode);
            Assert.DoesNotContain(second.Address, output);
            Assert.Contains("Count: 2 nodes", output);
        }

        var restarted = await cluster.StartViosNodeAsync("vios2");
        var after = await ProcessCluster.MembersAsync(cluster.Lighthouse.Ops);
        Assert.Equal(3, after.Count);
        Assert.Equal("up", after[restarted.Address]);

        var (statusExit, status, _) = await ProcessCluster.CtlAsync(restarted.Ops, "--json", "cluster", "status");
        Assert.Equal(0, statusExit);
        using var document = JsonDocument.Parse(status);
        Assert.Equal(2, document.RootElement.GetProperty("incarnation").GetInt32());
        Assert.Equal(File.ReadAllText(Path.Combine(cluster.DataDirectory("vios2"), "node.id")).Trim(),
            document.RootElement.GetProperty("node").GetString());
    }

    [Fact]
    public async Task Sigterm_makes_a_node_leave_gracefully_and_exit_0()
    {
        await using var cluster = await ProcessCluster.StartAsync();
        var node = await cluster.StartViosNodeAsync("vios1");

        node.Process.Terminate();

        await AwaitLeavingAsync(cluster, node);
        await cluster.AwaitRemovedAsync(node.Address, ProcessCluster.StartTimeout);
        await node.Process.Exited.WaitAsync(ProcessCluster.StartTimeout);
        Assert.Equal(0, node.Process.ExitCode);
        // Left, not failed: the lighthouse never saw it unreachable.
        Assert.DoesNotContain(cluster.Tail.Output, l => l.Contains($"member-unreachable | {node.Address} |"));
    }

    [Fact]
    public async Task Sigterm_as_soon_as_the_node_is_ready_finishes_its_join_then_leaves_instead_of_falling_silent()
    {
        await using var cluster = await ProcessCluster.StartAsync();
        // Its ready line comes before its welcome from the seed: the join is in flight.
        var node = await cluster.StartViosNodeAsync("vios1", awaitUp: false);

        node.Process.Terminate();

        await AwaitLeavingAsync(cluster, node);
        await cluster.AwaitRemovedAsync(node.Address, ProcessCluster.StartTimeout);
        await node.Process.Exited.WaitAsync(ProcessCluster.StartTimeout);
        Assert.Equal(0, node.Process.ExitCode);
        Assert.DoesNotContain(cluster.Tail.Output, l => l.Contains($"member-unreachable | {node.Address} |"));
    }

    /// <summary>Waits for the lighthouse to see <paramref name="node"/> leave; on failure, says what the node printed and logged.</summary>
    private static async Task AwaitLeavingAsync(ProcessCluster cluster, NodeProcess node)
    {
        try
        {
            await cluster.Tail.WaitForLineAsync(l => l.Contains($"member-exiting | {node.Address} |") || l.Contains($"member-leaving | {node.Address} |"),
                ProcessCluster.StartTimeout, "the node leaving");
        }
        catch (TimeoutException e)
        {
            // What the node itself said (its signal handling, its shutdown's phases), for the failure's reader.
            var log = Path.Combine(cluster.DataDirectory(node.DataName), "logs", "vios-node.log");
            var logTail = File.Exists(log) ? File.ReadLines(log).Where(l => !l.Contains(" DBG ", StringComparison.Ordinal)).TakeLast(60) : [];
            throw new TimeoutException(
                $"{e.Message}\nthe node's own output:\n{string.Join('\n', node.Process.Output)}\nits log:\n{string.Join('\n', logTail)}", e);
        }
    }

    [Fact]
    public async Task A_node_downed_by_the_cluster_stops_and_exits_1()
    {
        await using var cluster = await ProcessCluster.StartAsync();
        var node = await cluster.StartViosNodeAsync("vios1");

        var (exitCode, _, error) = await ProcessCluster.CtlAsync(cluster.Lighthouse.Ops, "cluster", "down", node.Address);

        Assert.True(exitCode == 0, error);
        await cluster.AwaitRemovedAsync(node.Address, ProcessCluster.StartTimeout);
        await node.Process.Exited.WaitAsync(ProcessCluster.StartTimeout);
        Assert.Equal(1, node.Process.ExitCode);
        Assert.Contains("vios: node stopped: the cluster downed this node", node.Process.Output);
    }
}
