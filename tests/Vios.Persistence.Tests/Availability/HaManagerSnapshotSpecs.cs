using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests.Availability;

/// <summary>
/// The HA manager snapshots every <see cref="HaManagerActor.SnapshotEvery"/> events and cuts its
/// journal behind the snapshot (it no longer grows without bound); a new instance, in a new
/// ActorSystem, recovers the same records from the snapshot and the events after it, on both databases.
/// </summary>
public sealed class HaManagerSnapshotSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly string Id = HaManagerActor.PersistenceIdValue;
    private readonly TempDirectory _directory = new();

    [Fact]
    public Task The_journal_is_cut_after_a_snapshot_and_a_new_instance_recovers_the_same_records_on_sqlite() =>
        CutAndRecover(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public async Task The_journal_is_cut_after_a_snapshot_and_a_new_instance_recovers_the_same_records_on_postgres()
    {
        // A database of its own: the HA manager's persistence id is the same in every test run.
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await CutAndRecover(DatabaseKind.Postgres, database.ConnectionString);
    }

    private async Task CutAndRecover(DatabaseKind kind, string? connection)
    {
        // One availability record (one event) per partition: a few past the snapshot.
        var count = HaManagerActor.SnapshotEvery + 5;
        var lpars = Enumerable.Range(0, count).Select(i => HaManagerHarness.Running($"lpar-{i:000}", $"n{i % 3 + 1}")).ToList();
        var list = HaManagerHarness.List(lpars, "n1", "n2", "n3");
        var config = HaManagerHarness.Config(_directory.Path, database: kind, connection: connection);
        await DatabasePreflight.CheckAsync(DatabaseSettings.FromConfig(config));
        var tables = new Tables(kind, connection, _directory.Path);

        IReadOnlyList<AvailabilityRecord> before;
        var first = ActorSystem.Create("vios", config);
        try
        {
            var manager = first.ActorOf(HaManagerActor.Props(PartitionManager(first, list), AvailabilitySettings.Default));
            before = await AwaitRecordsAsync(manager, count);
            await AwaitAssertAsync(async () =>
            {
                Assert.Equal(1L, await tables.CountAsync("snapshot", $"persistence_id = '{Id}'"));
                // Only the events after the snapshot are left to replay.
                Assert.Equal(0L, await tables.CountAsync("journal", $"persistence_id = '{Id}' AND sequence_number <= {HaManagerActor.SnapshotEvery} AND {tables.NotDeleted}"));
                Assert.Equal((long)(count - HaManagerActor.SnapshotEvery), await tables.CountAsync("journal", $"persistence_id = '{Id}' AND {tables.NotDeleted}"));
            }, Wait, TimeSpan.FromMilliseconds(200));
        }
        finally
        {
            await first.Terminate();
        }

        var second = ActorSystem.Create("vios", config);
        try
        {
            var manager = second.ActorOf(HaManagerActor.Props(PartitionManager(second, list), AvailabilitySettings.Default));
            var after = (await manager.Ask<HaStatus>(GetHaStatus.Instance, Wait)).Records;
            Assert.Equal(Describe(before), Describe(after));
        }
        finally
        {
            await second.Terminate();
        }
    }

    private IActorRef PartitionManager(ActorSystem system, Actors.Partitions.LparList list)
    {
        var probe = CreateTestProbe(system);
        probe.SetAutoPilot(new ScriptedPartitionManager(TestActor) { List = list });
        return probe.Ref;
    }

    private static IEnumerable<string> Describe(IEnumerable<AvailabilityRecord> records) =>
        records.Select(r => $"{r.Lpar} on {r.Node}, consistency {r.ConsistencyNode}, boot {r.BootNode}, {r.Failures.Count} failures").Order(StringComparer.Ordinal);

    private async Task<IReadOnlyList<AvailabilityRecord>> AwaitRecordsAsync(IActorRef manager, int count)
    {
        IReadOnlyList<AvailabilityRecord> records = [];
        await AwaitAssertAsync(async () =>
        {
            records = (await manager.Ask<HaStatus>(GetHaStatus.Instance, Wait)).Records;
            Assert.Equal(count, records.Count);
        }, Wait, TimeSpan.FromMilliseconds(200));
        return records;
    }

    /// <summary>The cluster-wide journal and snapshot tables, read directly.</summary>
    private sealed record Tables(DatabaseKind Kind, string? Connection, string DataDirectory)
    {
        public string NotDeleted => Kind == DatabaseKind.Postgres ? "NOT deleted" : "deleted = 0";

        public async Task<long> CountAsync(string table, string where)
        {
            var sql = $"SELECT COUNT(*) FROM {table} WHERE {where}";
            if (Kind == DatabaseKind.Postgres)
            {
                await using var postgres = new Npgsql.NpgsqlConnection(Connection);
                await postgres.OpenAsync();
                await using var query = new Npgsql.NpgsqlCommand(sql, postgres);
                return Convert.ToInt64(await query.ExecuteScalarAsync());
            }
            var file = Path.Combine(DataDirectory, "shared", table == "journal" ? "cluster-journal.db" : "cluster-snapshots.db");
            await using var sqlite = new Microsoft.Data.Sqlite.SqliteConnection(DatabaseSettings.SqliteConnection(file));
            await sqlite.OpenAsync();
            await using var command = sqlite.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(await command.ExecuteScalarAsync());
        }
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}
