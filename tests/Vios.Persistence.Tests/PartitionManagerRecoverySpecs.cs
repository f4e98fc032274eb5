using Akka.Actor;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// The partition manager is a persistent cluster singleton in the cluster-wide journal: when the node
/// hosting it leaves, the next oldest vios node recovers every definition, on the SQLite files the
/// nodes of one machine share and on PostgreSQL.
/// </summary>
public sealed class PartitionManagerRecoverySpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public Task Definitions_move_with_the_singleton_on_sqlite() => DefinitionsMoveWithTheSingleton(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public Task Definitions_move_with_the_singleton_on_postgres() =>
        DefinitionsMoveWithTheSingleton(DatabaseKind.Postgres, TestPostgres.RequiredConnectionString);

    private async Task DefinitionsMoveWithTheSingleton(DatabaseKind database, string? connection)
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 2, database, connection);
        // Unique names: a PostgreSQL database outlives the test run that wrote to it.
        var names = new[] { "keep", "move" }.Select(n => $"{n}-{Guid.NewGuid():N}"[..13]).ToArray();
        var (host, other) = await SingletonHostAsync(cluster);
        foreach (var name in names)
        {
            var reply = await AwaitCreatedAsync(other, new CreateLpar(name, 1, 16, PlacementPolicy.Balanced, [], other.Name));
            Assert.Equal(other.Name, reply.Definition.Node);
        }

        await host.StopAsync();
        await cluster.AwaitRemovedAsync(host.SelfAddress, Wait);

        await AwaitAssertAsync(async () =>
        {
            var list = await other.PartitionManager!.Ask<LparList>(ListLpars.Instance, TimeSpan.FromSeconds(5));
            Assert.Superset(names.ToHashSet(), list.Lpars.Select(l => l.Definition.Name).ToHashSet());
            Assert.All(list.Lpars.Where(l => names.Contains(l.Definition.Name)), l => Assert.Equal(other.Name, l.Definition.Node));
        }, Wait, TimeSpan.FromMilliseconds(250));
        Assert.True(await RunsManagerAsync(other));
    }

    [Fact]
    public async Task A_journal_that_fails_refuses_the_change_with_the_reason_and_the_manager_recovers_once_it_is_back()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        await AwaitCreatedAsync(node, new CreateLpar("before", 1, 16, PlacementPolicy.Locality, [], null));
        var journal = Path.Combine(cluster.RootDirectory, "shared", DatabaseSettings.ControlJournalFile);

        // The journal's table disappears under the running node, as when its database is lost.
        await ExecuteAsync(journal, "ALTER TABLE journal RENAME TO journal_away");
        var refused = await node.PartitionManager!.Ask<object>(new CreateLpar("during", 1, 16, PlacementPolicy.Locality, [], null), Wait);
        Assert.Contains("the control plane's journal did not record it, nothing was changed", Assert.IsType<LparRefused>(refused).Reason);
        await ExecuteAsync(journal, "ALTER TABLE journal_away RENAME TO journal");

        // The manager's supervisor starts it again; it recovers what was recorded, and only that.
        await AwaitCreatedAsync(node, new CreateLpar("after", 1, 16, PlacementPolicy.Locality, [], null));
        var list = await node.PartitionManager.Ask<LparList>(ListLpars.Instance, Wait);
        Assert.Equal(["after", "before"], list.Lpars.Select(l => l.Definition.Name).Order());
    }

    private static async Task ExecuteAsync(string file, string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(DatabaseSettings.SqliteConnection(file));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Creates once the manager has the node's resources (the firmware registers as the node starts).</summary>
    private async Task<LparCreated> AwaitCreatedAsync(ViosNode through, CreateLpar create)
    {
        LparCreated? created = null;
        await AwaitAssertAsync(async () =>
        {
            var reply = await through.PartitionManager!.Ask<object>(create, TimeSpan.FromSeconds(5));
            created = Assert.IsType<LparCreated>(reply);
        }, Wait, TimeSpan.FromMilliseconds(250));
        return created!;
    }

    private async Task<(ViosNode Host, ViosNode Other)> SingletonHostAsync(LocalCluster cluster)
    {
        var nodes = cluster.ViosNodes;
        ViosNode? host = null;
        await AwaitAssertAsync(async () =>
        {
            host = await RunsManagerAsync(nodes[0]) ? nodes[0] : await RunsManagerAsync(nodes[1]) ? nodes[1] : null;
            Assert.NotNull(host);
        }, Wait, TimeSpan.FromMilliseconds(250));
        return (host!, nodes.Single(n => n != host));
    }

    private static async Task<bool> RunsManagerAsync(ViosNode node)
    {
        try
        {
            await node.System.ActorSelection("/user/partition-manager/singleton").ResolveOne(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (ActorNotFoundException)
        {
            return false;
        }
    }
}
