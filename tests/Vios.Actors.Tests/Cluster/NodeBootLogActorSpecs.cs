using Akka.Actor;
using Akka.Configuration;
using Vios.Actors.Cluster;

namespace Vios.Actors.Tests.Cluster;

/// <summary>The boot log actor over Akka's in-memory journal: persist, reply, recover.</summary>
public sealed class NodeBootLogActorSpecs() : Akka.TestKit.Xunit2.TestKit(ConfigurationFactory.ParseString("""
    akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
    akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
    """))
{
    [Fact]
    public void Records_boots_and_recovers_them_after_a_restart_of_the_actor()
    {
        var log = Sys.ActorOf(NodeBootLogActor.Props("vios-t"));
        log.Tell(new RecordBoot("akka.tcp://vios@h:1", DateTimeOffset.UnixEpoch));
        ExpectMsg<BootRecorded>(r => Assert.Equal(1, r.Incarnation));
        log.Tell(new RecordBoot("akka.tcp://vios@h:2", DateTimeOffset.UnixEpoch));
        ExpectMsg<BootRecorded>(r => Assert.Equal(2, r.Incarnation));

        Watch(log);
        Sys.Stop(log);
        ExpectTerminated(log);
        var recovered = Sys.ActorOf(NodeBootLogActor.Props("vios-t"));
        recovered.Tell(GetBootHistory.Instance);

        var history = ExpectMsg<NodeBootHistory>();
        Assert.Equal(2, history.BootCount);
        Assert.Equal(["akka.tcp://vios@h:1", "akka.tcp://vios@h:2"], history.RecentBoots.Select(b => b.Address));
    }

    [Fact]
    public void Persistence_id_is_node_dash_name() =>
        Assert.Equal("node-vios-1a2b", NodeBootLogActor.PersistenceIdFor("vios-1a2b"));
}
