using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// The partition manager's record of a takeover (a survivor restarted a partition while the HA
/// manager moved) survives the manager itself: a later instance that recovers the record while the
/// takeover's node is gone too still knows the partition was running there, so the HA manager fails
/// it over from that node (the chaos soak's `cold3`, never failed over again after such a kill).
/// The real manager on an in-memory journal; the firmwares are probes.
/// </summary>
public sealed class TakeoverRecordSpecs() : Akka.TestKit.Xunit2.TestKit(InMemoryJournals.Config)
{
    private static NodeResources Resources(string node) => NodeResources.FromDomains(node, [new ResourceDomain("cec1/node0", 4, 4096, ["eth"])]);

    [Fact]
    public void A_partition_taken_over_is_known_running_on_its_new_node_after_the_manager_recovers_without_that_node()
    {
        var manager = Sys.ActorOf(PartitionManagerActor.Props(), "first-manager");
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        manager.Tell(new RegisterFirmware(Resources("vios-a"), new Dictionary<string, LparState>()), a.Ref);
        a.ExpectMsg<FirmwareRegistered>();
        manager.Tell(new RegisterFirmware(Resources("vios-b"), new Dictionary<string, LparState>()), b.Ref);
        b.ExpectMsg<FirmwareRegistered>();
        manager.Tell(new CreateLpar("db", 1, 16, PlacementPolicy.Balanced, [], "vios-a"));
        ExpectMsg<LparCreated>();
        manager.Tell(new StartLpar("db"));
        a.FishForMessage(m => m is StartLpar);

        // vios-a died with the HA manager on it; vios-b's takeover runs db at the record's epoch + 2.
        manager.Tell(new LparTakenOver("db", "vios-b", "vios-a", 3, "consistency image on vios-b"));
        Assert.Equal(new TakeoverAdopted("db", "vios-b", 3), ExpectMsg<TakeoverAdopted>());

        // The manager moves again, and vios-b is gone before its firmware registers with the next one.
        Watch(manager);
        Sys.Stop(manager);
        ExpectTerminated(manager);
        var next = Sys.ActorOf(PartitionManagerActor.Props(), "next-manager");
        next.Tell(ListLpars.Instance);
        var db = Assert.Single(ExpectMsg<LparList>().Lpars, l => l.Definition.Name == "db");
        Assert.Equal(("vios-b", LparState.Running, 3L), (db.Definition.Node, db.State, db.Definition.OwnerEpoch));
    }

    [Fact]
    public void A_copy_registered_under_an_owner_epoch_above_the_record_is_adopted_though_its_takeover_was_never_announced()
    {
        var manager = Sys.ActorOf(PartitionManagerActor.Props(), "unannounced-manager");
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        manager.Tell(new RegisterFirmware(Resources("vios-a"), new Dictionary<string, LparState>()), a.Ref);
        a.ExpectMsg<FirmwareRegistered>();
        manager.Tell(new CreateLpar("db", 1, 16, PlacementPolicy.Balanced, [], "vios-a"));
        Assert.Equal(1, ExpectMsg<LparCreated>().Definition.OwnerEpoch);

        // vios-b took db over at epoch 3 while the singletons moved, and the announcement was lost:
        // its firmware's registration with this manager is all there is.
        manager.Tell(new RegisterFirmware(Resources("vios-b"), new Dictionary<string, LparState> { ["db"] = LparState.Running })
        {
            OwnerEpochs = new Dictionary<string, long> { ["db"] = 3 },
        }, b.Ref);
        b.ExpectMsg<FirmwareRegistered>();

        AwaitAssert(() =>
        {
            manager.Tell(ListLpars.Instance);
            var db = Assert.Single(ExpectMsg<LparList>().Lpars, l => l.Definition.Name == "db");
            Assert.Equal(("vios-b", LparState.Running, 3L), (db.Definition.Node, db.State, db.Definition.OwnerEpoch));
        });
        // A copy under an older epoch than the record's is no takeover: it is not adopted.
        manager.Tell(new RegisterFirmware(Resources("vios-a"), new Dictionary<string, LparState> { ["db"] = LparState.Running })
        {
            OwnerEpochs = new Dictionary<string, long> { ["db"] = 1 },
        }, a.Ref);
        a.FishForMessage(m => m is FirmwareRegistered);
        manager.Tell(ListLpars.Instance);
        Assert.Equal("vios-b", Assert.Single(ExpectMsg<LparList>().Lpars, l => l.Definition.Name == "db").Definition.Node);
    }
}
