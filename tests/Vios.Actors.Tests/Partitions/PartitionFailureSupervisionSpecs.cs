using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// An exception in a partition's actor never silently resets the partition: the firmware stops it,
/// logs the exception, and reports it Failed to the partition manager until it is started again.
/// </summary>
public sealed class PartitionFailureSupervisionSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _directory;

    public PartitionFailureSupervisionSpecs()
        : this(new TempDirectory())
    {
    }

    private PartitionFailureSupervisionSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path)) => _directory = directory;

    [Fact]
    public async Task A_running_partition_whose_actor_throws_is_stopped_and_reported_failed_with_the_exception_logged()
    {
        var manager = CreateTestProbe();
        var settings = PartitionSettings.FromConfig(Sys.Settings.Config, "n1");
        var firmware = Sys.ActorOf(PartitionFirmwareActor.Props("n1", settings, manager.Ref), PartitionFirmwareActor.Name);
        await manager.ExpectMsgAsync<RegisterFirmware>(Wait);
        var planner = new ResourcePlanner();
        planner.Advertise(settings.Resources);
        var allocation = planner.Place(new ResourceRequest("guest", 1, 16, [], PlacementPolicy.Locality)).Allocation!;
        firmware.Tell(new HostLpar(new LparDefinition("guest", 1, 16, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UtcNow)));
        await firmware.Ask<LparStatus>(new StartLpar("guest"), Wait);
        await manager.FishForMessageAsync<LparStateChanged>(c => c is { Name: "guest", State: LparState.Running }, Wait);

        // A checkpoint message out of turn makes the partition's model throw inside its actor.
        await EventFilter.Exception<InvalidOperationException>(contains: "no deferred capture is in progress").ExpectOneAsync(Wait, async () =>
            Sys.ActorSelection($"/user/{PartitionFirmwareActor.Name}/guest").Tell(new FinishCapture(1)));

        await manager.FishForMessageAsync<LparStateChanged>(c => c is { Name: "guest", State: LparState.Failed }, Wait);
        // Not reset behind the operator's back: until asked to run again, nothing answers for it.
        var show = await firmware.Ask<object>(new ShowLpar("guest"), Wait);
        Assert.Contains("is not hosted by n1's firmware", Assert.IsType<LparRefused>(show).Reason);
        // Started again on purpose, it runs (from a fresh actor) and says so.
        Assert.Equal(LparState.Running, (await firmware.Ask<LparStatus>(new StartLpar("guest"), Wait)).State);
    }

    [Fact]
    public async Task A_downed_node_stops_its_running_partitions_at_once_without_reporting_them_failed()
    {
        var manager = CreateTestProbe();
        var settings = PartitionSettings.FromConfig(Sys.Settings.Config, "n2");
        var firmware = Sys.ActorOf(PartitionFirmwareActor.Props("n2", settings, manager.Ref), "firmware-downed");
        await manager.ExpectMsgAsync<RegisterFirmware>(Wait);
        var planner = new ResourcePlanner();
        planner.Advertise(settings.Resources);
        foreach (var name in new[] { "one", "two" })
        {
            var allocation = planner.Place(new ResourceRequest(name, 1, 16, [], PlacementPolicy.Locality)).Allocation!;
            firmware.Tell(new HostLpar(new LparDefinition(name, 1, 16, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UtcNow)));
            await firmware.Ask<LparStatus>(new StartLpar(name), Wait);
        }
        var one = await Sys.ActorSelection("/user/firmware-downed/one").ResolveOne(Wait);
        var two = await Sys.ActorSelection("/user/firmware-downed/two").ResolveOne(Wait);
        Watch(one);
        Watch(two);

        Assert.Equal(2, (await firmware.Ask<AllPartitionsStopped>(new StopAllPartitions("this node was downed by the cluster"), Wait)).Count);

        var ended = new[] { await ExpectMsgAsync<Terminated>(Wait), await ExpectMsgAsync<Terminated>(Wait) };
        Assert.Equal(new[] { one, two }.ToHashSet(), ended.Select(t => t.ActorRef).ToHashSet());
        // Stopped on purpose: not a failure to report, and nothing is hosted any more.
        Assert.Empty((await firmware.Ask<HostedLpars>(GetHostedLpars.Instance, Wait)).Lpars);
        Assert.DoesNotContain(manager.ReceiveWhile(TimeSpan.Zero, m => m), m => m is LparStateChanged { State: LparState.Failed });
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}
