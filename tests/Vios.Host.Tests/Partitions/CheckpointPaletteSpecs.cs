using System.Text.Json;
using Vios.Actors.Checkpoint;
using Vios.Host.Ops.Palettes;
using Vios.Host.Node;
using Vios.Host.Tests.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>`vios ctl checkpoint ...` against the shared cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointPaletteSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [Fact]
    public async Task Full_incremental_and_cow_checkpoints_list_and_restore_into_a_partition_on_another_node_byte_for_byte()
    {
        var (source, target) = (cluster.Cluster.ViosNodes[0], cluster.Cluster.ViosNodes[2]);
        var name = NewName("ckpt");
        var copy = NewName("copy");
        await CreateAsync(cluster.ViosB, name, "--vcpus", "1", "--memory-mb", "16", "--node", source.Name);
        await CreateAsync(cluster.ViosB, copy, "--vcpus", "1", "--memory-mb", "16", "--node", target.Name);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "start", name)).ExitCode);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "workload", name, "--rate", "50000")).ExitCode);

        var full = await Ctl.AtAsync(cluster.ViosB, "checkpoint", "take", name, "--mode", "full");
        Assert.True(full.ExitCode == 0, full.ToString());
        Assert.Equal($"checkpointing {name} (full)...", full.StdoutLines[0]);
        Assert.Matches($@"^{name} on {source.Name}: epoch \d+ committed, full, [\d,]+ pages \([\d.]+ MiB\), stun [\d.]+ ms, memory checksum [0-9a-f]{{16}}$", full.StdoutLines[1]);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosB, "checkpoint", "take", name)).ExitCode);
        var cow = await Ctl.AtAsync(cluster.ViosB, "--json", "checkpoint", "take", name, "--mode", "cow");
        Assert.True(cow.ExitCode == 0, cow.ToString());
        using var taken = JsonDocument.Parse(cow.Stdout);
        var cowEpoch = taken.RootElement.GetProperty("epoch").GetInt64();
        Assert.Equal("Full", taken.RootElement.GetProperty("kind").GetString());

        // A read answers within the live-answer budget (issue 12): while the journal is still busy with
        // the images just taken on a loaded machine, it says it has no live answer; asked again, it has one.
        CtlResult list = null!;
        await AwaitAssertAsync(async () =>
        {
            list = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "list", name);
            Assert.True(list.ExitCode == 0, list.ToString());
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        Assert.Equal($"{name}: consistency image epoch {cowEpoch}, 0 delta(s) after it", list.StdoutLines[0]);

        var restored = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "restore", name, "--into", copy);
        Assert.True(restored.ExitCode == 0, restored.ToString());
        Assert.Matches($@"^{copy} on {target.Name}: running from epoch {cowEpoch} of {name} \(1 image applied\), memory checksum [0-9a-f]{{16}}, equal to the checksum at the stun$",
            restored.StdoutLines[1]);

        var stats = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "stats", name);
        Assert.Equal($"checkpoints of {name}: manual", stats.StdoutLines[0]);
        Assert.StartsWith("epochs 3, failed 0;", stats.StdoutLines[1]);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", name)).ExitCode);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", copy)).ExitCode);
    }

    [Fact]
    public async Task Bad_checkpoint_requests_are_refused_with_the_reason()
    {
        var name = NewName("badck");
        await CreateAsync(cluster.ViosA, name, "--vcpus", "1", "--memory-mb", "8");
        var notRunning = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "take", name);
        Assert.Equal(1, notRunning.ExitCode);
        Assert.Contains($"only a running partition can be checkpointed; '{name}' is defined", notRunning.Stderr);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "start", name)).ExitCode);

        var cases = new (string[] Args, int Exit, string Error)[]
        {
            (["checkpoint", "take", name, "--mode", "sometimes"], 2, "--mode 'sometimes' is not one of full, incremental, cow"),
            (["checkpoint", "take", name, "--interval", "5"], 1, "the epoch interval is at least 10 ms"),
            (["checkpoint", "restore", name], 1, $"'{name}' is running: stop it before restoring an image into it"),
            (["checkpoint", "replicate", name, "--to", "nowhere"], 1, "no vios node 'nowhere' is in the cluster"),
            (["checkpoint", "replicate", name], 2, "'to' is required"),
            (["checkpoint", "list", "no-such-lpar"], 1, "no partition named 'no-such-lpar'"),
        };
        foreach (var (args, exit, error) in cases)
        {
            var result = await Ctl.AtAsync(cluster.ViosB, args);
            Assert.True(result.ExitCode == exit && result.Stderr.Contains(error, StringComparison.Ordinal),
                $"{string.Join(' ', args)}: expected exit {exit} and '{error}'; got {result}");
        }

        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", name)).ExitCode);
        var unknownEpoch = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "restore", name, "--epoch", "42");
        Assert.Equal(1, unknownEpoch.ExitCode);
        Assert.Contains("epoch 42 is not in the journal", unknownEpoch.Stderr);
        var boot = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "restore", name, "--epoch", "0");
        Assert.True(boot.ExitCode == 0, boot.ToString());
        Assert.Contains("running from epoch 0 of", boot.StdoutLines[1]);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", name)).ExitCode);
    }

    [Fact]
    public void Stats_of_a_fault_tolerant_pair_show_its_lag_the_primary_cpu_share_and_the_decisions()
    {
        var stats = new CheckpointStats("db", "replicating to vios-b every 20 ms (S23), 0 pages sent before the stun", 20, 1_200, 0, 310, 990,
            1 << 20, 1 << 19, 0.5, 3, 4_000, null, null, new FaultTolerantPairStats(Lag: 9, PrimaryRate: 0.32768, Lowered: 5, Raised: 2, Held: 1_193));
        var unpaired = stats with { Pair = new FaultTolerantPairStats(0, 1.0, 0, 0, 1) };

        Assert.Equal("  fault-tolerant pair (S22): lag 9 epochs, primary CPU 32.8%; rate lowered 5, raised 2, held 1,193",
            CheckpointPalette.StatsLines(stats).ToList()[4]);
        Assert.Equal("  fault-tolerant pair (S22): lag 0 epochs, primary CPU 100%; rate lowered 0, raised 0, held 1",
            CheckpointPalette.StatsLines(unpaired).ToList()[4]);
        Assert.DoesNotContain(CheckpointPalette.StatsLines(stats with { Pair = null }), line => line.Contains("S22", StringComparison.Ordinal));
    }

    private async Task CreateAsync(ViosNode through, string name, params string[] options) =>
        await AwaitAssertAsync(async () =>
        {
            var created = await Ctl.AtAsync(through, ["lpar", "create", name, .. options]);
            Assert.True(created.ExitCode == 0, created.ToString());
        }, Wait, TimeSpan.FromMilliseconds(250));
}
