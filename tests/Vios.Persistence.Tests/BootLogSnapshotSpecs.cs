using Akka.Actor;
using Akka.Configuration;
using Vios.Actors.Cluster;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// Past <c>SnapshotEvery</c> boots the boot log recovers from a snapshot plus the events after it,
/// through the shipped persistence configuration, on both databases.
/// </summary>
public sealed class BootLogSnapshotSpecs : IDisposable
{
    private const int Boots = 53;
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _directory = new();

    [Fact]
    public Task Recovers_from_snapshot_and_later_events_on_sqlite() => RecoversFromSnapshot(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public Task Recovers_from_snapshot_and_later_events_on_postgres() =>
        RecoversFromSnapshot(DatabaseKind.Postgres, TestPostgres.RequiredConnectionString);

    private async Task RecoversFromSnapshot(DatabaseKind database, string? connection)
    {
        var nodeName = $"snap-{Guid.NewGuid():N}"[..17];
        var config = LocalConfig(database, connection);
        await DatabasePreflight.CheckAsync(DatabaseSettings.FromConfig(config));

        var system = ActorSystem.Create("vios", config);
        var log = system.ActorOf(NodeBootLogActor.Props(nodeName));
        for (var i = 1; i <= Boots; i++)
        {
            var recorded = await log.Ask<BootRecorded>(new RecordBoot($"akka.tcp://vios@10.0.0.1:{4000 + i}", DateTimeOffset.UtcNow), AskTimeout);
            Assert.Equal(i, recorded.Incarnation);
        }
        await system.Terminate();

        var restarted = ActorSystem.Create("vios", config);
        try
        {
            var history = await restarted.ActorOf(NodeBootLogActor.Props(nodeName))
                .Ask<NodeBootHistory>(GetBootHistory.Instance, AskTimeout);

            Assert.Equal(Boots, history.BootCount);
            Assert.Equal(NodeBootHistory.RecentLimit, history.RecentBoots.Count);
            Assert.Equal($"akka.tcp://vios@10.0.0.1:{4000 + Boots}", history.LastBoot!.Address);
        }
        finally
        {
            await restarted.Terminate();
        }
    }

    private Config LocalConfig(DatabaseKind database, string? connection) =>
        ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loggers = []\nakka.stdout-loglevel = OFF")
            .WithFallback(NodeConfigBuilder.Build(new NodeOptions
            {
                DataDirectory = _directory.Path,
                // In the test's own directory, not the temp folder beside it that every test run shares.
                SharedDirectory = System.IO.Path.Combine(_directory.Path, "shared"),
                Database = database,
                DatabaseConnection = connection,
                Environment = new Dictionary<string, string?>(),
            }));

    public void Dispose() => _directory.Dispose();
}
