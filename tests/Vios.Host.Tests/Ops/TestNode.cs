using Vios.Host.Node;

namespace Vios.Host.Tests.Ops;

/// <summary>A real node started in-process on free ports, in its own temporary data directory.</summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private int _disposed;

    private TestNode(ViosNode node, string dataDirectory)
    {
        Node = node;
        _dataDirectory = dataDirectory;
    }

    public ViosNode Node { get; }

    /// <summary>The ops endpoint as a client reaches it (a node bound to 0.0.0.0 is reached on loopback).</summary>
    public string Endpoint => $"127.0.0.1:{Node.OpsEndpoint.Port}";

    /// <summary>This node's address in the <c>host:port</c> form <c>vios ctl</c> accepts.</summary>
    public string HostPort => $"{Node.SelfAddress.Host}:{Node.SelfAddress.Port}";

    public static Task<TestNode> StartLighthouseAsync(string? opsHost = null, string? opsToken = null) =>
        StartAsync(new NodeOptions { Role = NodeRole.Lighthouse, OpsHost = opsHost, OpsToken = opsToken });

    public static Task<TestNode> StartViosAsync(TestNode lighthouse) =>
        StartAsync(new NodeOptions { Role = NodeRole.Vios, Seeds = [lighthouse.Node.SelfAddress.ToString()] });

    private static async Task<TestNode> StartAsync(NodeOptions options)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "vios-ops-tests", Guid.NewGuid().ToString("N"));
        var node = await ViosNode.StartAsync(options with
        {
            Port = 0,
            OpsPort = 0,
            DataDirectory = dataDirectory,
            LogLevel = "warning",
            Environment = new Dictionary<string, string?>(),
        });
        return new TestNode(node, dataDirectory);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await Node.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a finalising SQLite connection; the temp directory is cleaned by the OS.
        }
    }
}
