using Akka.Actor;
using Vios.Host.Node;
using Vios.Persistence.Database;

namespace Vios.Testing;

/// <summary>
/// A lighthouse and N vios nodes as separate ActorSystems in this process, each on a free loopback
/// port with its own data directory, started exactly as `vios node` starts them. Tests that need a
/// cluster share one through <see cref="ClusterFixture"/>; tests that break a cluster start their own.
/// </summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    public static readonly TimeSpan ConvergenceTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _root = new("vios-cluster");
    private readonly List<ViosNode> _nodes = [];
    private readonly DatabaseKind _database;
    private readonly string? _databaseConnection;
    private int _created;

    private InProcessCluster(DatabaseKind database, string? databaseConnection)
    {
        _database = database;
        _databaseConnection = databaseConnection;
    }

    public ViosNode Lighthouse => _nodes.First(n => n.Role == NodeRole.Lighthouse);
    public IReadOnlyList<ViosNode> ViosNodes => _nodes.Where(n => n.Role == NodeRole.Vios && !n.WhenTerminated.IsCompleted).ToList();
    public IReadOnlyList<ViosNode> RunningNodes => _nodes.Where(n => !n.WhenTerminated.IsCompleted).ToList();
    public string RootDirectory => _root.Path;

    /// <summary>Starts a lighthouse and <paramref name="viosNodes"/> vios nodes and waits until all are Up.</summary>
    public static async Task<InProcessCluster> StartAsync(
        int viosNodes, DatabaseKind database = DatabaseKind.Sqlite, string? databaseConnection = null)
    {
        var cluster = new InProcessCluster(database, databaseConnection);
        try
        {
            var lighthouse = await ViosNode.StartAsync(cluster.Options(NodeRole.Lighthouse, "lighthouse"));
            cluster._nodes.Add(lighthouse);
            await Task.WhenAll(Enumerable.Range(0, viosNodes).Select(_ => cluster.StartViosNodeAsync(awaitUp: false)));
            await cluster.AwaitConvergenceAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more vios node (in <paramref name="dataDirectory"/> to restart an old one) and waits until it is Up.</summary>
    public async Task<ViosNode> StartViosNodeAsync(string? dataDirectory = null, bool awaitUp = true)
    {
        var options = Options(NodeRole.Vios, $"vios{Interlocked.Increment(ref _created)}") with
        {
            Seeds = [Lighthouse.SelfAddress.ToString()],
        };
        if (dataDirectory is not null) options = options with { DataDirectory = dataDirectory };
        var node = await ViosNode.StartAsync(options);
        lock (_nodes) _nodes.Add(node);
        if (awaitUp) await AwaitConvergenceAsync();
        return node;
    }

    /// <summary>Waits until every running node sees every running node Up and reachable.</summary>
    public Task AwaitConvergenceAsync()
    {
        var running = RunningNodes;
        return Task.WhenAll(running.Select(n =>
            n.AwaitAsync(ClusterWaits.MembersUp(running.Count), ConvergenceTimeout, $"{running.Count} members up as seen by {n.Name}")));
    }

    /// <summary>Waits until every running node has removed <paramref name="address"/> from its membership.</summary>
    public Task AwaitRemovedAsync(Address address, TimeSpan timeout) =>
        Task.WhenAll(RunningNodes.Where(n => n.SelfAddress != address).Select(n =>
            n.AwaitAsync(ClusterWaits.Removed(address), timeout, $"{address} removed as seen by {n.Name}")));

    public NodeOptions Options(NodeRole role, string name) => new()
    {
        Role = role,
        Host = "127.0.0.1",
        Port = 0,
        OpsPort = 0,
        DataDirectory = _root.Sub(name),
        Database = _database,
        DatabaseConnection = _databaseConnection,
        LogLevel = "warning",
        Seeds = [],
        // Tests never inherit CLUSTER_* or VIOS_OPS_TOKEN from the machine running them.
        Environment = new Dictionary<string, string?>(),
    };

    public async ValueTask DisposeAsync()
    {
        // Vios nodes first, so the lighthouse sees them leave instead of becoming unreachable.
        foreach (var node in RunningNodes.Where(n => n.Role == NodeRole.Vios).Reverse())
            await node.StopAsync();
        foreach (var node in RunningNodes)
            await node.StopAsync();
        _root.Dispose();
    }
}

/// <summary>
/// One lighthouse and three vios nodes shared by every test class of a collection: started once,
/// torn down after the last test. Tests using it must leave the membership as they found it.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public InProcessCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await InProcessCluster.StartAsync(viosNodes: 3);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
