using Akka.Actor;
using Microsoft.Data.Sqlite;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// Issue 19, point 2: a large checkpoint image being written never holds the control plane. The
/// image goes to the cluster-wide journal in bounded writes, the managers' events to their own
/// journal (on SQLite its own file and write lock), so an `lpar create` and an `ha policy` sent while
/// the image is half written are recorded and answered before its commit. With one journal and one
/// write for the whole image, nothing of the image is in the journal until all of it is, and the
/// managers' writes queue behind it.
/// </summary>
public sealed class LargeImageSpecs : Akka.TestKit.Xunit2.TestKit
{
    // Generous: on a loaded 2-core machine a 512 MiB capture and its writes take a while; what is asserted
    // is the order of the answers, not how soon they come.
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);
    private const long MemoryMb = 512;
    private const int MinimumPages = 40_960;
    private static readonly TimeSpan TouchWait = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task The_managers_record_changes_while_a_large_image_is_half_written()
    {
        // Two vios nodes: an availability record needs a failover image node other than the partition's own.
        await using var cluster = await TestCluster.StartAsync(viosNodes: 2);
        var node = cluster.ViosNodes[0];
        var manager = node.PartitionManager!;
        await AwaitReplyAsync<LparCreated>(manager, new CreateLpar("big", 2, MemoryMb, PlacementPolicy.Locality, [], node.Name));
        await manager.Ask<LparStatus>(new StartLpar("big"), Wait);
        // Uniform writes over the 512 MiB: a full image of at least 160 MiB (40 writes of 4 MiB), however
        // slowly a loaded machine runs the workload.
        await manager.Ask<LparStatus>(new RunWorkload("big", 2_000_000, 0.0, 8, Seed: 5), Wait);
        await AwaitAssertAsync(async () =>
            Assert.True((await manager.Ask<LparStatus>(new ShowLpar("big"), Wait)).DirtyPages >= MinimumPages), TouchWait, TimeSpan.FromMilliseconds(250));
        await manager.Ask<LparStatus>(new RunWorkload("big", 0, 0.0, 1, Seed: 5), Wait);

        // The HA manager has its record of 'big' (the survey declares it), so a requirement can be recorded.
        await AwaitAssertAsync(async () => Assert.IsType<AvailabilityRecord>(await node.HaManager!.Ask<object>(new GetFailures("big"), Wait)), Wait);

        var image = CreateTestProbe();
        manager.Tell(new TakeCheckpoint("big", CheckpointMode.Full, null), image.Ref);
        var journal = Path.Combine(cluster.RootDirectory, "shared", "cluster-journal.db");
        await AwaitAssertAsync(async () => Assert.True(await ChunkRowsAsync(journal, "lpar-big") > 0), Wait, TimeSpan.FromMilliseconds(20));

        // Both managers are asked at once while the image is being written.
        var created = CreateTestProbe();
        var required = CreateTestProbe();
        manager.Tell(new CreateLpar("small", 1, 16, PlacementPolicy.Locality, [], null), created.Ref);
        node.HaManager!.Tell(new SetAvailabilityRequirement("big", TimeSpan.FromSeconds(5), FullPerformance: false), required.Ref);
        var create = created.ExpectMsg<object>(Wait);
        Assert.True(create is LparCreated, (create as LparRefused)?.Reason);
        var choice = required.ExpectMsg<object>(Wait);
        Assert.True(choice is StandbyChosen, (choice as HaRefused)?.Reason);
        // Both were recorded and answered while the image was still being written: its commit comes after them.
        var written = await ChunkRowsAsync(journal, "lpar-big");
        var taken = image.ExpectMsg<object>(Wait);
        Assert.True(taken is CheckpointTaken { Kind: ImageKind.Full } full && full.Pages >= MinimumPages, taken.ToString());
        var chunks = (((CheckpointTaken)taken).Pages + ImageChunker.PagesPerChunk - 1) / ImageChunker.PagesPerChunk;
        Assert.True(written < chunks * 9 / 10, $"{written} of the image's {chunks} chunks were written when the managers answered");

        // The image restores whole, though it was written in many writes.
        var restored = await AwaitReplyAsync<CheckpointRestored>(manager, new RestoreCheckpoint("big-copy", "big", null), create: "big-copy");
        Assert.True(restored.Verified);
    }

    private static async Task<long> ChunkRowsAsync(string file, string persistenceId)
    {
        if (!File.Exists(file)) return 0;
        await using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False;Default Timeout=5");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM journal WHERE persistence_id = $id AND manifest = 'checkpoint.chunk'";
        command.Parameters.AddWithValue("$id", persistenceId);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>Asks until the reply is a <typeparamref name="T"/>: the node's firmware may still be registering.</summary>
    private async Task<T> AwaitReplyAsync<T>(IActorRef manager, object message, string? create = null)
    {
        if (create is not null) await AwaitReplyAsync<LparCreated>(manager, new CreateLpar(create, 2, MemoryMb, PlacementPolicy.Locality, [], null));
        T? result = default;
        await AwaitAssertAsync(async () => result = Assert.IsType<T>(await manager.Ask<object>(message, Wait)), Wait, TimeSpan.FromMilliseconds(250));
        return result!;
    }
}
