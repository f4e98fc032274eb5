using Akka.Actor;
using Akka.Configuration;
using Vios.Actors;
using Vios.Actors.Cluster;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// The cluster-wide journal's identity (persistence id <c>cluster-identity</c>) on real SQLite and
/// PostgreSQL journals shared by two ActorSystems: created once, and of two nodes racing to create
/// it the loser of the journal's unique key re-reads and adopts the winner's.
/// </summary>
public sealed class ClusterIdentitySpecs : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _directory = new();
    private readonly List<ActorSystem> _systems = [];

    /// <summary>An ActorSystem configured as vios node <paramref name="name"/> is, its cluster-wide journal in <paramref name="shared"/>.</summary>
    private ActorSystem System(string name, string shared, DatabaseKind database, string? connection)
    {
        // As the node's start-up check (DatabasePreflight) does before the journal opens its file.
        Directory.CreateDirectory(shared);
        var config = NodeConfigBuilder.Build(new NodeOptions
        {
            DataDirectory = _directory.Sub(name),
            SharedDirectory = shared,
            Database = database,
            DatabaseConnection = connection,
            Environment = new Dictionary<string, string?>(),
        });
        var system = ActorSystem.Create("vios", ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loglevel = WARNING").WithFallback(config));
        _systems.Add(system);
        return system;
    }

    [Fact]
    public Task Two_nodes_on_one_sqlite_journal_racing_to_create_it_end_up_with_one_identity() =>
        Racing(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public async Task Two_nodes_on_one_postgres_database_racing_to_create_it_end_up_with_one_identity()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await Racing(DatabaseKind.Postgres, database.ConnectionString);
    }

    [Fact]
    public Task The_loser_of_the_unique_key_on_sqlite_re_reads_and_adopts_the_winners_identity() =>
        LoserAdopts(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public async Task The_loser_of_the_unique_key_on_postgres_re_reads_and_adopts_the_winners_identity()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await LoserAdopts(DatabaseKind.Postgres, database.ConnectionString);
    }

    [Fact]
    public async Task The_identity_is_written_once_and_read_back_by_later_starts()
    {
        var shared = _directory.Sub("shared");
        var created = await ClusterIdentityLoader.LoadAsync(System("a", shared, DatabaseKind.Sqlite, null), "vios-a", Timeout);
        var again = await ClusterIdentityLoader.LoadAsync(System("b", shared, DatabaseKind.Sqlite, null), "vios-b", Timeout);
        var elsewhere = await ClusterIdentityLoader.LoadAsync(System("c", _directory.Sub("other"), DatabaseKind.Sqlite, null), "vios-c", Timeout);

        Assert.Equal(created, again);
        Assert.Equal("vios-a", again.CreatedBy);
        Assert.NotEqual(created.Id, elsewhere.Id);
    }

    private async Task Racing(DatabaseKind database, string? connection)
    {
        var shared = _directory.Sub("shared");
        var a = System("a", shared, database, connection);
        var b = System("b", shared, database, connection);

        var identities = await Task.WhenAll(
            ClusterIdentityLoader.LoadAsync(a, "vios-a", Timeout),
            ClusterIdentityLoader.LoadAsync(b, "vios-b", Timeout));

        Assert.Equal(identities[0], identities[1]);
    }

    /// <summary>The race made certain: b's actor has recovered an empty journal before a writes, then b writes too.</summary>
    private async Task LoserAdopts(DatabaseKind database, string? connection)
    {
        var shared = _directory.Sub("shared");
        var a = System("a", shared, database, connection);
        var b = System("b", shared, database, connection);
        var late = b.ActorOf(ClusterIdentityActor.Props());
        Assert.Null((await late.Ask<CurrentClusterIdentity>(GetClusterIdentity.Instance, Timeout)).Identity);

        var winner = await ClusterIdentityLoader.LoadAsync(a, "vios-a", Timeout);

        // b's write of sequence number 1 is refused by the journal's unique key: its actor stops.
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            b.AskWhileAliveAsync<ClusterIdentityLoaded>(late, new LoadClusterIdentity("vios-b"), Timeout));
        Assert.Contains("stopped before it replied", refused.Message);
        // Loading again recovers the winner's identity.
        Assert.Equal(winner, await ClusterIdentityLoader.LoadAsync(b, "vios-b", Timeout));
    }

    public void Dispose()
    {
        foreach (var system in _systems) system.Terminate().Wait(TimeSpan.FromSeconds(10));
        _directory.Dispose();
    }
}
