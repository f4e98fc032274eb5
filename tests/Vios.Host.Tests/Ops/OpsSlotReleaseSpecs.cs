using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Vios.Host.Node;
using Vios.Host.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>Every connection's end frees its slot, however the client goes: a reset, a half-close, mid-tail.</summary>
[Collection(ClusterCollection.Name)]
public sealed class OpsSlotReleaseSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly OpsSettings LoopbackAnyPort = new("127.0.0.1", 0, null);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Clients_that_reset_or_half_close_many_more_times_than_there_are_slots_leave_the_endpoint_answering()
    {
        await using var server = await OpsServer.StartAsync(LoopbackAnyPort, cluster.ViosA, CancellationToken.None);
        var endpoint = server.Endpoint.ToString();
        var rounds = 2 * OpsServer.MaxConnections;

        for (var i = 0; i < rounds; i++)
        {
            // A killed `vios ctl cluster tail`: the tail has streamed its members, then the client resets.
            using (var tail = await ConnectAsync(server))
            {
                var stream = tail.GetStream();
                await stream.WriteAsync(Encoding.UTF8.GetBytes("""{"palette":"cluster","command":"tail"}""" + "\n"));
                using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                using var timeout = new CancellationTokenSource(ClientTimeout);
                var first = await reader.ReadLineAsync(timeout.Token);
                Assert.NotNull(first);
                var reply = JsonDocument.Parse(first).RootElement;
                Assert.False(reply.TryGetProperty("exit", out _), $"tail {i} was not served: {first}");
                Reset(tail);
            }
            // A client reset in the middle of its request line.
            using (var half = await ConnectAsync(server))
            {
                await half.GetStream().WriteAsync(Encoding.UTF8.GetBytes("""{"palette":"clus"""));
                Reset(half);
            }
            // A client that connects and resets at once, and one that half-closes without a request.
            Reset(await ConnectAsync(server));
            using (var quiet = await ConnectAsync(server)) quiet.Client.Shutdown(SocketShutdown.Send);
        }

        // The endpoint sees each reset at once; a slot held by any of them would soon show as "busy".
        await AwaitAssertAsync(async () =>
        {
            var show = await Ctl.RunAsync("--endpoint", endpoint, "cluster", "show");
            Assert.True(show.ExitCode == 0, $"the endpoint did not answer after the resets: {show}");
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));
        // And it keeps room for a full set of clients: none of the slots is still taken.
        var shows = await Task.WhenAll(Enumerable.Range(0, OpsServer.MaxConnections - 1)
            .Select(_ => Ctl.RunAsync("--endpoint", endpoint, "cluster", "show")));
        Assert.All(shows, show => Assert.True(show.ExitCode == 0, show.ToString()));
    }

    private static async Task<TcpClient> ConnectAsync(OpsServer server)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Endpoint);
        return client;
    }

    /// <summary>
    /// Closes with a reset (RST) and no FIN before it, as the kernel does for a killed process with
    /// unread input. The socket itself is closed: <see cref="TcpClient.Close"/> shuts it down first,
    /// which sends a FIN that the endpoint sees as an ordinary hang-up.
    /// </summary>
    private static void Reset(TcpClient client)
    {
        client.Client.LingerState = new LingerOption(true, 0);
        client.Client.Close();
    }
}
