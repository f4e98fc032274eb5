using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>S23 frequent checkpointing between two vios nodes of the shared cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ReplicationSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [Fact]
    public async Task A_replica_on_another_node_tracks_the_primary_through_100_epochs_equal_at_every_commit()
    {
        var (primary, backup) = (cluster.Cluster.ViosNodes[0], cluster.Cluster.ViosNodes[1]);
        var name = NewName("pair");
        await RunningLparAsync(primary, name);

        // The backup's firmware may still be registering with the manager in a cluster that has just started.
        await AwaitAssertAsync(async () =>
        {
            var started = await primary.PartitionManager!.Ask<object>(new ReplicateCheckpoints(name, backup.Name, 10, Verify: true, null), Wait);
            Assert.True(started is CheckpointStats, (started as LparRefused)?.Reason);
            Assert.StartsWith($"replicating to {backup.Name} every 10 ms", ((CheckpointStats)started).Mode);
        }, Wait, TimeSpan.FromMilliseconds(250));

        // The backup's firmware registering again (as after a partition manager moves) leaves its replicas alone.
        await AwaitAssertAsync(async () =>
            Assert.True((await primary.PartitionManager!.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait)).Epochs >= 10), Wait);
        backup.System.ActorSelection("/user/firmware").Tell(PartitionManagerOnline.Instance);

        // Every commit carried the primary's memory checksum at its stun; the replica checked its copy against it.
        await AwaitAssertAsync(async () =>
        {
            var stats = await primary.PartitionManager!.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait);
            Assert.True(stats.Epochs >= 100, $"{stats.Epochs} epochs so far");
        }, Wait, TimeSpan.FromMilliseconds(200));
        var replica = await ReplicaStatusAsync(primary, backup, name);
        var stopped = await primary.PartitionManager!.Ask<CheckpointStats>(new StopCheckpointing(name), Wait);

        Assert.Equal(0, replica.Mismatches);
        Assert.Null(stopped.Note);
        Assert.True(replica.VerifiedEpochs >= 100, $"{replica.VerifiedEpochs} epochs verified");
        Assert.Equal(0, stopped.FailedEpochs);
        Assert.True(stopped.DiffHitRate > 0, "no page was sent as a diff");
        Assert.True(stopped.BytesSent < stopped.DirtyBytes, $"{stopped.BytesSent} bytes sent for {stopped.DirtyBytes} dirty");
        Assert.True(stopped.OutputsReleased > 0);
        Assert.Equal(0, stopped.OutputsHeld);
    }

    [Fact]
    public async Task A_replica_that_goes_away_drops_the_pair_back_to_persisted_checkpoints_and_says_so()
    {
        var (primary, backup) = (cluster.Cluster.ViosNodes[1], cluster.Cluster.ViosNodes[2]);
        var name = NewName("drop");
        await RunningLparAsync(primary, name);
        await AwaitAssertAsync(async () =>
            Assert.IsType<CheckpointStats>(await primary.PartitionManager!.Ask<object>(new ReplicateCheckpoints(name, backup.Name, 20, Verify: false, null), Wait)),
            Wait, TimeSpan.FromMilliseconds(250));
        await AwaitAssertAsync(async () =>
            Assert.True((await primary.PartitionManager!.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait)).Epochs >= 5), Wait);

        backup.System.ActorSelection("/user/firmware").Tell(new StopReplica(name));

        await AwaitAssertAsync(async () =>
        {
            var stats = await primary.PartitionManager.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait);
            Assert.Equal($"the replica on {backup.Name} is gone: back to persisted checkpoints", stats.Note);
            Assert.Equal("incremental every 20 ms, persisted", stats.Mode);
        }, Wait, TimeSpan.FromMilliseconds(200));
        var before = (await primary.PartitionManager.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait)).Epochs;
        await AwaitAssertAsync(async () =>
            Assert.True((await primary.PartitionManager.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait)).Epochs >= before + 3), Wait);
        await primary.PartitionManager.Ask<CheckpointStats>(new StopCheckpointing(name), Wait);
        var list = await primary.PartitionManager.Ask<CheckpointList>(new ListCheckpoints(name), Wait);
        Assert.NotEmpty(list.Epochs);
    }

    private async Task RunningLparAsync(ViosNode node, string name)
    {
        await AwaitAssertAsync(async () =>
            Assert.IsType<LparCreated>(await node.PartitionManager!.Ask<object>(new CreateLpar(name, 1, 16, PlacementPolicy.Locality, [], node.Name), Wait)),
            Wait, TimeSpan.FromMilliseconds(250));
        await node.PartitionManager!.Ask<LparStatus>(new StartLpar(name), Wait);
        await node.PartitionManager.Ask<LparStatus>(new RunWorkload(name, 20_000, 0.9, 4, Seed: 11), Wait);
    }

    private static async Task<ReplicaStatus> ReplicaStatusAsync(ViosNode from, ViosNode backup, string name)
    {
        var firmware = from.System.ActorSelection(new RootActorPath(backup.SelfAddress) / "user" / "firmware");
        return await firmware.Ask<ReplicaStatus>(new GetReplicaStatus(name), Wait);
    }
}
