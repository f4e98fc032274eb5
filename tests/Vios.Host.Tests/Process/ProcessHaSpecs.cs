using System.Text.Json;
using Vios.Testing;

namespace Vios.Host.Tests.Process;

/// <summary>
/// High availability with real processes, as an operator runs it: a lighthouse and three vios nodes
/// (`vios node`), driven with `vios ctl`, on SQLite files and on PostgreSQL. Partitions run on vios1
/// with their workloads; vios1 is SIGKILLed, then the node the partition came back on. The HA
/// manager must bring each partition back where S5 and S17 say, from the right image, with no
/// committed checkpoint lost. vios1, the oldest, also hosts the HA manager: its partitions are taken
/// over by their designated survivors (issue 12, point 4), which the history says.
/// </summary>
public sealed class ProcessHaSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    [Fact]
    public Task Killed_nodes_partitions_come_back_from_their_images_and_hot_replica_on_sqlite() => KilledNodesPartitionsComeBack([]);

    [PostgresFact]
    public async Task Killed_nodes_partitions_come_back_from_their_images_and_hot_replica_on_postgres()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await KilledNodesPartitionsComeBack(["--db", "postgres", "--db-connection", database.ConnectionString]);
    }

    private async Task KilledNodesPartitionsComeBack(string[] database)
    {
        await using var cluster = await ProcessCluster.StartAsync(database);
        var nodes = new Dictionary<string, NodeProcess>();
        foreach (var name in new[] { "vios1", "vios2", "vios3" }) nodes[name] = await cluster.StartViosNodeAsync(name, name);
        var ops = nodes["vios2"].Ops;
        await AwaitAssertAsync(async () => Assert.Equal(3, (await JsonAsync(ops, "lpar", "list")).GetProperty("nodes").GetArrayLength()),
            ProcessCluster.StartTimeout, Poll);

        // "payload": cold standby, persisted checkpoints every 200 ms, each with its memory checksum.
        // "critical": hot standby (full performance during failover), replicated by the HA manager.
        foreach (var name in new[] { "payload", "critical" })
        {
            await CtlOkAsync(ops, "lpar", "create", name, "--vcpus", "1", "--memory-mb", "16", "--node", "vios1");
            await CtlOkAsync(ops, "lpar", "start", name);
            await CtlOkAsync(ops, "lpar", "workload", name, "--rate", "20000");
        }
        await CtlOkAsync(ops, "checkpoint", "take", "payload", "--interval", "200", "--verify");
        JsonElement payload = default;
        await AwaitAssertAsync(async () => payload = Record(await JsonAsync(ops, "ha", "status"), "payload"), ProcessCluster.StartTimeout, Poll);
        var (consistencyNode, bootNode) = (payload.GetProperty("consistencyNode").GetString()!, payload.GetProperty("bootNode").GetString()!);
        Assert.NotEqual(consistencyNode, bootNode);
        Assert.DoesNotContain("vios1", new[] { consistencyNode, bootNode });

        var chosen = await JsonAsync(ops, "ha", "policy", "critical", "--max-recovery", "3", "--full-performance");
        Assert.Equal("hot", chosen.GetProperty("mode").GetString());
        var replicaNode = chosen.GetProperty("replicaNode").GetString()!;
        await AwaitAssertAsync(async () =>
        {
            var list = await JsonAsync(ops, "checkpoint", "list", "payload");
            Assert.True(list.GetProperty("epochs").GetArrayLength() >= 3);
            var stats = await JsonAsync(ops, "checkpoint", "stats", "critical");
            Assert.StartsWith($"replicating to {replicaNode}", stats.GetProperty("mode").GetString());
            Assert.True(stats.GetProperty("epochs").GetInt64() >= 5);
        }, ProcessCluster.StartTimeout, Poll);

        // First failure: SIGKILL vios1.
        nodes["vios1"].Process.Kill();
        var first = await AwaitRestartedAsync(ops, "payload", consistencyNode, failures: 1);
        Assert.Equal("consistency", first.GetProperty("image").GetString());
        // No committed checkpoint lost: it came back from the last epoch in the journal, byte for byte.
        var epochs = (await JsonAsync(ops, "checkpoint", "list", "payload")).GetProperty("epochs");
        var last = epochs[epochs.GetArrayLength() - 1];
        Assert.Contains($"from epoch {last.GetProperty("epoch").GetInt64()}, memory checksum {last.GetProperty("memoryChecksum").GetUInt64():x16} (equal to the image's)",
            first.GetProperty("detail").GetString());

        // The HA manager died with vios1: the consistency node restored it itself, not the next HA manager.
        Assert.StartsWith($"taken over by {consistencyNode}: from epoch", first.GetProperty("detail").GetString());

        var promoted = await AwaitRestartedAsync(ops, "critical", replicaNode, failures: 1);
        Assert.StartsWith($"taken over by {replicaNode}: promoted its replica", promoted.GetProperty("detail").GetString());
        Assert.Equal("replica", promoted.GetProperty("image").GetString());
        Assert.Matches(@"promoted its replica at epoch \d+, memory checksum [0-9a-f]{16} \(equal to the image's\)", promoted.GetProperty("detail").GetString());

        // Second failure within the window: SIGKILL the node it came back on; the boot image on the boot node.
        var survivor = nodes.Keys.Single(n => n != "vios1" && n != consistencyNode);
        var survivorOps = nodes[survivor].Ops;
        nodes[consistencyNode].Process.Kill();
        var second = await AwaitRestartedAsync(survivorOps, "payload", bootNode, failures: 2);
        Assert.Equal("boot", second.GetProperty("image").GetString());
        Assert.Contains("second failure within 10 min", second.GetProperty("reason").GetString());
        Assert.Contains("from the boot image", second.GetProperty("detail").GetString());
        Assert.Contains("(equal to the image's)", second.GetProperty("detail").GetString());
    }

    /// <summary>Waits until the partition's failure number <paramref name="failures"/> completed on <paramref name="node"/>, where it runs; returns that failure.</summary>
    private async Task<JsonElement> AwaitRestartedAsync(string ops, string lpar, string node, int failures)
    {
        JsonElement failure = default;
        await AwaitAssertAsync(async () =>
        {
            var record = await JsonAsync(ops, "ha", "failures", lpar);
            var all = record.GetProperty("failures");
            Assert.Equal(failures, all.GetArrayLength());
            failure = all[failures - 1];
            Assert.True(failure.GetProperty("completed").GetBoolean(), failure.ToString());
            var shown = await JsonAsync(ops, "lpar", "show", lpar);
            Assert.Equal((node, "running"), (shown.GetProperty("node").GetString(), shown.GetProperty("state").GetString()!.ToLowerInvariant()));
        }, RecoveryLimit, Poll);
        Assert.Equal(node, failure.GetProperty("targetNode").GetString());
        return failure;
    }

    private static JsonElement Record(JsonElement status, string lpar) =>
        status.GetProperty("lpars").EnumerateArray().Single(l => l.GetProperty("lpar").GetString() == lpar);

    private static async Task CtlOkAsync(string ops, params string[] command)
    {
        var (exitCode, output, error) = await ProcessCluster.CtlAsync(ops, command);
        Assert.True(exitCode == 0, $"vios ctl {string.Join(' ', command)} failed ({exitCode}): {error}{output}");
    }

    private static async Task<JsonElement> JsonAsync(string ops, params string[] command)
    {
        var (exitCode, output, error) = await ProcessCluster.CtlAsync(ops, ["--json", .. command]);
        Assert.True(exitCode == 0, $"vios ctl {string.Join(' ', command)} failed ({exitCode}): {error}");
        using var document = JsonDocument.Parse(output);
        return document.RootElement.Clone();
    }
}
