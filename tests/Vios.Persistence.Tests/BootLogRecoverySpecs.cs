using Akka.Actor;
using Vios.Actors.Cluster;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// A persistent actor (the node's boot log) recovers its state after its node's ActorSystem is
/// stopped and started again on the same data, on SQLite and on PostgreSQL.
/// </summary>
public sealed class BootLogRecoverySpecs
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public Task Boot_log_recovers_after_restart_on_sqlite() => RecoversAfterRestart(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public Task Boot_log_recovers_after_restart_on_postgres() =>
        RecoversAfterRestart(DatabaseKind.Postgres, TestPostgres.RequiredConnectionString);

    private static async Task RecoversAfterRestart(DatabaseKind database, string? connection)
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1, database, connection);
        var first = cluster.ViosNodes[0];
        var firstAddress = first.SelfAddress.ToString();
        Assert.Equal(1, first.Incarnation);

        await first.StopAsync();
        var second = await cluster.StartViosNodeAsync(first.DataDirectory);

        Assert.Equal(first.Name, second.Name);
        Assert.Equal(2, second.Incarnation);
        var history = await second.BootLog!.Ask<NodeBootHistory>(GetBootHistory.Instance, AskTimeout);
        Assert.Equal(2, history.BootCount);
        Assert.Equal([firstAddress, second.SelfAddress.ToString()], history.RecentBoots.Select(b => b.Address));
    }
}
