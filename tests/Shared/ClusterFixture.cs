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

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(viosNodes: 3);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
