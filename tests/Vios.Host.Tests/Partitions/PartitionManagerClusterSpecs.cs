using System.Text.Json;
using Akka.Actor;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Host.Tests.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>
/// The partition manager singleton on its own cluster of three vios nodes with different resources
/// (each test starts one, since these tests stop nodes):
/// small: one domain (cec1/node0) with 4 CPUs and 4 GiB; twin: two domains (cec2/node0, cec2/node1)
/// with 8 CPUs and 8 GiB each; big: one domain (cec3/node0) with 16 CPUs and 64 GiB.
/// </summary>
public sealed class PartitionManagerClusterSpecs : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, string> Resources = new()
    {
        ["small"] = """{ position = "cec1/node0", cpus = 4, memory = 4 GiB, adapters = [eth] }""",
        ["twin"] = """{ position = "cec2/node0", cpus = 8, memory = 8 GiB, adapters = [eth] }, { position = "cec2/node1", cpus = 8, memory = 8 GiB, adapters = [fc] }""",
        ["big"] = """{ position = "cec3/node0", cpus = 16, memory = 64 GiB, adapters = [eth, fc] }""",
    };

    private readonly LocalClusterOptions _options = TestCluster.Options() with { DeleteOnDispose = false };
    private readonly Dictionary<string, string> _dataDirectories = [];
    private LocalCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await StartClusterAsync();

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        try
        {
            Directory.Delete(_options.RootDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: under the temp folder.
        }
    }

    private ViosNode Node(string name) => _cluster.ViosNodes.Single(n => n.Name == name);

    [Fact]
    public async Task A_partition_created_through_any_node_lands_where_its_policy_says()
    {
        var locality = await CreateAsync(Node("small"), "db", "--vcpus", "12", "--memory-mb", "16384", "--policy", "locality");
        var spread = await CreateAsync(Node("small"), "web", "--vcpus", "4", "--memory-mb", "2048", "--policy", "spread");
        var balanced = await CreateAsync(Node("big"), "batch", "--vcpus", "2", "--memory-mb", "1024", "--policy", "balanced");
        var pinned = await CreateAsync(Node("twin"), "edge", "--vcpus", "1", "--memory-mb", "64", "--node", "small", "--adapters", "eth");

        // Only big has 12 CPUs in one domain; only twin has two domains to spread over; after those,
        // twin (8 of 16 CPUs used after this one) is left less loaded than small (2 of 4) or big (14 of 16).
        Assert.Equal(("big", "cec3/node0"), (locality.GetProperty("node").GetString(), Domains(locality)));
        Assert.Equal(("twin", "cec2/node0 cec2/node1"), (spread.GetProperty("node").GetString(), Domains(spread)));
        Assert.Equal("twin", balanced.GetProperty("node").GetString());
        Assert.Equal("small", pinned.GetProperty("node").GetString());
        Assert.Equal(["eth@cec1/node0/slot1"], pinned.GetProperty("adapters").EnumerateArray().Select(a => a.GetString()));

        var refused = await Ctl.AtAsync(Node("twin"), "lpar", "create", "huge", "--vcpus", "20", "--memory-mb", "1024");
        Assert.Equal(1, refused.ExitCode);
        Assert.Matches(@"no node can place 'huge': none has 20 free vCPUs in one position domain \(most: [5-6] on twin cec2/node[01]\)", refused.Stderr);

        // The guest asks for the positions of what it got (S13), on the node that hosts it.
        var shown = await Ctl.AtAsync(Node("small"), "--json", "lpar", "show", "db");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        using var status = JsonDocument.Parse(shown.Stdout);
        Assert.Equal("big", status.RootElement.GetProperty("node").GetString());
        var positions = status.RootElement.GetProperty("resources").EnumerateArray().Select(r => r.GetProperty("position").GetString()).ToList();
        Assert.Equal(13, positions.Count);
        Assert.All(positions, p => Assert.StartsWith("cec3/node0/", p));
    }

    [Fact]
    public async Task Definitions_survive_the_singleton_host_leaving_and_a_full_cluster_restart()
    {
        foreach (var (name, node) in new[] { ("alpha", "small"), ("beta", "twin"), ("gamma", "big") })
            await CreateAsync(Node("twin"), name, "--vcpus", "1", "--memory-mb", "32", "--node", node);
        var host = await SingletonHostAsync();

        await host.StopAsync();
        await _cluster.AwaitRemovedAsync(host.SelfAddress, Wait);
        var survivor = _cluster.ViosNodes.First();
        await AwaitAssertAsync(async () =>
            Assert.Equal(["alpha", "beta", "gamma"], await NamesAsync(survivor)), Wait, TimeSpan.FromMilliseconds(250));
        Assert.NotEqual(host.Name, (await SingletonHostAsync()).Name);

        await _cluster.DisposeAsync();
        _cluster = await StartClusterAsync();

        await AwaitAssertAsync(async () =>
            Assert.Equal(["alpha", "beta", "gamma"], await NamesAsync(Node("small"))), Wait, TimeSpan.FromMilliseconds(250));
        // Each node's firmware hosts its partitions again: the one on big starts there.
        var started = await Ctl.AtAsync(Node("small"), "lpar", "start", "gamma");
        Assert.True(started.ExitCode == 0, started.ToString());
        Assert.StartsWith("lpar gamma on big: running", started.StdoutLines[0]);
    }

    [Fact]
    public async Task A_partition_whose_node_left_is_moved_to_another_node_and_restored_there_from_its_image()
    {
        var manager = Node("twin").PartitionManager!;
        await CreateAsync(Node("twin"), "mover", "--vcpus", "1", "--memory-mb", "16", "--node", "small");
        await manager.Ask<LparStatus>(new StartLpar("mover"), Wait);
        await manager.Ask<LparStatus>(new RunWorkload("mover", 50_000, 0.9, 4, Seed: 2), Wait);
        await AwaitAssertAsync(async () => Assert.True((await manager.Ask<LparStatus>(new ShowLpar("mover"), Wait)).Workload!.Writes > 1000), Wait);
        var taken = Assert.IsType<Vios.Actors.Checkpoint.CheckpointTaken>(
            await manager.Ask<object>(new Vios.Actors.Checkpoint.TakeCheckpoint("mover", Vios.Actors.Checkpoint.CheckpointMode.Full, null), Wait));

        // Stopped first, so the HA manager leaves it alone: this is the move an operator (or the HA manager) makes.
        await manager.Ask<LparStatus>(new StopLpar("mover"), Wait);
        var small = Node("small");
        await small.StopAsync();
        await _cluster.AwaitRemovedAsync(small.SelfAddress, Wait);
        LparMoved? moved = null;
        await AwaitAssertAsync(async () =>
            moved = Assert.IsType<LparMoved>(await Node("big").PartitionManager!.Ask<object>(new MoveLpar("mover", "twin", "small left the cluster"), Wait)),
            Wait, TimeSpan.FromMilliseconds(250));
        var restored = await Node("big").PartitionManager!.Ask<object>(
            new Vios.Actors.Checkpoint.RestoreCheckpoint("mover", "mover", null), Wait);

        Assert.Equal(("twin", "small"), (moved!.Definition.Node, moved.FromNode));
        var image = Assert.IsType<Vios.Actors.Checkpoint.CheckpointRestored>(restored);
        Assert.Equal(("twin", taken.Epoch, taken.MemoryChecksum), (image.Node, image.Epoch, (ulong?)image.MemoryChecksum));
        Assert.True(image.Verified);
    }

    [Fact]
    public async Task Downing_a_node_restarts_its_running_partition_on_its_consistency_node_from_its_latest_image()
    {
        var manager = Node("twin").PartitionManager!;
        await CreateAsync(Node("twin"), "guarded", "--vcpus", "1", "--memory-mb", "16", "--node", "small");
        await manager.Ask<LparStatus>(new StartLpar("guarded"), Wait);
        await manager.Ask<LparStatus>(new RunWorkload("guarded", 50_000, 0.9, 4, Seed: 4), Wait);
        await AwaitAssertAsync(async () => Assert.True((await manager.Ask<LparStatus>(new ShowLpar("guarded"), Wait)).Workload!.Writes > 1000), Wait);
        Assert.IsType<Vios.Actors.Checkpoint.CheckpointTaken>(
            await manager.Ask<object>(new Vios.Actors.Checkpoint.TakeCheckpoint("guarded", Vios.Actors.Checkpoint.CheckpointMode.Full, null), Wait));
        Vios.Actors.Availability.AvailabilityRecord? record = null;
        await AwaitAssertAsync(async () =>
        {
            var status = await Node("twin").HaManager!.Ask<Vios.Actors.Availability.HaStatus>(Vios.Actors.Availability.GetHaStatus.Instance, Wait);
            record = Assert.Single(status.Records, r => r.Lpar == "guarded");
        }, Wait, TimeSpan.FromMilliseconds(250));
        Assert.NotEqual("small", record!.ConsistencyNode);

        var small = Node("small");
        Akka.Cluster.Cluster.Get(Node("twin").System).Down(small.SelfAddress);
        await _cluster.AwaitRemovedAsync(small.SelfAddress, Wait);

        await AwaitAssertAsync(async () =>
        {
            var status = await Node("twin").PartitionManager!.Ask<LparStatus>(new ShowLpar("guarded"), Wait);
            Assert.Equal((record.ConsistencyNode, LparState.Running), (status.Node, status.State));
        }, Wait, TimeSpan.FromMilliseconds(250));
        // The partition manager reports the restored partition as soon as its firmware runs it; the HA manager
        // records the failover as completed when the restore's answer reaches it, a moment later.
        await AwaitAssertAsync(async () =>
        {
            var ha = await Node("twin").HaManager!.Ask<Vios.Actors.Availability.HaStatus>(Vios.Actors.Availability.GetHaStatus.Instance, Wait);
            var failure = Assert.Single(Assert.Single(ha.Records, r => r.Lpar == "guarded").Failures);
            Assert.Equal(("small", record.ConsistencyNode, Vios.Actors.Availability.FailoverImage.Consistency, true),
                (failure.FailedNode, failure.TargetNode, failure.Image, failure.Completed));
            Assert.Empty(ha.Pending);
        }, Wait, TimeSpan.FromMilliseconds(250));
    }

    private async Task<LocalCluster> StartClusterAsync()
    {
        var cluster = LocalCluster.Create(_options);
        await cluster.StartLighthouseAsync();
        foreach (var (name, domains) in Resources)
        {
            var config = Path.Combine(_options.RootDirectory, $"{name}.hocon");
            await File.WriteAllTextAsync(config, $"vios.resources.domains = [{domains}]");
            await cluster.StartViosNodeAsync(_dataDirectories.GetValueOrDefault(name), awaitUp: false,
                customize: o => o with { Name = name, ConfigFile = config });
            _dataDirectories[name] = cluster.ViosNodes.Single(n => n.Name == name).DataDirectory;
        }
        await cluster.AwaitConvergenceAsync();
        // Every firmware has registered its resources with the manager.
        await AwaitAssertAsync(async () =>
        {
            var list = await Ctl.AtAsync(cluster.ViosNodes[0], "--json", "lpar", "list");
            Assert.True(list.ExitCode == 0, list.ToString());
            using var document = JsonDocument.Parse(list.Stdout);
            Assert.Equal(3, document.RootElement.GetProperty("nodes").GetArrayLength());
        }, Wait, TimeSpan.FromMilliseconds(250));
        return cluster;
    }

    private static async Task<JsonElement> CreateAsync(ViosNode through, string name, params string[] options)
    {
        var result = await Ctl.AtAsync(through, ["--json", "lpar", "create", name, .. options]);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }

    private static string Domains(JsonElement view) => string.Join(" ", view.GetProperty("domains").EnumerateArray().Select(d => d.GetString()));

    private static async Task<string[]> NamesAsync(ViosNode through)
    {
        var result = await Ctl.AtAsync(through, "--json", "lpar", "list");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.GetProperty("lpars").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).Order().ToArray();
    }

    /// <summary>The vios node whose singleton manager runs the partition manager.</summary>
    private async Task<ViosNode> SingletonHostAsync()
    {
        foreach (var node in _cluster.ViosNodes)
        {
            try
            {
                await node.System.ActorSelection("/user/partition-manager/singleton").ResolveOne(TimeSpan.FromSeconds(1));
                return node;
            }
            catch (ActorNotFoundException)
            {
            }
        }
        throw new InvalidOperationException("no vios node runs the partition manager");
    }
}
