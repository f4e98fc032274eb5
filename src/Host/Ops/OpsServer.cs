using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Event;
using Vios.Host.Node;

namespace Vios.Host.Ops;

/// <summary>
/// The ops endpoint <c>vios ctl</c> talks to (see <see cref="OpsProtocol"/>). Each connection carries
/// one request; nothing a client sends or a command throws stops the endpoint or the node.
/// </summary>
public sealed class OpsServer : IAsyncDisposable
{
    /// <summary>Enough for operators and scripts at once, including a few open tails.</summary>
    public const int MaxConnections = 16;

    /// <summary>Stopping waits this long for the open connections to notice the cancellation.</summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly OpsDispatcher _dispatcher;
    private readonly ILoggingAdapter _log;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly Lock _gate = new();
    private Task _acceptLoop = Task.CompletedTask;
    private Task? _stopped;
    private long _lastConnectionId;
    private int _open;

    private OpsServer(TcpListener listener, OpsDispatcher dispatcher, ILoggingAdapter log)
    {
        _listener = listener;
        _dispatcher = dispatcher;
        _log = log;
        // Read while bound: a stopped listener reports the configured endpoint (port 0) instead.
        Endpoint = (IPEndPoint)listener.LocalEndpoint;
    }

    public IPEndPoint Endpoint { get; }

    public static Task<OpsServer> StartAsync(OpsSettings settings, ViosNode node, CancellationToken cancellationToken) =>
        StartAsync(settings, node, PaletteRegistry.Default, cancellationToken);

    public static async Task<OpsServer> StartAsync(
        OpsSettings settings, ViosNode node, PaletteRegistry palettes, CancellationToken cancellationToken)
    {
        var address = await ResolveAsync(settings.Host, cancellationToken);
        var listener = new TcpListener(address, settings.Port);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new NodeStartupException($"the ops endpoint cannot listen on {settings.Host}:{settings.Port}: {e.Message}", e);
        }

        var log = Akka.Event.Logging.GetLogger(node.System, "vios.ops");
        var dispatcher = new OpsDispatcher(palettes, node, new OpsTokenCheck(settings.Token), log);
        var server = new OpsServer(listener, dispatcher, log);
        server._acceptLoop = server.AcceptLoopAsync();
        return server;
    }

    /// <summary>Closes the listener and every open connection, cancelling the commands they run.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_gate) _stopped ??= StopAsync();
        return new ValueTask(_stopped);
    }

    private async Task StopAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        var closed = Task.WhenAll(_connections.Values);
        if (await Task.WhenAny(closed, Task.Delay(StopTimeout)) != closed)
            _log.Warning("ops endpoint: {0} connections still open {1} s after stopping", _connections.Count, StopTimeout.TotalSeconds);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                if (_stopping.IsCancellationRequested) return;
                // A connection reset before it was accepted: the listener itself is fine.
                _log.Debug("ops endpoint: accept failed: {0}", e.Message);
                continue;
            }
            Track(client);
        }
    }

    private void Track(TcpClient client)
    {
        var connection = new OpsConnection(client, _dispatcher, _stopping.Token);
        var admitted = Interlocked.Increment(ref _open) <= MaxConnections;
        var served = admitted
            ? connection.ServeAsync()
            : connection.RefuseAsync(CommandOutcome.Failed($"the ops endpoint is busy ({MaxConnections} connections open); try again"));
        var id = Interlocked.Increment(ref _lastConnectionId);
        // However the connection ended (served, reset, cancelled, or an exception nobody expected), its slot is freed.
        var closed = served.ContinueWith(ended =>
        {
            if (ended.Exception?.GetBaseException() is { } unexpected) _log.Error(unexpected, "ops endpoint: a connection ended with {0}", unexpected.Message);
            Interlocked.Decrement(ref _open);
            _connections.TryRemove(id, out Task? _);
        }, TaskScheduler.Default);
        _connections[id] = closed;
        // The continuation may have run before the line above; then it found nothing to remove.
        if (closed.IsCompleted) _connections.TryRemove(id, out Task? _);
    }

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var address)) return address;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            return addresses.FirstOrDefault() ?? throw new NodeStartupException($"the ops host '{host}' resolves to no address");
        }
        catch (SocketException e)
        {
            throw new NodeStartupException($"the ops host '{host}' cannot be resolved: {e.Message}", e);
        }
    }
}
