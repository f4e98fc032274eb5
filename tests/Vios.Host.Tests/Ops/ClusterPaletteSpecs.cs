using Vios.Testing;
using System.Text.Json;

namespace Vios.Host.Tests.Ops;

[Collection(ClusterCollection.Name)]
public sealed class ClusterPaletteSpecs(ClusterFixture cluster)
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Show_prints_one_line_per_member_up_and_the_count()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "cluster", "show");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{cluster.Lighthouse.SelfAddress} | [lighthouse] | up |", result.StdoutLines);
        Assert.Contains($"{cluster.ViosA.SelfAddress} | [vios] | up |", result.StdoutLines);
        Assert.Contains($"{cluster.ViosB.SelfAddress} | [vios] | up |", result.StdoutLines);
        Assert.Equal($"Count: {cluster.Nodes.Count} nodes", result.StdoutLines[^1]);
    }

    [Fact]
    public async Task Show_as_json_is_one_document_listing_every_member_up_and_reachable()
    {
        var result = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "show", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        var members = document.RootElement.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(cluster.Nodes.Count, document.RootElement.GetProperty("count").GetInt32());
        Assert.Equal(
            cluster.Nodes.Select(n => n.SelfAddress.ToString()).Order(),
            members.Select(m => m.GetProperty("address").GetString()).Order());
        Assert.All(members, m =>
        {
            Assert.Equal("up", m.GetProperty("status").GetString());
            Assert.True(m.GetProperty("reachable").GetBoolean());
        });
        Assert.Equal(["lighthouse"], members.Single(m => m.GetProperty("address").GetString() == cluster.Lighthouse.SelfAddress.ToString())
            .GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task Status_of_a_vios_node_gives_its_membership_name_and_incarnation()
    {
        var node = cluster.ViosB;

        var result = await Ctl.AtAsync(cluster.ViosB, "cluster", "status");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            [$"{node.SelfAddress} | [vios] | up |", $"Node: {node.Name} (vios)", $"Incarnation: {node.Incarnation}"],
            result.StdoutLines);
    }

    [Fact]
    public async Task Status_as_json_of_the_lighthouse_has_no_incarnation()
    {
        var result = await Ctl.AtAsync(cluster.Lighthouse, "--json", "cluster", "status");

        Assert.True(result.ExitCode == 0, result.ToString());
        var status = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(cluster.Lighthouse.SelfAddress.ToString(), status.GetProperty("member").GetProperty("address").GetString());
        Assert.Equal(cluster.Lighthouse.Name, status.GetProperty("node").GetString());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("incarnation").ValueKind);
    }

    [Fact]
    public async Task Leader_is_the_same_address_on_every_node()
    {
        var leaders = await Task.WhenAll(cluster.Nodes.Select(n => Ctl.AtAsync(n, "cluster", "leader")));

        Assert.All(leaders, r => Assert.True(r.ExitCode == 0, r.ToString()));
        var leader = Assert.Single(leaders.Select(r => r.Stdout.Trim()).Distinct());
        Assert.Contains(leader, cluster.Nodes.Select(n => n.SelfAddress.ToString()));
    }

    [Fact]
    public async Task Join_with_a_bad_address_fails_with_exit_1()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "cluster", "join", "not-an-address");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("'not-an-address' is not a member address", result.Stderr);
    }

    [Fact]
    public async Task Down_of_an_address_that_is_not_a_member_fails_with_exit_1()
    {
        var result = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "down", "127.0.0.1:1");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("akka.tcp://vios@127.0.0.1:1 is not a member", result.Stderr);
    }

    [Fact]
    public async Task Tail_prints_the_members_then_streams_a_node_joining_and_leaving()
    {
        var stdout = new ObservedWriter();
        using var interrupt = new CancellationTokenSource();
        var tail = Vios.Host.Ops.CtlCommand.RunAsync(
            ["--endpoint", cluster.Lighthouse.CtlEndpoint(), "cluster", "tail"], stdout, new StringWriter(), interrupt.Token);
        await stdout.WaitForLineAsync(l => l == $"Count: {cluster.Nodes.Count} nodes", EventTimeout);

        var newcomer = await cluster.Cluster.StartViosNodeAsync(awaitUp: false);
        var address = newcomer.SelfAddress.ToString();
        try
        {
            await stdout.WaitForLineAsync(l => l.Contains($" member-up | {address} | [vios] |"), EventTimeout);
            await newcomer.StopAsync();
            await stdout.WaitForLineAsync(l => l.Contains($" member-removed | {address} |"), EventTimeout);

            await interrupt.CancelAsync();
            Assert.Equal(0, await tail.WaitAsync(EventTimeout));
        }
        finally
        {
            // The other tests of the collection expect the fixture's members, as every node sees them.
            await newcomer.StopAsync();
            await cluster.Cluster.AwaitRemovedAsync(newcomer.SelfAddress, EventTimeout);
            await cluster.Cluster.AwaitConvergenceAsync();
        }
    }
}
