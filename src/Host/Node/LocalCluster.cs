using Akka.Actor;
using Akka.Cluster;
using Vios.Persistence.Database;

namespace Vios.Host.Node;

/// <summary>Where a <see cref="LocalCluster"/> keeps its nodes' data and how loudly they log.</summary>
public sealed record LocalClusterOptions
{
    /// <summary>One sub-directory per node (<c>lighthouse</c>, <c>vios1</c>, ...).</summary>
    public required string RootDirectory { get; init; }

    public bool DeleteOnDispose { get; init; }
    public DatabaseKind Database { get; init; } = DatabaseKind.Sqlite;
    public string? DatabaseConnection { get; init; }
    public string LogLevel { get; init; } = "warning";
}

/// <summary>
/// A lighthouse and N vios nodes as separate ActorSystems in this process, each on a free loopback
/// port with its own data directory, started exactly as `vios node` starts them. `vios demo` runs
/// one; tests share one through a fixture, or start their own when they break it.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    public static readonly TimeSpan ConvergenceTimeout = TimeSpan.FromSeconds(30);

    private readonly LocalClusterOptions _options;
    private readonly List<ViosNode> _nodes = [];
    private int _created;

    private LocalCluster(LocalClusterOptions options) => _options = options;

    public ViosNode Lighthouse
    {
        get
        {
            lock (_nodes) return _nodes.First(n => n.Role == NodeRole.Lighthouse);
        }
    }
    public IReadOnlyList<ViosNode> ViosNodes => RunningNodes.Where(n => n.Role == NodeRole.Vios).ToList();
    public IReadOnlyList<ViosNode> RunningNodes
    {
        get
        {
            lock (_nodes) return _nodes.Where(n => !n.WhenTerminated.IsCompleted).ToList();
        }
    }
    public string RootDirectory => _options.RootDirectory;

    /// <summary>Starts a lighthouse and <paramref name="viosNodes"/> vios nodes and waits until all are Up.</summary>
    public static async Task<LocalCluster> StartAsync(LocalClusterOptions options, int viosNodes)
    {
        var cluster = new LocalCluster(options);
        try
        {
            await cluster.StartLighthouseAsync();
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

    /// <summary>An empty cluster; start its lighthouse and nodes one by one (as `vios demo` does).</summary>
    public static LocalCluster Create(LocalClusterOptions options) => new(options);

    /// <param name="customize">Changes to the lighthouse's options (an ops token, a --config file).</param>
    public async Task<ViosNode> StartLighthouseAsync(Func<NodeOptions, NodeOptions>? customize = null)
    {
        var options = Options(NodeRole.Lighthouse, "lighthouse");
        var lighthouse = await ViosNode.StartAsync(customize is null ? options : customize(options));
        lock (_nodes) _nodes.Add(lighthouse);
        return lighthouse;
    }

    /// <summary>Starts one more vios node (in <paramref name="dataDirectory"/> to restart an old one) and waits until it is Up.</summary>
    public async Task<ViosNode> StartViosNodeAsync(string? dataDirectory = null, bool awaitUp = true, Func<NodeOptions, NodeOptions>? customize = null)
    {
        var options = Options(NodeRole.Vios, $"vios{Interlocked.Increment(ref _created)}") with
        {
            Seeds = [Lighthouse.SelfAddress.ToString()],
        };
        if (dataDirectory is not null) options = options with { DataDirectory = dataDirectory };
        var node = await ViosNode.StartAsync(customize is null ? options : customize(options));
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
        DataDirectory = Path.Combine(_options.RootDirectory, name),
        // Cluster-wide state (the singletons' journal) is shared by all the nodes, as on one machine in production.
        SharedDirectory = Path.Combine(_options.RootDirectory, "shared"),
        Database = _options.Database,
        DatabaseConnection = _options.DatabaseConnection,
        LogLevel = _options.LogLevel,
        Seeds = [],
        // Tests never inherit CLUSTER_* or VIOS_OPS_TOKEN from the machine running them.
        Environment = new Dictionary<string, string?>(),
    };

    /// <summary>
    /// Stops every vios node gracefully: all but the oldest together, then the oldest. The cluster
    /// singletons run on the oldest vios node; leaving it for last means they never hand over to a
    /// node that is itself leaving (which waits out the cluster-exiting timeout).
    /// </summary>
    public async Task StopViosNodesAsync()
    {
        var nodes = ViosNodes;
        if (nodes.Count == 0) return;
        var oldest = nodes[0].Cluster.State.Members
            .Where(m => m.HasRole("vios") && m.Status == MemberStatus.Up)
            .OrderBy(m => m, Member.AgeOrdering)
            .Select(m => nodes.FirstOrDefault(n => n.SelfAddress == m.Address))
            .FirstOrDefault(n => n is not null);
        await Task.WhenAll(nodes.Where(n => n != oldest).Select(n => n.StopAsync()));
        if (oldest is not null) await oldest.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // Vios nodes first, so the lighthouse sees them leave instead of becoming unreachable.
        await StopViosNodesAsync();
        foreach (var node in RunningNodes)
            await node.StopAsync();
        if (_options.DeleteOnDispose)
        {
            try
            {
                Directory.Delete(_options.RootDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: the directory is under the system temp folder.
            }
        }
    }
}
