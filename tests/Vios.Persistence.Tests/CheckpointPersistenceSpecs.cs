using Akka.Actor;
using Microsoft.Data.Sqlite;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// Checkpoint images in the cluster-wide journal: restored byte for byte after the whole cluster is
/// stopped and started again (SQLite and PostgreSQL); a corrupt stored chunk is refused by name; a
/// journal that fails during an epoch fails that epoch only.
/// </summary>
public sealed class CheckpointPersistenceSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public Task Images_restore_byte_for_byte_after_a_full_restart_on_sqlite() => RestoresAfterRestart(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public Task Images_restore_byte_for_byte_after_a_full_restart_on_postgres() =>
        RestoresAfterRestart(DatabaseKind.Postgres, TestPostgres.RequiredConnectionString);

    private async Task RestoresAfterRestart(DatabaseKind database, string? connection)
    {
        var options = TestCluster.Options(database, connection) with { DeleteOnDispose = false };
        var name = $"img-{Guid.NewGuid():N}"[..12];
        string dataDirectory;
        CheckpointTaken last;
        await using (var cluster = await LocalCluster.StartAsync(options, 1))
        {
            var node = cluster.ViosNodes[0];
            dataDirectory = node.DataDirectory;
            await RunningLparAsync(node, name);
            await Take(node, name, CheckpointMode.Full);
            await Take(node, name, CheckpointMode.Incremental);
            last = await Take(node, name, CheckpointMode.Incremental);
            Assert.Equal(ImageKind.Delta, last.Kind);
            Assert.NotNull(last.MemoryChecksum);
        }

        await using (var restarted = LocalCluster.Create(options with { DeleteOnDispose = true }))
        {
            await restarted.StartLighthouseAsync();
            var node = await restarted.StartViosNodeAsync(dataDirectory);
            var restored = await AwaitReplyAsync<CheckpointRestored>(node, new RestoreCheckpoint(name, name, null));

            Assert.Equal(last.Epoch, restored.Epoch);
            Assert.Equal(last.MemoryChecksum, restored.MemoryChecksum);
            Assert.True(restored.Verified);
            var status = await node.PartitionManager!.Ask<LparStatus>(new ShowLpar(name), Wait);
            Assert.Equal(LparState.Running, status.State);
        }
    }

    [Fact]
    public async Task A_corrupt_stored_chunk_is_refused_by_name_and_the_previous_good_epoch_restores()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        await RunningLparAsync(node, "victim");
        await Take(node, "victim", CheckpointMode.Full);
        var good = await Take(node, "victim", CheckpointMode.Incremental);
        await Take(node, "victim", CheckpointMode.Incremental);
        await node.PartitionManager!.Ask<LparStatus>(new StopLpar("victim"), Wait);

        var journal = Path.Combine(cluster.RootDirectory, "shared", "cluster-journal.db");
        var seqNr = await FlipLastByteOfLastChunkAsync(journal, "lpar-victim");

        var refused = await node.PartitionManager.Ask<object>(new RestoreCheckpoint("victim", "victim", null), Wait);
        var reason = Assert.IsType<LparRefused>(refused).Reason;
        Assert.Contains($"epoch {good.Epoch + 1} (journal sequence number {seqNr}) fails its checksum", reason);
        Assert.Contains($"The last good image before it is epoch {good.Epoch} (restore it with --epoch {good.Epoch})", reason);

        var restored = await node.PartitionManager.Ask<object>(new RestoreCheckpoint("victim", "victim", good.Epoch), Wait);
        Assert.True(Assert.IsType<CheckpointRestored>(restored).Verified);
    }

    [Fact]
    public async Task Chunks_stored_under_the_version_1_manifest_still_restore_byte_for_byte()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        await RunningLparAsync(node, "elder");
        await Take(node, "elder", CheckpointMode.Full);
        var last = await Take(node, "elder", CheckpointMode.Incremental);
        await node.PartitionManager!.Ask<LparStatus>(new StopLpar("elder"), Wait);

        // As a release before the little-endian frame numbers stored them (the bytes are the same on this host).
        var journal = Path.Combine(cluster.RootDirectory, "shared", "cluster-journal.db");
        await ExecuteAsync(journal, $"UPDATE journal SET manifest = '{ImageChunkLayout.ManifestVersion1}' WHERE manifest = '{ImageChunkLayout.Manifest}'");

        var restored = await AwaitReplyAsync<CheckpointRestored>(node, new RestoreCheckpoint("elder", "elder", null));
        Assert.Equal(last.Epoch, restored.Epoch);
        Assert.Equal(last.MemoryChecksum, restored.MemoryChecksum);
        Assert.True(restored.Verified);
    }

    [Fact]
    public async Task A_journal_that_fails_during_an_epoch_fails_that_epoch_the_partition_keeps_running_and_the_next_one_is_full()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        await RunningLparAsync(node, "steady");
        await Take(node, "steady", CheckpointMode.Full);
        var journal = Path.Combine(cluster.RootDirectory, "shared", "cluster-journal.db");

        await ExecuteAsync(journal, "ALTER TABLE journal RENAME TO journal_away");
        var failed = await node.PartitionManager!.Ask<object>(new TakeCheckpoint("steady", CheckpointMode.Incremental, null), Wait);
        Assert.Contains("checkpoint epoch 2 failed", Assert.IsType<LparRefused>(failed).Reason);
        Assert.Equal(LparState.Running, (await node.PartitionManager.Ask<LparStatus>(new ShowLpar("steady"), Wait)).State);
        await ExecuteAsync(journal, "ALTER TABLE journal_away RENAME TO journal");

        var next = await AwaitReplyAsync<CheckpointTaken>(node, new TakeCheckpoint("steady", CheckpointMode.Incremental, null));
        Assert.Equal(ImageKind.Full, next.Kind);
        var stats = await node.PartitionManager.Ask<CheckpointStats>(new GetCheckpointStats("steady"), Wait);
        Assert.True(stats.FailedEpochs >= 1);
        Assert.Contains("the journal did not record epoch 2", stats.LastFailure);
        var restored = await AwaitReplyAsync<CheckpointRestored>(node, new RestoreCheckpoint("steady-copy", "steady", null), create: "steady-copy");
        Assert.True(restored.Verified);
    }

    private async Task RunningLparAsync(ViosNode node, string name)
    {
        await AwaitReplyAsync<LparCreated>(node, new CreateLpar(name, 1, 16, PlacementPolicy.Locality, [], null));
        await node.PartitionManager!.Ask<LparStatus>(new StartLpar(name), Wait);
        await node.PartitionManager.Ask<LparStatus>(new RunWorkload(name, 50_000, 0.9, 4, Seed: 3), Wait);
        await AwaitAssertAsync(async () =>
            Assert.True((await node.PartitionManager.Ask<LparStatus>(new ShowLpar(name), Wait)).Workload!.Writes > 1000), Wait);
    }

    private static async Task<CheckpointTaken> Take(ViosNode node, string name, CheckpointMode mode)
    {
        var reply = await node.PartitionManager!.Ask<object>(new TakeCheckpoint(name, mode, null), Wait);
        return reply as CheckpointTaken ?? throw new Xunit.Sdk.XunitException($"checkpoint refused: {(reply as LparRefused)?.Reason}");
    }

    /// <summary>Asks until the reply is a <typeparamref name="T"/>: the node's firmware may still be registering.</summary>
    private async Task<T> AwaitReplyAsync<T>(ViosNode node, object message, string? create = null)
    {
        T? result = default;
        if (create is not null) await AwaitReplyAsync<LparCreated>(node, new CreateLpar(create, 1, 16, PlacementPolicy.Locality, [], null));
        await AwaitAssertAsync(async () => result = Assert.IsType<T>(await node.PartitionManager!.Ask<object>(message, Wait)), Wait,
            TimeSpan.FromMilliseconds(250));
        return result!;
    }

    /// <summary>Flips the last byte of the newest chunk row of <paramref name="persistenceId"/>: page data, under the checksum.</summary>
    private static async Task<long> FlipLastByteOfLastChunkAsync(string file, string persistenceId)
    {
        await using var connection = new SqliteConnection(DatabaseSettings.SqliteConnection(file));
        await connection.OpenAsync();
        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT sequence_number, message FROM journal WHERE persistence_id = $id AND manifest = 'checkpoint.chunk.v2' ORDER BY sequence_number DESC LIMIT 1";
        select.Parameters.AddWithValue("$id", persistenceId);
        long seqNr;
        byte[] message;
        await using (var reader = await select.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            seqNr = reader.GetInt64(0);
            message = (byte[])reader[1];
        }
        message[^1] ^= 0x5A;
        await using var update = connection.CreateCommand();
        update.CommandText = "UPDATE journal SET message = $message WHERE persistence_id = $id AND sequence_number = $seq";
        update.Parameters.AddWithValue("$message", message);
        update.Parameters.AddWithValue("$id", persistenceId);
        update.Parameters.AddWithValue("$seq", seqNr);
        Assert.Equal(1, await update.ExecuteNonQueryAsync());
        return seqNr;
    }

    private static async Task ExecuteAsync(string file, string sql)
    {
        await using var connection = new SqliteConnection(DatabaseSettings.SqliteConnection(file));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
