using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Vios.Host.Ops;

/// <summary>
/// The client side of <see cref="OpsProtocol"/>: sends one request, hands each output reply to the
/// caller as it arrives, and returns the final outcome. Transport problems are outcomes too.
/// </summary>
public sealed class OpsClient(OpsEndpointAddress endpoint)
{
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A command that does not stream and has not finished in this long is given up.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);

    /// <param name="streams">
    /// The command streams until cancelled: no reply timeout, and cancellation ends it with success
    /// (Ctrl-C of a <c>cluster tail</c>).
    /// </param>
    public async Task<CommandOutcome> SendAsync(
        OpsRequest request, bool streams, Func<OpsReply, ValueTask> onOutput, CancellationToken cancellationToken)
    {
        using var client = new TcpClient { NoDelay = true };
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            if (await ConnectAsync(client, cancellationToken) is { } unreachable) return unreachable;
            if (!streams) waiting.CancelAfter(ReplyTimeout);
            var stream = client.GetStream();
            await stream.WriteAsync(RequestLine(request), waiting.Token);

            using var reader = new StreamReader(stream, new UTF8Encoding(false));
            while (await reader.ReadLineAsync(waiting.Token) is { } text)
            {
                var reply = Parse(text);
                if (reply is null) return CommandOutcome.Failed($"the ops endpoint at {endpoint} sent something that is not an ops reply");
                if (reply.IsFinal) return new CommandOutcome(reply.Exit!.Value, reply.Error);
                await onOutput(reply);
            }
            return CommandOutcome.Failed($"the ops endpoint at {endpoint} closed the connection before the command finished");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return streams ? CommandOutcome.Success : CommandOutcome.Failed("interrupted before the command finished");
        }
        catch (OperationCanceledException)
        {
            return CommandOutcome.Failed($"the ops endpoint at {endpoint} did not finish within {ReplyTimeout.TotalSeconds:0} s");
        }
        catch (IOException e)
        {
            return CommandOutcome.Failed($"the connection to the ops endpoint at {endpoint} broke: {(e.InnerException ?? e).Message}");
        }
    }

    private async Task<CommandOutcome?> ConnectAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connecting.CancelAfter(ConnectTimeout);
        try
        {
            await client.ConnectAsync(endpoint.Host, endpoint.Port, connecting.Token);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return NoEndpoint($"no answer within {ConnectTimeout.TotalSeconds:0} s");
        }
        catch (SocketException e)
        {
            return NoEndpoint(e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.TimedOut => "timed out",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "unknown host",
                SocketError.HostUnreachable or SocketError.NetworkUnreachable => "unreachable",
                _ => e.Message,
            });
        }
    }

    private CommandOutcome NoEndpoint(string reason) => CommandOutcome.Failed($"no ops endpoint answers at {endpoint} ({reason})");

    private static ReadOnlyMemory<byte> RequestLine(OpsRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            JsonSerializer.Serialize(json, request, OpsJsonContext.Default.OpsRequest);
        }
        buffer.Write("\n"u8);
        return buffer.WrittenMemory;
    }

    private static OpsReply? Parse(string line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, OpsJsonContext.Default.OpsReply);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
