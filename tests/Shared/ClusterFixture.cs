using Vios.Host.Node;
using Vios.Persistence.Database;

namespace Vios.Testing;

/// <summary>Starts <see cref="LocalCluster"/>s for tests, each in a fresh temp directory removed afterwards.</summary>
public static class TestCluster
{
    public static Task<LocalCluster> StartAsync(int viosNodes, DatabaseKind database = DatabaseKind.Sqlite, string? connection = null) =>
        LocalCluster.StartAsync(Options(database, connection), viosNodes);

    public static LocalClusterOptions Options(DatabaseKind database = DatabaseKind.Sqlite, string? connection = null) => new()
    {
        RootDirectory = Path.Combine(Path.GetTempPath(), $"vios-cluster-{Guid.NewGuid():N}"[..25]),
        DeleteOnDispose = true,
        Database = database,
        DatabaseConnection = connection,
    };
}

/// <summary>
/// One lighthouse and three vios nodes shared by every test class of a collection: started once,
/// torn down after the last test. Tests using it must leave the membership as they found it.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public ViosNode Lighthouse => Cluster.Lighthouse;
    public ViosNode ViosA => Cluster.ViosNodes[0];
    public ViosNode ViosB => Cluster.ViosNodes[1];
    public IReadOnlyList<ViosNode> Nodes => Cluster.RunningNodes;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(viosNodes: 3);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>Test classes marked <c>[Collection(ClusterCollection.Name)]</c> share one <see cref="ClusterFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "shared cluster";
}

public static class NodeEndpoints
{
    /// <summary>The node's ops endpoint as a client reaches it (a node bound to 0.0.0.0 is reached on loopback).</summary>
    public static string CtlEndpoint(this ViosNode node) => $"127.0.0.1:{node.OpsEndpoint.Port}";

    /// <summary>The node's address in the <c>host:port</c> form that `vios ctl` and --seeds accept.</summary>
    public static string HostPort(this ViosNode node) => $"{node.SelfAddress.Host}:{node.SelfAddress.Port}";
}
