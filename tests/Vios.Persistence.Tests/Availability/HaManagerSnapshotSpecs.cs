using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests.Availability;

/// <summary>
/// The HA manager snapshots every <see cref="HaManagerActor.SnapshotEvery"/> events and cuts its
/// journal behind the snapshot (it no longer grows without bound); a new instance recovers the same
/// records from the snapshot and the events after it, on the real SQLite cluster-wide journal.
/// </summary>
public sealed class HaManagerSnapshotSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _directory;

    public HaManagerSnapshotSpecs()
        : this(new TempDirectory())
    {
    }

    private HaManagerSnapshotSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path)) => _directory = directory;

    [Fact]
    public async Task The_journal_is_cut_after_a_snapshot_and_a_new_instance_recovers_the_same_records()
    {
        // One availability record (one event) per partition: a few past the snapshot.
        var count = HaManagerActor.SnapshotEvery + 5;
        var lpars = Enumerable.Range(0, count).Select(i => HaManagerHarness.Running($"lpar-{i:000}", $"n{i % 3 + 1}")).ToList();
        var script = new ScriptedPartitionManager(TestActor) { List = HaManagerHarness.List(lpars, "n1", "n2", "n3") };
        var partitions = CreateTestProbe();
        partitions.SetAutoPilot(script);
        var first = Sys.ActorOf(HaManagerActor.Props(partitions.Ref, AvailabilitySettings.Default));

        var before = await AwaitRecordsAsync(first, count);
        var journal = Path.Combine(_directory.Path, "shared", "cluster-journal.db");
        var snapshots = Path.Combine(_directory.Path, "shared", "cluster-snapshots.db");
        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(1L, await ScalarAsync(snapshots, $"SELECT COUNT(*) FROM snapshot WHERE persistence_id = '{HaManagerActor.PersistenceIdValue}'"));
            // Only the events after the snapshot are left to replay.
            Assert.Equal(0L, await ScalarAsync(journal,
                $"SELECT COUNT(*) FROM journal WHERE persistence_id = '{HaManagerActor.PersistenceIdValue}' AND sequence_number <= {HaManagerActor.SnapshotEvery} AND deleted = 0"));
            Assert.Equal((long)(count - HaManagerActor.SnapshotEvery), await ScalarAsync(journal,
                $"SELECT COUNT(*) FROM journal WHERE persistence_id = '{HaManagerActor.PersistenceIdValue}' AND deleted = 0"));
        }, Wait, TimeSpan.FromMilliseconds(200));

        Watch(first);
        first.Tell(PoisonPill.Instance);
        await ExpectTerminatedAsync(first, Wait);
        var second = Sys.ActorOf(HaManagerActor.Props(partitions.Ref, AvailabilitySettings.Default));

        var after = (await second.Ask<HaStatus>(GetHaStatus.Instance, Wait)).Records;
        Assert.Equal(Describe(before), Describe(after));
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

    private static async Task<long> ScalarAsync(string file, string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(DatabaseSettings.SqliteConnection(file));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}
