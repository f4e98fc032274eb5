using System.Text.Json;
using Vios.Host.Node;
using Vios.Host.Tests.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>`vios ctl wpar ...` against the shared cluster: a WPAR's kernel state moved between nodes' kernels.</summary>
[Collection(ClusterCollection.Name)]
public sealed class WparPaletteSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [Fact]
    public async Task A_demo_wpar_migrates_to_another_node_unchanged_inside_with_new_real_ids_and_restarts_from_its_checkpoint()
    {
        var (sourceNode, targetNode) = (cluster.Cluster.ViosNodes[0], cluster.Cluster.ViosNodes[2]);
        var source = NewName("wsrc");
        var target = NewName("wdst");
        await CreateAsync(cluster.ViosB, source, "--vcpus", "1", "--memory-mb", "8", "--node", sourceNode.Name);
        await CreateAsync(cluster.ViosB, target, "--vcpus", "1", "--memory-mb", "8", "--node", targetNode.Name);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "start", source)).ExitCode);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "start", target)).ExitCode);

        var created = await Ctl.AtAsync(cluster.ViosB, "wpar", "create", source, "demo", "--demo");
        Assert.True(created.ExitCode == 0, created.ToString());
        var shown = await Ctl.AtAsync(cluster.ViosA, "wpar", "show", source, "demo");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Equal($"WPAR demo in {source} on {sourceNode.Name}, as it sees itself:", shown.StdoutLines[0]);
        Assert.Contains("ptys:", shown.StdoutLines);
        Assert.Contains("streams:", shown.StdoutLines);
        Assert.Contains("System V message queues:", shown.StdoutLines);
        Assert.Contains("POSIX semaphores:", shown.StdoutLines);
        Assert.Contains(shown.StdoutLines, l => l.StartsWith("MessageQueue ", StringComparison.Ordinal) && l.Contains(" -> ", StringComparison.Ordinal));
        var list = await Ctl.AtAsync(cluster.ViosA, "wpar", "list", source);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.StartsWith("demo ", list.StdoutLines[1]);

        var migrated = await Ctl.AtAsync(cluster.ViosA, "--json", "wpar", "migrate", source, "demo", "--to", target);
        Assert.True(migrated.ExitCode == 0, migrated.ToString());
        using (var json = JsonDocument.Parse(migrated.Stdout))
        {
            var root = json.RootElement;
            Assert.Equal((sourceNode.Name, targetNode.Name), (root.GetProperty("fromNode").GetString(), root.GetProperty("toNode").GetString()));
            Assert.Equal(Lines(root.GetProperty("viewBefore")), Lines(root.GetProperty("viewAfter")));
            var before = Ids(root.GetProperty("realIdsBefore"));
            var after = Ids(root.GetProperty("realIdsAfter"));
            Assert.Equal(before.Select(i => (i.Kind, i.Virtual)), after.Select(i => (i.Kind, i.Virtual)));
            Assert.NotEqual(before.Select(i => i.Real), after.Select(i => i.Real));
        }
        var gone = await Ctl.AtAsync(cluster.ViosA, "wpar", "show", source, "demo");
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains($"'{source}' has no WPAR named demo", gone.Stderr, StringComparison.Ordinal);

        var noCheckpoint = await Ctl.AtAsync(cluster.ViosA, "wpar", "restart", target, "demo", "--on-node", targetNode.Name);
        Assert.Equal(1, noCheckpoint.ExitCode);
        Assert.Contains($"WPAR demo of '{target}' has no checkpoint", noCheckpoint.Stderr, StringComparison.Ordinal);

        var checkpointed = await Ctl.AtAsync(cluster.ViosB, "wpar", "checkpoint", target, "demo");
        Assert.True(checkpointed.ExitCode == 0, checkpointed.ToString());
        Assert.Matches($@"^WPAR demo of {target} on {targetNode.Name}: image [\d,]+ bytes, checksum [0-9a-f]{{16}}, kept as wpar-{target}-demo #1$", checkpointed.StdoutLines[0]);
        Assert.Equal("3 process(es), 2 IPC object(s), 1 pty pair(s), 1 stream(s)", checkpointed.StdoutLines[1]);

        var wrongNode = await Ctl.AtAsync(cluster.ViosA, "wpar", "restart", target, "demo", "--on-node", sourceNode.Name);
        Assert.Equal(1, wrongNode.ExitCode);
        Assert.Contains($"'{target}' runs on {targetNode.Name}, not on {sourceNode.Name}", wrongNode.Stderr, StringComparison.Ordinal);

        var restarted = await Ctl.AtAsync(cluster.ViosA, "wpar", "restart", target, "demo", "--on-node", targetNode.Name);
        Assert.True(restarted.ExitCode == 0, restarted.ToString());
        Assert.Equal($"WPAR demo in {target} on {targetNode.Name}, as it sees itself:", restarted.StdoutLines[0]);
        var afterRestart = await Ctl.AtAsync(cluster.ViosA, "wpar", "list", target);
        Assert.Single(afterRestart.StdoutLines, l => l.StartsWith("demo ", StringComparison.Ordinal));

        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", source)).ExitCode);
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", target)).ExitCode);
    }

    [Fact]
    public async Task Bad_wpar_requests_are_refused_with_the_reason()
    {
        var name = NewName("wbad");
        await CreateAsync(cluster.ViosA, name, "--vcpus", "1", "--memory-mb", "8");

        var cases = new (string[] Args, int Exit, string Message)[]
        {
            (["wpar", "list", "nope-lpar"], 1, "no partition named 'nope-lpar'"),
            (["wpar", "list", name], 1, $"'{name}' is defined: WPARs run in a running partition"),
            (["wpar", "restart", name, "demo"], 2, "'on-node' is required: --on-node NODE"),
            (["wpar", "migrate", name, "demo"], 2, "'to' is required: --to LPAR2"),
        };
        foreach (var (args, exit, message) in cases)
        {
            var result = await Ctl.AtAsync(cluster.ViosB, args);
            Assert.True(result.ExitCode == exit, $"{string.Join(' ', args)}: {result}");
            Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "start", name)).ExitCode);
        var running = new (string[] Args, string Message)[]
        {
            (["wpar", "show", name, "nope"], $"'{name}' has no WPAR named nope"),
            (["wpar", "checkpoint", name, "nope"], $"'{name}' has no WPAR named nope"),
            (["wpar", "migrate", name, "nope", "--to", name], $"WPAR nope is in '{name}' already"),
            (["wpar", "migrate", name, "nope", "--to", "nope-lpar"], $"'{name}' has no WPAR named nope"),
        };
        foreach (var (args, message) in running)
        {
            var result = await Ctl.AtAsync(cluster.ViosB, args);
            Assert.True(result.ExitCode == 1, $"{string.Join(' ', args)}: {result}");
            Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        }
        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "wpar", "create", name, "w1")).ExitCode);
        var toUnknown = await Ctl.AtAsync(cluster.ViosB, "wpar", "migrate", name, "w1", "--to", "nope-lpar");
        Assert.Equal(1, toUnknown.ExitCode);
        Assert.Contains($"WPAR w1 stays in '{name}': no partition named 'nope-lpar'", toUnknown.Stderr, StringComparison.Ordinal);
        var duplicate = await Ctl.AtAsync(cluster.ViosB, "wpar", "create", name, "w1");
        Assert.Equal(1, duplicate.ExitCode);
        Assert.Contains("Exists: a WPAR named w1 exists", duplicate.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", name)).ExitCode);
    }

    private static List<string?> Lines(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString())];

    private static List<(string? Kind, string? Virtual, long Real)> Ids(JsonElement array) =>
        [.. array.EnumerateArray().Select(e => (e.GetProperty("kind").GetString(), e.GetProperty("virtual").GetString(), e.GetProperty("real").GetInt64()))];

    private async Task CreateAsync(ViosNode through, string name, params string[] options) =>
        await AwaitAssertAsync(async () =>
        {
            var created = await Ctl.AtAsync(through, ["lpar", "create", name, .. options]);
            Assert.True(created.ExitCode == 0, created.ToString());
        }, Wait, TimeSpan.FromMilliseconds(250));
}
