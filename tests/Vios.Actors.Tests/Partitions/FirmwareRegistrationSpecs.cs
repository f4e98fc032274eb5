using Akka.Actor;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// A firmware registering with the partition manager (both real actors, journals in memory): a
/// registration answer alone never stops a running partition; the manager stops a copy only by an
/// explicit command.
/// </summary>
public sealed class FirmwareRegistrationSpecs() : Akka.TestKit.Xunit2.TestKit(InMemoryJournals.Config)
{
    private const string NodeName = "vios-a";

    /// <summary>Generous: the line comes after a registration round trip, on a loaded machine too.</summary>
    private static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(10);

    private static readonly NodeResources Resources =
        NodeResources.FromDomains(NodeName, [new ResourceDomain("cec1/node0", 4, 4096, ["eth"])]);

    private static readonly PartitionSettings Settings =
        new(Resources, new VmmSettings(true, 64), TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(2));

    /// <summary>A definition as an earlier manager (another journal) placed it on this node.</summary>
    private static LparDefinition PlacedElsewhereBefore(string name)
    {
        var earlier = new PartitionRegistry();
        earlier.Register(Resources, new Dictionary<string, LparState>());
        var (defined, refusal) = earlier.Decide(new CreateLpar(name, 1, 16, PlacementPolicy.Balanced, [], NodeName), DateTimeOffset.UnixEpoch);
        Assert.True(defined is not null, refusal?.Reason);
        return defined.Definition;
    }

    private (IActorRef Manager, IActorRef Firmware) StartManagerAndFirmware()
    {
        var manager = Sys.ActorOf(PartitionManagerActor.Props(), "partition-manager");
        var firmware = Sys.ActorOf(PartitionFirmwareActor.Props(NodeName, Settings, manager), PartitionFirmwareActor.Name);
        // Registered once the manager lists the node's resources.
        AwaitAssert(() =>
        {
            manager.Tell(ListLpars.Instance);
            Assert.Contains(ExpectMsg<LparList>().Nodes, n => n.Node == NodeName);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        return (manager, firmware);
    }

    [Fact]
    public void A_partition_the_manager_has_no_record_of_keeps_running_and_is_listed_as_such()
    {
        var (manager, firmware) = StartManagerAndFirmware();
        // The firmware runs 'db', placed here by a manager on another journal: this one never heard of it.
        firmware.Tell(new HostLpar(PlacedElsewhereBefore("db")));
        firmware.Tell(new StartLpar("db"));
        Assert.Equal(LparState.Running, ExpectMsg<LparStatus>().State);
        // The firmware passes the partition's state changes on: the manager already knows it as a stray.
        AwaitAssert(() =>
        {
            manager.Tell(ListLpars.Instance);
            Assert.Contains(ExpectMsg<LparList>().Strays, s => s is { Name: "db", State: LparState.Running });
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));

        // A new manager instance asks every firmware to register again; its answer lists nothing.
        EventFilter.Error(contains: "'db' is running on vios-a but is not in the partition manager's record").ExpectOne(LogTimeout, () =>
            firmware.Tell(PartitionManagerOnline.Instance));

        manager.Tell(ListLpars.Instance);
        var list = ExpectMsg<LparList>();
        Assert.Empty(list.Lpars);
        var stray = Assert.Single(list.Strays);
        Assert.Equal(("db", NodeName, LparState.Running, ReportedLparVerdict.NotInRecord), (stray.Name, stray.Node, stray.State, stray.Verdict));

        // Still running on the firmware, after the registration answer was handled.
        firmware.Tell(new ShowLpar("db"));
        Assert.Equal(LparState.Running, ExpectMsg<LparStatus>().State);

        // Commands through the manager say why it does not act on the partition.
        manager.Tell(new StopLpar("db"));
        Assert.Contains("not in the partition manager's record", ExpectMsg<LparRefused>().Reason);
        // And a new partition of that name is refused rather than defined beside it.
        manager.Tell(new CreateLpar("db", 1, 16, PlacementPolicy.Balanced, [], null));
        Assert.Contains("runs on vios-a", ExpectMsg<LparRefused>().Reason);
    }

    [Fact]
    public void A_partition_deleted_while_its_node_was_away_is_stopped_by_an_explicit_command()
    {
        var (manager, firmware) = StartManagerAndFirmware();
        manager.Tell(new CreateLpar("db", 1, 16, PlacementPolicy.Balanced, [], NodeName));
        ExpectMsg<LparCreated>();
        AwaitAssert(() =>
        {
            firmware.Tell(new ShowLpar("db"));
            Assert.Equal(LparState.Defined, ExpectMsg<LparStatus>().State);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));

        // vios-a goes away (fenced); meanwhile the operator deletes 'db'; nobody tells vios-a.
        manager.Tell(new FenceNode(NodeName, firmware.Path.Address.ToString()));
        ExpectMsg<NodeFenced>(f => Assert.True(f.WasRegistered));
        manager.Tell(new DeleteLpar("db"));
        ExpectMsg<LparDeleted>();
        firmware.Tell(new ShowLpar("db"));
        ExpectMsg<LparStatus>();

        // vios-a registers again: the manager tells it, with the reason, to stop its copy.
        EventFilter.Warning(contains: "stopping partition db at the partition manager's command: 'db' was deleted").ExpectOne(LogTimeout, () =>
            firmware.Tell(PartitionManagerOnline.Instance));
        AwaitAssert(() =>
        {
            firmware.Tell(new ShowLpar("db"));
            Assert.Contains("not hosted", ExpectMsg<LparRefused>().Reason);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
        manager.Tell(ListLpars.Instance);
        Assert.Empty(ExpectMsg<LparList>().Strays);
    }

    [Fact]
    public void A_stop_from_a_manager_whose_record_is_older_than_the_copy_is_refused_and_the_copy_keeps_running()
    {
        var firmware = Sys.ActorOf(PartitionFirmwareActor.Props(NodeName, Settings, CreateTestProbe().Ref), "firmware-alone");
        // This copy was taken over at owner epoch 5 (a survivor's takeover, or a failover to here).
        var definition = PlacedElsewhereBefore("db") with { OwnerEpoch = 5 };
        firmware.Tell(new HostLpar(definition));
        firmware.Tell(new StartLpar("db"));
        Assert.Equal(LparState.Running, ExpectMsg<LparStatus>().State);

        // A partition manager that still holds epoch 4 (it ran on a node that was frozen, and has not
        // learned it is no longer the singleton) tells this copy to stop: it is behind, and refused.
        EventFilter.Error(contains: "not stopping partition db: this copy has owner epoch 5, newer than the partition manager's record (4)").ExpectOne(LogTimeout, () =>
            firmware.Tell(new StopLparCopy("db", ReportedLparVerdict.StopPlacedElsewhere, "'db' runs on vios-a and on vios-b") { RecordEpoch = 4 }));
        firmware.Tell(new ShowLpar("db"));
        Assert.Equal(LparState.Running, ExpectMsg<LparStatus>().State);

        // A manager whose record is at the copy's epoch (or past it) is obeyed.
        EventFilter.Warning(contains: "stopping partition db at the partition manager's command").ExpectOne(LogTimeout, () =>
            firmware.Tell(new StopLparCopy("db", ReportedLparVerdict.StopPlacedElsewhere, "'db' runs on vios-b, where it is placed") { RecordEpoch = 6 }));
        AwaitAssert(() =>
        {
            firmware.Tell(new ShowLpar("db"));
            Assert.Contains("not hosted", ExpectMsg<LparRefused>().Reason);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_node_that_registers_again_replaces_its_earlier_firmware_for_every_command()
    {
        var manager = Sys.ActorOf(PartitionManagerActor.Props(), "manager-of-restarts");
        var (earlier, again) = (CreateTestProbe(), CreateTestProbe());
        manager.Tell(new RegisterFirmware(Resources, new Dictionary<string, LparState>()), earlier.Ref);
        earlier.ExpectMsg<FirmwareRegistered>();
        manager.Tell(new CreateLpar("db", 1, 16, PlacementPolicy.Balanced, [], "vios-a"));
        ExpectMsg<LparCreated>();
        earlier.ExpectMsg<HostLpar>();

        // vios-a left and started again: its new firmware registers; the manager never heard the earlier one end.
        manager.Tell(new RegisterFirmware(Resources, new Dictionary<string, LparState>()), again.Ref);
        Assert.Equal("db", Assert.Single(again.ExpectMsg<FirmwareRegistered>().Hosted).Name);
        manager.Tell(new StartLpar("db"));
        again.FishForMessage(m => m is StartLpar);
        earlier.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_registration_from_another_incarnation_does_not_displace_a_firmware_whose_node_is_up()
    {
        // This node is Up: its firmware is a live member's, as a new incarnation's is while an old one,
        // running again after a freeze, registers before it learns it was downed.
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == Akka.Cluster.MemberStatus.Up, TimeSpan.FromSeconds(10));
        var manager = Sys.ActorOf(PartitionManagerActor.Props(), "manager-of-a-live-node");
        var (live, stale) = (CreateTestProbe(), CreateTestProbe());
        manager.Tell(new RegisterFirmware(Resources, new Dictionary<string, LparState>()), live.Ref);
        live.ExpectMsg<FirmwareRegistered>();
        manager.Tell(new CreateLpar("db", 1, 16, PlacementPolicy.Balanced, [], "vios-a"));
        ExpectMsg<LparCreated>();
        live.ExpectMsg<HostLpar>();

        manager.Tell(new RegisterFirmware(Resources, new Dictionary<string, LparState>()), stale.Ref);
        stale.ExpectMsg<FirmwareRegistered>();
        manager.Tell(new StartLpar("db"));
        live.FishForMessage(m => m is StartLpar);
    }
}
