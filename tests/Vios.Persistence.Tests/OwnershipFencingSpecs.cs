using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// One owner per partition on a real vios node and its SQLite cluster-wide journal: a copy of a
/// partition whose fence a newer owner raised stops at its next checkpoint write (refused by the
/// database) or at the ownership check after a freeze, logs both epochs, drops what it holds and is
/// gone; a partition whose fence still names its epoch goes on.
/// </summary>
public sealed class OwnershipFencingSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    // One ask inside a wait: a copy being stopped may swallow it, the next ask gets the answer.
    private static readonly TimeSpan Ask = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_copy_whose_fence_a_newer_owner_raised_stops_at_its_next_checkpoint_and_releases_nothing_more()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        var manager = node.PartitionManager!;
        await RunningLparAsync(node, "stale");
        Assert.Equal(1, (await manager.Ask<LparStatus>(new ShowLpar("stale"), Wait)).OwnerEpoch);
        Assert.IsType<CheckpointTaken>(await manager.Ask<object>(new TakeCheckpoint("stale", CheckpointMode.Incremental, 50), Wait));
        await AwaitAssertAsync(async () =>
        {
            var before = await manager.Ask<CheckpointStats>(new GetCheckpointStats("stale"), Wait);
            Assert.True(before.Epochs >= 3 && before.OutputsReleased > 0, $"{before.Epochs} epochs, {before.OutputsReleased} outputs released");
        }, Wait, Poll);

        var errors = CreateTestProbe(node.System);
        node.System.EventStream.Subscribe(errors.Ref, typeof(Akka.Event.Error));
        var warnings = CreateTestProbe(node.System);
        node.System.EventStream.Subscribe(warnings.Ref, typeof(Akka.Event.Warning));

        // A newer owner elsewhere raised the fence, as a failover does before it restores the journal.
        await OwnershipFences.Get(node.System).Fence.RaiseAsync(OwnerClaim.FenceKeyFor("stale"), 2);

        // The database refused the next epoch's write; the coordinator read the fence (both epochs); the partition stopped.
        warnings.FishForMessage<Akka.Event.Warning>(w => w.Message.ToString()!.Contains("stale: checkpoint epoch")
                                                          && w.Message.ToString()!.Contains(Ownership.RefusalMarker), Wait);
        errors.FishForMessage<Akka.Event.Error>(e => e.Message.ToString()!.Contains("stale: ownership lost: this copy has owner epoch 1, the fence lpar-stale is at 2"), Wait);
        var stopped = errors.FishForMessage<Akka.Event.Error>(e => e.Message.ToString()!.Contains("stale: stopped on"), Wait).Message.ToString()!;
        Assert.Matches(@"owner epoch 1 is stale, the fence is at 2; \d+ held output\(s\) dropped, none released", stopped);
        // The old copy is gone: nothing of it answers, checkpoints or releases outputs any more.
        await AwaitAssertAsync(async () =>
            Assert.Contains("is not hosted by", Assert.IsType<LparRefused>(await manager.Ask<object>(new ShowLpar("stale"), Ask)).Reason), Wait, Poll);
        Assert.IsType<LparRefused>(await manager.Ask<object>(new TakeCheckpoint("stale", CheckpointMode.Full, null), Wait));
    }

    [Fact]
    public async Task After_a_freeze_a_partition_whose_fence_moved_on_stops_without_writing_and_one_still_owned_goes_on()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        var manager = node.PartitionManager!;
        await RunningLparAsync(node, "moved-on");
        await RunningLparAsync(node, "still-mine");
        await OwnershipFences.Get(node.System).Fence.RaiseAsync(OwnerClaim.FenceKeyFor("moved-on"), 2);

        // What the pause watch sends when it finds this process was frozen.
        node.Firmware!.Tell(new CheckOwnership("this process was frozen for 12.0 s"));

        await AwaitAssertAsync(async () =>
            Assert.Contains("is not hosted by", Assert.IsType<LparRefused>(await manager.Ask<object>(new ShowLpar("moved-on"), Ask)).Reason), Wait, Poll);
        var owned = await manager.Ask<LparStatus>(new ShowLpar("still-mine"), Wait);
        Assert.Equal(LparState.Running, owned.State);
        // Its guest goes on once the fence confirmed it.
        await AwaitAssertAsync(async () =>
            Assert.True((await manager.Ask<LparStatus>(new ShowLpar("still-mine"), Wait)).Workload!.Writes > owned.Workload!.Writes + 1000), Wait, Poll);
    }

    [Fact]
    public async Task After_a_freeze_a_fence_raised_after_the_first_read_still_stops_the_copy_which_never_ran_meanwhile()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        var manager = node.PartitionManager!;
        await RunningLparAsync(node, "late-raise");
        var confirmed = CreateTestProbe(node.System);
        node.System.EventStream.Subscribe(confirmed.Ref, typeof(Akka.Event.Info));

        // The pause watch found a freeze; the new owner's raise lands a moment after the copy's first read
        // (on SQLite it waited behind the frozen process's write lock).
        node.Firmware!.Tell(new CheckOwnership("this process was frozen for 10.5 s") { AfterFreeze = true });
        await AwaitAssertAsync(async () =>
            Assert.Equal(LparState.Quiesced, (await manager.Ask<LparStatus>(new ShowLpar("late-raise"), Ask)).State), Wait, Poll);
        var held = (await manager.Ask<LparStatus>(new ShowLpar("late-raise"), Ask)).Workload!.Writes;
        await OwnershipFences.Get(node.System).Fence.RaiseAsync(OwnerClaim.FenceKeyFor("late-raise"), 2);

        // Stopped, never having gone on: no confirmation, and not one guest write while it held.
        await AwaitAssertAsync(async () =>
        {
            var reply = await manager.Ask<object>(new ShowLpar("late-raise"), Ask);
            if (reply is LparStatus status) Assert.Equal(held, status.Workload!.Writes);
            Assert.Contains("is not hosted by", Assert.IsType<LparRefused>(reply).Reason);
        }, Wait, Poll);
        Assert.DoesNotContain(confirmed.ReceiveWhile(TimeSpan.FromMilliseconds(50), m => m as Akka.Event.Info),
            i => i!.Message.ToString()!.Contains("late-raise: the fence lpar-late-raise confirms"));
    }

    private async Task RunningLparAsync(ViosNode node, string name)
    {
        await AwaitAssertAsync(async () =>
            Assert.IsType<LparCreated>(await node.PartitionManager!.Ask<object>(new CreateLpar(name, 1, 16, PlacementPolicy.Locality, [], null), Wait)),
            Wait, TimeSpan.FromMilliseconds(250));
        await node.PartitionManager!.Ask<LparStatus>(new StartLpar(name), Wait);
        await node.PartitionManager.Ask<LparStatus>(new RunWorkload(name, 50_000, 0.9, 4, Seed: 3), Wait);
        await AwaitAssertAsync(async () =>
            Assert.True((await node.PartitionManager.Ask<LparStatus>(new ShowLpar(name), Wait)).Workload!.Writes > 1000), Wait);
    }
}
