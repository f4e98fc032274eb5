using Vios.Testing;
using System.Net.Sockets;
using System.Text;
using Vios.Host.Node;
using Vios.Host.Ops;

namespace Vios.Host.Tests.Ops;

/// <summary>Whatever a client sends or a command throws, the endpoint answers and keeps serving.</summary>
[Collection(ClusterCollection.Name)]
public sealed class OpsEndpointRobustnessSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly OpsSettings LoopbackAnyPort = new("127.0.0.1", 0, null);

    public static TheoryData<string, byte[], string> BadRequests => new()
    {
        { "garbage", Encoding.UTF8.GetBytes("GET / HTTP/1.1\r\n"), "is not an ops request" },
        { "invalid UTF-8", [0xff, 0xfe, 0xc3, (byte)'\n'], "is not an ops request" },
        { "oversize line", Encoding.UTF8.GetBytes(new string('x', OpsProtocol.MaxRequestBytes + 5000) + "\n"), "exceeds 64 KiB" },
        { "args not strings", Encoding.UTF8.GetBytes("""{"palette":"cluster","command":"show","args":{"depth":3}}""" + "\n"), "is not an ops request" },
        { "no command", Encoding.UTF8.GetBytes("""{"palette":"cluster"}""" + "\n"), "is not an ops request" },
        { "unknown palette", Encoding.UTF8.GetBytes("""{"palette":"nonesuch","command":"show"}""" + "\n"), "unknown palette 'nonesuch'" },
        { "unknown argument", Encoding.UTF8.GetBytes("""{"palette":"cluster","command":"show","args":{"x":"1"}}""" + "\n"), "has no argument or option 'x'" },
        { "missing argument", Encoding.UTF8.GetBytes("""{"palette":"cluster","command":"down"}""" + "\n"), "needs ADDR" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_gets_an_error_reply_and_the_endpoint_then_still_answers(string what, byte[] request, string error)
    {
        var replies = await RawOpsClient.SendAsync(cluster.ViosA.CtlEndpoint(), request);

        Assert.True(RawOpsClient.ExitOf(replies) == 2, what);
        Assert.Contains(error, RawOpsClient.ErrorOf(replies));
        var show = await Ctl.AtAsync(cluster.ViosA, "cluster", "show");
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Equal($"Count: {cluster.Nodes.Count} nodes", show.StdoutLines[^1]);
    }

    [Fact]
    public async Task A_command_that_throws_becomes_an_error_reply_and_the_endpoint_keeps_serving()
    {
        var failing = new OpsPalette("broken", "throws", [new(new CommandSpec("boom", "throws"), _ => throw new InvalidOperationException("kaput"))]);
        var palettes = new PaletteRegistry([failing, .. PaletteRegistry.Default.Palettes]);
        await using var server = await OpsServer.StartAsync(LoopbackAnyPort, cluster.ViosA, palettes, CancellationToken.None);
        var endpoint = server.Endpoint.ToString();

        var replies = await RawOpsClient.SendAsync(endpoint, """{"palette":"broken","command":"boom"}""" + "\n");

        Assert.Equal(1, RawOpsClient.ExitOf(replies));
        Assert.Contains("InvalidOperationException: kaput", RawOpsClient.ErrorOf(replies));
        var show = await Ctl.RunAsync("--endpoint", endpoint, "cluster", "show");
        Assert.True(show.ExitCode == 0, show.ToString());
    }

    [Fact]
    public async Task A_client_beyond_the_connection_limit_is_told_the_endpoint_is_busy_until_one_closes()
    {
        await using var server = await OpsServer.StartAsync(LoopbackAnyPort, cluster.ViosA, CancellationToken.None);
        var endpoint = server.Endpoint.ToString();
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < OpsServer.MaxConnections; i++)
            {
                var client = new TcpClient();
                idle.Add(client);
                await client.ConnectAsync(server.Endpoint);
            }

            var refused = await Ctl.RunAsync("--endpoint", endpoint, "cluster", "show");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("the ops endpoint is busy", refused.Stderr);
        }
        finally
        {
            idle.ForEach(c => c.Dispose());
        }

        // The endpoint frees a slot when it sees the client's side closed, a moment after Dispose.
        await AwaitAssertAsync(async () =>
        {
            var served = await Ctl.RunAsync("--endpoint", endpoint, "cluster", "show");
            Assert.True(served.ExitCode == 0, $"the endpoint stayed busy: {served}");
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Stopping_the_endpoint_ends_an_open_tail()
    {
        var server = await OpsServer.StartAsync(LoopbackAnyPort, cluster.ViosA, CancellationToken.None);
        var stdout = new ObservedWriter();
        var stderr = new StringWriter();
        var tail = CtlCommand.RunAsync(["--endpoint", server.Endpoint.ToString(), "cluster", "tail"], stdout, stderr);
        await stdout.WaitForLineAsync(l => l.StartsWith("Count:"), TimeSpan.FromSeconds(10));

        await server.DisposeAsync();

        Assert.Equal(1, await tail.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("closed the connection before the command finished", stderr.ToString());
    }
}
