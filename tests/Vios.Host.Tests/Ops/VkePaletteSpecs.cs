using System.Text.Json;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>`vios ctl vke ...` against the shared cluster: the S1 protocol as an operator drives it.</summary>
[Collection(ClusterCollection.Name)]
public sealed class VkePaletteSpecs(ClusterFixture cluster)
{
    [Fact]
    public async Task Send_with_response_prints_the_echo_and_the_round_trip()
    {
        var target = cluster.ViosB;

        var result = await Ctl.AtAsync(cluster.ViosA, "vke", "send", "--node", target.HostPort(), "--daemon", "echo", "--payload", "hello", "--response");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^[0-9a-f]+ to echo: 1 of 1 answered in [0-9.]+ ms$", result.StdoutLines[0]);
        Assert.Equal($"{target.SelfAddress} | response | hello", result.StdoutLines[1]);
    }

    [Fact]
    public async Task Send_without_response_reports_the_packet_sent()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "vke", "send", "--node", cluster.ViosB.SelfAddress.ToString(), "--daemon", "echo", "--payload", "fire and forget");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches("^sent [0-9a-f]+ to echo on 1 node$", result.StdoutLines[0]);
    }

    [Fact]
    public async Task Broadcast_as_json_lists_a_response_from_every_vios_node()
    {
        var result = await Ctl.AtAsync(cluster.ViosB, "--json", "vke", "broadcast", "--daemon", "echo", "--payload", "all of you", "--response");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        var responders = document.RootElement.GetProperty("responses").EnumerateArray()
            .Select(r => r.GetProperty("node").GetString()).Order().ToList();
        Assert.Equal(cluster.Cluster.ViosNodes.Select(n => n.SelfAddress.ToString()).Order(), responders);
        Assert.Empty(document.RootElement.GetProperty("missing").EnumerateArray());
    }

    [Fact]
    public async Task Stats_has_a_line_per_vios_node_with_counters_that_move()
    {
        await Ctl.AtAsync(cluster.ViosA, "vke", "broadcast", "--daemon", "echo", "--payload", "count me", "--response");

        var result = await Ctl.AtAsync(cluster.ViosA, "--json", "vke", "stats");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        var nodes = document.RootElement.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal(cluster.Cluster.ViosNodes.Count, nodes.Count);
        var a = nodes.Single(n => n.GetProperty("node").GetProperty("address").GetString() == cluster.ViosA.SelfAddress.ToString());
        Assert.True(a.GetProperty("broadcasts").GetInt64() >= 2);
        Assert.True(a.GetProperty("responsesMatched").GetInt64() >= cluster.Cluster.ViosNodes.Count);
        Assert.All(nodes, n => Assert.True(n.GetProperty("received").GetInt64() >= 1));
    }

    [Fact]
    public async Task An_unknown_daemon_answers_with_an_error_and_exit_1()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "vke", "send", "--node", cluster.ViosB.HostPort(), "--daemon", "nosuch", "--payload", "x", "--response");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{cluster.ViosB.SelfAddress} | error | no daemon 'nosuch'", result.Stdout);
        Assert.Contains("0 of 1 nodes answered", result.Stderr);
    }

    [Fact]
    public async Task An_unknown_node_is_refused_naming_the_known_ones()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "vke", "send", "--node", "10.9.9.9:1", "--daemon", "echo", "--payload", "x");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("'10.9.9.9:1' is not a vios node that is up", result.Stderr);
        Assert.Contains(cluster.ViosB.SelfAddress.ToString(), result.Stderr);
    }

    [Fact]
    public async Task A_lighthouse_has_no_VKE()
    {
        var result = await Ctl.AtAsync(cluster.Lighthouse, "vke", "stats");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("this node has no VKE", result.Stderr);
    }

    [Theory]
    [InlineData("send", "--daemon", "echo", "--payload", "x")]
    [InlineData("broadcast", "--payload", "x")]
    [InlineData("send", "--node", "h:1", "--daemon", "echo", "--payload", "x", "--timeout", "soon")]
    public async Task Missing_or_bad_options_are_usage_errors(params string[] command)
    {
        var result = await Ctl.AtAsync(cluster.ViosA, ["vke", .. command]);

        Assert.Equal(2, result.ExitCode);
    }
}
