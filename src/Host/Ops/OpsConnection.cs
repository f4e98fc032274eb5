using System.Buffers;
using System.Net.Sockets;

namespace Vios.Host.Ops;

/// <summary>
/// One client connection: reads the request line, runs it through the dispatcher, writes the
/// replies, then closes so that the client reads everything. Never throws.
/// </summary>
internal sealed class OpsConnection(TcpClient client, OpsDispatcher dispatcher, CancellationToken stopping)
{
    /// <summary>A client that connects but does not send its request within this is answered and dropped.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>After the final reply, how long the client may take to read it and hang up.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

    public Task ServeAsync() => AnswerAsync(refusal: null);

    /// <summary>Answers a client the endpoint has no room for, without reading its request.</summary>
    public Task RefuseAsync(CommandOutcome refusal) => AnswerAsync(refusal);

    private async Task AnswerAsync(CommandOutcome? refusal)
    {
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var buffer = ArrayPool<byte>.Shared.Rent(OpsProtocol.MaxRequestBytes + 1);
        var hangUp = Task.CompletedTask;
        try
        {
            using (client)
            {
                client.NoDelay = true;
                var stream = client.GetStream();
                var output = new OpsReplyWriter(stream);
                CommandOutcome outcome;
                if (refusal is not null)
                {
                    hangUp = CancelOnHangUpAsync(stream, connection);
                    outcome = refusal;
                }
                else
                {
                    var line = await ReadRequestAsync(stream, buffer, connection.Token);
                    if (line.Status == RequestLineStatus.Ended) return;
                    hangUp = CancelOnHangUpAsync(stream, connection);
                    outcome = line.Status switch
                    {
                        RequestLineStatus.TooLong => CommandOutcome.BadUsage($"the request line exceeds {OpsProtocol.MaxRequestBytes / 1024} KiB"),
                        RequestLineStatus.TimedOut => CommandOutcome.BadUsage($"no request line within {RequestTimeout.TotalSeconds:0} s"),
                        _ => await dispatcher.DispatchAsync(buffer.AsMemory(0, line.Length), output, connection.Token),
                    };
                }
                await output.WriteFinalAsync(outcome, connection.Token);
                await LingerAsync(hangUp);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The client went away or the endpoint is stopping: nobody is left to answer.
        }
        finally
        {
            await connection.CancelAsync();
            await hangUp;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<RequestLine> ReadRequestAsync(NetworkStream stream, byte[] buffer, CancellationToken connection)
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(connection);
        reading.CancelAfter(RequestTimeout);
        try
        {
            return await RequestLineReader.ReadAsync(stream, buffer.AsMemory(0, OpsProtocol.MaxRequestBytes + 1), reading.Token);
        }
        catch (OperationCanceledException) when (!connection.IsCancellationRequested)
        {
            return new RequestLine(RequestLineStatus.TimedOut, 0);
        }
    }

    /// <summary>
    /// Reads (and ignores) whatever follows the request until the client hangs up, then cancels the
    /// command: the client keeps its side open while it wants the answer, so that a tail ends when it
    /// disconnects. However the client goes (a half-close, a reset, a socket error), the command is
    /// cancelled: a reset used to end the drain without it, and a quiet tail then held its slot for
    /// ever. It is also the drain <see cref="LingerAsync"/> waits on.
    /// </summary>
    private static async Task CancelOnHangUpAsync(NetworkStream stream, CancellationTokenSource connection)
    {
        var scratch = new byte[4096];
        try
        {
            while (await stream.ReadAsync(scratch, connection.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Cancelled by the connection itself, or the client reset the connection.
        }
        finally
        {
            await connection.CancelAsync();
        }
    }

    /// <summary>
    /// Half-closes and waits for the client to hang up before closing: closing with unread input
    /// (the rest of an oversize line) resets the connection, and the client could lose the reply.
    /// </summary>
    private async Task LingerAsync(Task hangUp)
    {
        client.Client.Shutdown(SocketShutdown.Send);
        await Task.WhenAny(hangUp, Task.Delay(LingerTimeout, stopping));
    }
}
