using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Persistence.Database;

namespace Vios.Testing;

/// <summary>
/// An HA manager on its own, outside a cluster: the shipped configuration with the cluster-wide
/// journal on real SQLite files under a test directory, and a probe as its partition manager.
/// </summary>
public static class HaManagerHarness
{
    /// <summary>
    /// The node configuration under <paramref name="dataDirectory"/>, on SQLite there or on the PostgreSQL
    /// database <paramref name="connection"/>; the TestKit's logger so that log events can be watched.
    /// </summary>
    public static Config Config(string dataDirectory, string extra = "", DatabaseKind database = DatabaseKind.Sqlite, string? connection = null)
    {
        // The node creates its shared directory (where the cluster-wide SQLite files live) as it starts.
        // Inside the test's own directory: the default, beside it, would be the temp folder, which
        // every test run shares.
        var shared = Path.Combine(dataDirectory, "shared");
        Directory.CreateDirectory(shared);
        return ConfigurationFactory.ParseString($$"""
            akka.loggers = ["Akka.TestKit.TestEventListener, Akka.TestKit"]
            akka.stdout-loglevel = OFF
            akka.remote.dot-netty.tcp.port = 0
            {{extra}}
            """)
            .WithFallback(NodeConfigBuilder.Build(new NodeOptions
            {
                DataDirectory = dataDirectory,
                SharedDirectory = shared,
                Database = database,
                DatabaseConnection = connection,
                Environment = new Dictionary<string, string?>(),
            }));
    }

    public static NodeResources Node(string name) =>
        NodeResources.FromDomains(name, [new ResourceDomain("cec1/node0", 8, 16 * 1024, [])]);

    public static LparSummary Running(string lpar, string node) =>
        new(new LparDefinition(lpar, 1, 16, PlacementPolicy.Balanced, [], new Allocation(lpar, node, PlacementPolicy.Balanced, [], [], []), DateTimeOffset.UtcNow),
            LparState.Running, true);

    /// <summary>A partition list with these partitions and these registered nodes (each at a made-up address).</summary>
    public static LparList List(IEnumerable<LparSummary> lpars, params string[] nodes) =>
        new(lpars.ToList(), nodes.Select(Node).ToList())
        {
            NodeAddresses = nodes.ToDictionary(n => n, n => $"akka.tcp://vios@127.0.0.1:{4100 + Array.IndexOf(nodes, n)}"),
        };

    /// <summary>A restore that brought <paramref name="restore"/>'s partition up on <paramref name="node"/>.</summary>
    public static CheckpointRestored Restored(RestoreCheckpoint restore, string node) =>
        new(restore.Name, restore.Source, node, restore.Epoch ?? 3, 1, 0x1234, true);
}

/// <summary>
/// A partition manager played by a probe: answers every partition list with <see cref="List"/>,
/// hands every other request to <see cref="Answer"/> (null: no answer at all) and reports it to
/// the test actor.
/// </summary>
public sealed class ScriptedPartitionManager(IActorRef testActor) : AutoPilot
{
    public volatile LparList List = HaManagerHarness.List([]);

    public Func<object, object?> Answer { get; set; } = _ => null;

    public override AutoPilot Run(IActorRef sender, object message)
    {
        if (message is ListLpars) sender.Tell(List);
        else
        {
            testActor.Tell(message);
            if (Answer(message) is { } reply) sender.Tell(reply);
        }
        return this;
    }
}
