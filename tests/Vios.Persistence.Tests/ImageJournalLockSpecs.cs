using Akka.Actor;
using Microsoft.Data.Sqlite;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// Issue 19, point 2: a checkpoint image being written never holds the control plane. The managers'
/// events go to their own journal (on SQLite its own file, so its own write lock), and the image to
/// the cluster-wide journal. The spec holds the cluster-wide journal's write lock from another
/// connection, as a long image write would, and asks both managers to record a change: both are
/// recorded and answered while the image cannot write a byte, and the image completes once the lock
/// is released. With one journal for both, the managers' writes would queue behind the lock.
/// (A large image is deterministic only this way: how far a real one got when the managers answered
/// depends on the machine's load. Bounded writes are <c>BoundedImageWriteSpecs</c>.)
/// </summary>
public sealed class ImageJournalLockSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    // Below the journal's call timeout (10 s): the image's write waits for the lock and then succeeds.
    private static readonly TimeSpan AnswerWhileLocked = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task The_managers_record_changes_while_the_image_journal_is_locked()
    {
        // Two vios nodes: an availability record needs a failover image node other than the partition's own.
        await using var cluster = await TestCluster.StartAsync(viosNodes: 2);
        var node = cluster.ViosNodes[0];
        var manager = node.PartitionManager!;
        await AwaitReplyAsync<LparCreated>(manager, new CreateLpar("img", 1, 64, PlacementPolicy.Locality, [], node.Name));
        await manager.Ask<LparStatus>(new StartLpar("img"), Wait);
        await manager.Ask<LparStatus>(new RunWorkload("img", 20_000, 0.0, 4, Seed: 3), Wait);
        await AwaitAssertAsync(async () =>
            Assert.True((await manager.Ask<LparStatus>(new ShowLpar("img"), Wait)).DirtyPages >= 256), Wait, TimeSpan.FromMilliseconds(100));
        await manager.Ask<LparStatus>(new RunWorkload("img", 0, 0.0, 1, Seed: 3), Wait);
        // The HA manager has its record of 'img' (its survey declares it), so a requirement can be recorded.
        await AwaitAssertAsync(async () => Assert.IsType<AvailabilityRecord>(await node.HaManager!.Ask<object>(new GetFailures("img"), Wait)), Wait);

        var journal = Path.Combine(cluster.RootDirectory, "shared", "cluster-journal.db");
        Task<object> image;
        await using (var holder = new SqliteConnection($"Data Source={journal};Pooling=False;Default Timeout=30"))
        {
            await holder.OpenAsync();
            await using (var begin = holder.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                await begin.ExecuteNonQueryAsync();
            }

            // Asked through the node's own ActorSystem (it has remoting): the singletons may run on the
            // other node, and a reply to a probe of the TestKit's local system would be lost on the way.
            image = manager.Ask<object>(new TakeCheckpoint("img", CheckpointMode.Full, null), Wait);
            var created = manager.Ask<object>(new CreateLpar("small", 1, 16, PlacementPolicy.Locality, [], null), AnswerWhileLocked);
            var required = node.HaManager!.Ask<object>(new SetAvailabilityRequirement("img", TimeSpan.FromSeconds(5), FullPerformance: false), AnswerWhileLocked);

            var create = await created;
            Assert.True(create is LparCreated, (create as LparRefused)?.Reason ?? create.ToString());
            var choice = await required;
            Assert.True(choice is StandbyChosen, (choice as HaRefused)?.Reason ?? choice.ToString());
            // Nothing of the image is in its journal yet: the managers did not wait for it.
            Assert.Equal(0L, await ChunkRowsAsync(journal, "lpar-img"));
            Assert.False(image.IsCompleted);

            await using var rollback = holder.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }

        // The image waited for the lock, not failed: it commits whole and restores verified.
        var taken = await image;
        Assert.True(taken is CheckpointTaken { Kind: ImageKind.Full }, taken.ToString());
        Assert.True(await ChunkRowsAsync(journal, "lpar-img") > 0);
        await AwaitReplyAsync<LparCreated>(manager, new CreateLpar("img-copy", 1, 64, PlacementPolicy.Locality, [], null));
        var restored = await AwaitReplyAsync<CheckpointRestored>(manager, new RestoreCheckpoint("img-copy", "img", null));
        Assert.True(restored.Verified);
        Assert.Equal(((CheckpointTaken)taken).MemoryChecksum, (ulong?)restored.MemoryChecksum);
    }

    private static async Task<long> ChunkRowsAsync(string file, string persistenceId)
    {
        await using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False;Default Timeout=5");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM journal WHERE persistence_id = $id AND manifest = 'checkpoint.chunk.v2'";
        command.Parameters.AddWithValue("$id", persistenceId);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>Asks until the reply is a <typeparamref name="T"/>: the node's firmware may still be registering.</summary>
    private async Task<T> AwaitReplyAsync<T>(IActorRef manager, object message)
    {
        T? result = default;
        await AwaitAssertAsync(async () => result = Assert.IsType<T>(await manager.Ask<object>(message, Wait)), Wait, TimeSpan.FromMilliseconds(250));
        return result!;
    }
}
