using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Vios.Host.Tests.Ops;

/// <summary>Speaks to an ops endpoint byte by byte, to send what <c>vios ctl</c> never would.</summary>
public static class RawOpsClient
{
    /// <summary>Sends <paramref name="bytes"/> and returns every reply line until the final one or the end of the stream.</summary>
    public static Task<IReadOnlyList<JsonElement>> SendAsync(string endpoint, string text) => SendAsync(endpoint, Encoding.UTF8.GetBytes(text));

    public static async Task<IReadOnlyList<JsonElement>> SendAsync(string endpoint, byte[] bytes)
    {
        var (host, port) = (endpoint[..endpoint.LastIndexOf(':')], int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..]));
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await client.ConnectAsync(host, port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(bytes, timeout.Token);

        var replies = new List<JsonElement>();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            var reply = JsonDocument.Parse(line).RootElement.Clone();
            replies.Add(reply);
            if (reply.TryGetProperty("exit", out _)) break;
        }
        return replies;
    }

    public static int ExitOf(IReadOnlyList<JsonElement> replies) => replies[^1].GetProperty("exit").GetInt32();

    public static string ErrorOf(IReadOnlyList<JsonElement> replies) => replies[^1].GetProperty("error").GetString()!;
}
