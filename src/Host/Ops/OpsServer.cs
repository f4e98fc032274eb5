using System.Net;
using System.Net.Sockets;
using Vios.Host.Node;

namespace Vios.Host.Ops;

/// <summary>PLACEHOLDER: the ops endpoint `vios ctl` talks to. To be replaced by the full implementation.</summary>
public sealed class OpsServer : IAsyncDisposable
{
    private readonly TcpListener _listener;

    private OpsServer(TcpListener listener) => _listener = listener;

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint;

    public static Task<OpsServer> StartAsync(OpsSettings settings, ViosNode node, CancellationToken cancellationToken)
    {
        var listener = new TcpListener(IPAddress.Parse(settings.Host), settings.Port);
        listener.Start();
        return Task.FromResult(new OpsServer(listener));
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        return ValueTask.CompletedTask;
    }
}
