using Akka.Configuration;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// An ActorSystem for specs of the real partition manager and firmware: a cluster provider on a
/// loopback port, and every journal the managers and partitions use (node, cluster-wide, control
/// plane) in memory, kept for the ActorSystem's life, so a second manager instance recovers what the
/// first wrote.
/// </summary>
public static class InMemoryJournals
{
    public static Config Config { get; } = ConfigurationFactory.ParseString("""
    akka.loglevel = INFO
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
    akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
    vios.persistence.cluster.journal {
      class = "Akka.Persistence.Journal.MemoryJournal, Akka.Persistence"
      plugin-dispatcher = "akka.actor.default-dispatcher"
    }
    vios.persistence.cluster.snapshot-store {
      class = "Akka.Persistence.Snapshot.MemorySnapshotStore, Akka.Persistence"
      plugin-dispatcher = "akka.actor.default-dispatcher"
    }
    vios.persistence.control.journal {
      class = "Akka.Persistence.Journal.MemoryJournal, Akka.Persistence"
      plugin-dispatcher = "akka.actor.default-dispatcher"
    }
    vios.persistence.control.snapshot-store {
      class = "Akka.Persistence.Snapshot.MemorySnapshotStore, Akka.Persistence"
      plugin-dispatcher = "akka.actor.default-dispatcher"
    }
    """);
}
