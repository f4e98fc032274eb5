using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests;

/// <summary>
/// One writer per singleton journal (issue 12, point 3): each incarnation of the partition manager
/// and of the HA manager advances its fence in the control plane's database before it recovers and
/// writes under that epoch. Once a newer incarnation has advanced the fence (as the successor of a
/// manager on a frozen node does), the older one's next write is refused by the database, whoever
/// asked hears why, and the manager starts again above the fence and recovers what was recorded,
/// and only that. On the real SQLite control journal and on PostgreSQL.
/// </summary>
public sealed class SingletonFencingSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    [Fact]
    public Task A_superseded_manager_cannot_write_and_its_successor_recovers_what_was_recorded_on_sqlite() =>
        SupersededManagersCannotWrite(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public async Task A_superseded_manager_cannot_write_and_its_successor_recovers_what_was_recorded_on_postgres()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await SupersededManagersCannotWrite(DatabaseKind.Postgres, database.ConnectionString);
    }

    [Fact]
    public async Task Advancing_a_fence_gives_each_incarnation_its_own_epoch()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var fence = new SqlOwnershipFence(cluster.ViosNodes[0].ControlDatabase!);
        var key = $"singleton-{Guid.NewGuid():N}"[..20];
        Assert.Null(await fence.ReadAsync(key));
        Assert.Equal(1, await fence.AdvanceAsync(key));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => fence.AdvanceAsync(key))));
        Assert.Equal(Enumerable.Range(2, 8).Select(e => (long)e), concurrent.Order());
        // A raise to an epoch it has passed leaves it where it is.
        Assert.Equal(9, await fence.RaiseAsync(key, 3));
    }

    private async Task SupersededManagersCannotWrite(DatabaseKind kind, string? connection)
    {
        // Two nodes: the HA manager keeps a record only of a partition it can fail over.
        await using var cluster = await TestCluster.StartAsync(viosNodes: 2, kind, connection);
        var node = cluster.ViosNodes[0];
        var fence = OwnershipFences.Get(node.System).ControlFence;
        Assert.IsType<SqlOwnershipFence>(fence);
        var names = new[] { "before", "during", "after" }.Select(n => $"{n}-{Guid.NewGuid():N}"[..14]).ToArray();
        await AwaitCreatedAsync(node, names[0]);
        var managerEpoch = await fence.ReadAsync(PartitionManagerActor.PersistenceIdValue);
        Assert.NotNull(managerEpoch);

        // A newer partition manager advanced the fence: the running one is the stale one now.
        var newer = await fence.AdvanceAsync(PartitionManagerActor.PersistenceIdValue);
        Assert.Equal(managerEpoch + 1, newer);
        var refused = await node.PartitionManager!.Ask<object>(Create(names[1]), Wait);
        Assert.Contains($"a newer {PartitionManagerActor.PersistenceIdValue} owns its journal", Assert.IsType<LparRefused>(refused).Reason);

        // Its supervisor starts it again above the fence; it recovers what was recorded, and only that.
        await AwaitCreatedAsync(node, names[2]);
        Assert.True(await fence.ReadAsync(PartitionManagerActor.PersistenceIdValue) > newer);
        var list = await node.PartitionManager.Ask<LparList>(ListLpars.Instance, Wait);
        Assert.Equal(new[] { names[0], names[2] }.Order(), list.Lpars.Select(l => l.Definition.Name).Where(names.Contains).Order());

        // The same for the HA manager, on a partition it has a record of.
        var requirement = new SetAvailabilityRequirement(names[0], TimeSpan.FromMinutes(1), FullPerformance: false);
        await AwaitAssertAsync(async () =>
        {
            var answer = await node.HaManager!.Ask<object>(requirement, TimeSpan.FromSeconds(5));
            Assert.True(answer is StandbyChosen, $"{answer}");
        }, Wait, Poll);
        var haNewer = await fence.AdvanceAsync(HaManagerActor.PersistenceIdValue);
        var haRefused = await node.HaManager!.Ask<object>(requirement, Wait);
        Assert.Contains($"a newer {HaManagerActor.PersistenceIdValue} owns its journal", Assert.IsType<HaRefused>(haRefused).Reason);
        await AwaitAssertAsync(async () =>
            Assert.IsType<StandbyChosen>(await node.HaManager.Ask<object>(requirement, TimeSpan.FromSeconds(5))), Wait, Poll);
        Assert.True(await fence.ReadAsync(HaManagerActor.PersistenceIdValue) > haNewer);
    }

    [Fact]
    public async Task After_a_freeze_a_superseded_manager_stops_at_once_and_starts_again_only_once_the_node_has_settled()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        var fences = OwnershipFences.Get(node.System);
        await AwaitCreatedAsync(node, "before-freeze");
        var log = CreateTestProbe(node.System);
        node.System.EventStream.Subscribe(log.Ref, typeof(Akka.Event.LogEvent));

        // While this process was frozen, a successor advanced the fence; then the pause watch found the freeze.
        var newer = await fences.ControlFence.AdvanceAsync(PartitionManagerActor.PersistenceIdValue);
        fences.NoteFreeze();
        node.System.EventStream.Publish(new PauseWatchActor.ProcessFroze(TimeSpan.FromSeconds(9)));

        // It stops without writing anything, and its restart waits for the node to settle.
        log.FishForMessage<Akka.Event.Warning>(w => w.Message.ToString()!.Contains(
            $"{PartitionManagerActor.PersistenceIdValue}: superseded while this process was frozen for 9.0 s (this incarnation has epoch {newer - 1}, the fence is at {newer})"), Wait);
        log.FishForMessage<Akka.Event.Info>(i => i.Message.ToString()!.Contains(
            $"{PartitionManagerActor.PersistenceIdValue}: this process was frozen") && i.Message.ToString()!.Contains("the singleton starts once the node has settled"), Wait);
        Assert.Equal(newer, await fences.ControlFence.ReadAsync(PartitionManagerActor.PersistenceIdValue));

        // Settled, it advances above the successor and recovers what was recorded.
        await AwaitCreatedAsync(node, "after-freeze");
        Assert.Equal(newer + 1, await fences.ControlFence.ReadAsync(PartitionManagerActor.PersistenceIdValue));
        var list = await node.PartitionManager!.Ask<LparList>(ListLpars.Instance, Wait);
        Assert.Equal(["after-freeze", "before-freeze"], list.Lpars.Select(l => l.Definition.Name).Order());
    }

    private static CreateLpar Create(string name) => new(name, 1, 16, PlacementPolicy.Locality, [], null);

    /// <summary>Creates once the manager has the node's resources (the firmware registers as the node starts).</summary>
    private async Task AwaitCreatedAsync(ViosNode through, string name) =>
        await AwaitAssertAsync(async () =>
            Assert.IsType<LparCreated>(await through.PartitionManager!.Ask<object>(Create(name), TimeSpan.FromSeconds(5))), Wait, Poll);
}
