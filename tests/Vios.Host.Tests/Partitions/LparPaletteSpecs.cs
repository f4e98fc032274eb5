using System.Text.Json;
using Vios.Host.Tests.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>`vios ctl lpar ...` against the shared cluster: a partition's life as an operator drives it.</summary>
[Collection(ClusterCollection.Name)]
public sealed class LparPaletteSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [Fact]
    public async Task A_partition_is_created_started_runs_a_workload_and_is_stopped_and_deleted_from_any_node()
    {
        var name = NewName("life");
        var target = cluster.Cluster.ViosNodes[2];
        await AwaitCreatedAsync(cluster.ViosA, name, "--vcpus", "2", "--memory-mb", "16", "--node", target.Name);

        var started = await Ctl.AtAsync(cluster.ViosB, "lpar", "start", name);
        Assert.True(started.ExitCode == 0, started.ToString());
        Assert.Equal($"lpar {name} on {target.Name}: running", started.StdoutLines[0]);
        var workload = await Ctl.AtAsync(cluster.ViosA, "lpar", "workload", name, "--rate", "20000", "--skew", "0.8", "--processes", "4");
        Assert.True(workload.ExitCode == 0, workload.ToString());

        // The shadow cache serves the context switches of 4 processes from 4 tables: hits follow the misses.
        await AwaitAssertAsync(async () =>
        {
            var status = await ShowAsync(cluster.ViosB, name);
            var shadow = status.GetProperty("shadow");
            Assert.Equal(4, shadow.GetProperty("misses").GetInt64());
            Assert.True(shadow.GetProperty("hits").GetInt64() > 0);
            Assert.True(status.GetProperty("dirtyPages").GetInt64() > 0);
            Assert.True(status.GetProperty("workload").GetProperty("writes").GetInt64() > 1000);
        }, Wait, TimeSpan.FromMilliseconds(200));
        var text = await Ctl.AtAsync(cluster.ViosA, "lpar", "show", name);
        Assert.Contains(text.StdoutLines, l => l.StartsWith("shadow cache: on, 4/64 tables; hits ", StringComparison.Ordinal));
        // Its first vCPU is one of the node's physical CPUs, shown with its position (other specs on the
        // shared cluster may hold the lower ones).
        Assert.Contains(text.StdoutLines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
            $@"^vcpu0 +{System.Text.RegularExpressions.Regex.Escape(target.Name)}/cec\d+/node\d+/cpu\d+ +cec\d+/node\d+/cpu\d+$"));

        var list = await Ctl.AtAsync(cluster.ViosA, "lpar", "list");
        Assert.Contains(list.StdoutLines, l => l.StartsWith($"{name} ", StringComparison.Ordinal) && l.Contains(" running ") && l.Contains(target.Name));

        var refusedDelete = await Ctl.AtAsync(cluster.ViosA, "lpar", "delete", name);
        Assert.Equal(1, refusedDelete.ExitCode);
        Assert.Contains($"'{name}' is running: stop it first", refusedDelete.Stderr);

        var stopped = await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", name);
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        Assert.Equal($"lpar {name} on {target.Name}: stopped", stopped.StdoutLines[0]);
        await AwaitAssertAsync(async () =>
        {
            var deleted = await Ctl.AtAsync(cluster.ViosB, "lpar", "delete", name);
            Assert.True(deleted.ExitCode == 0, deleted.ToString());
        }, Wait, TimeSpan.FromMilliseconds(200));
        var gone = await Ctl.AtAsync(cluster.ViosA, "lpar", "show", name);
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains($"no partition named '{name}'", gone.Stderr);
    }

    [Fact]
    public async Task Bad_requests_are_refused_with_the_reason_and_the_partition_is_left_as_it_was()
    {
        var name = NewName("bad");
        await AwaitCreatedAsync(cluster.ViosA, name, "--vcpus", "1", "--memory-mb", "8");

        var cases = new (string[] Args, int Exit, string Error)[]
        {
            (["lpar", "create", NewName("x"), "--vcpus", "1", "--memory-mb", "8", "--policy", "nearest"], 2, "--policy 'nearest' is not one of locality, spread, balanced"),
            (["lpar", "create", NewName("x"), "--memory-mb", "8"], 2, "--vcpus needs a number of virtual CPUs"),
            (["lpar", "create", "Not_A_Name", "--vcpus", "1", "--memory-mb", "8"], 1, "'Not_A_Name' is not a partition name"),
            (["lpar", "create", name, "--vcpus", "1", "--memory-mb", "8"], 1, $"a partition named '{name}' already exists"),
            (["lpar", "create", NewName("x"), "--vcpus", "1", "--memory-mb", "8", "--node", "nowhere"], 1, "no vios node 'nowhere' advertises resources"),
            (["lpar", "create", NewName("x"), "--vcpus", "1", "--memory-mb", "8", "--adapters", "infiniband"], 1, "none has 1 free 'infiniband' adapter"),
            (["lpar", "workload", name, "--rate", "1000"], 1, $"a workload runs in a running partition; '{name}' is defined"),
            (["lpar", "stop", name], 1, $"cannot stop '{name}': it is defined: there is nothing to stop"),
            (["lpar", "workload", name, "--rate", "1000", "--skew", "2"], 2, "--skew needs a share from 0 to 1"),
            (["lpar", "start", "no-such-lpar"], 1, "no partition named 'no-such-lpar'"),
        };
        foreach (var (args, exit, error) in cases)
        {
            var result = await Ctl.AtAsync(cluster.ViosB, args);
            Assert.True(result.ExitCode == exit && result.Stderr.Contains(error, StringComparison.Ordinal),
                $"{string.Join(' ', args)}: expected exit {exit} and '{error}'; got {result}");
        }

        var status = await ShowAsync(cluster.ViosA, name);
        Assert.Equal("Defined", status.GetProperty("state").GetString());
        var started = await Ctl.AtAsync(cluster.ViosA, "lpar", "start", name);
        Assert.True(started.ExitCode == 0, started.ToString());
        var again = await Ctl.AtAsync(cluster.ViosA, "lpar", "start", name);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains($"cannot start '{name}': it is already running", again.Stderr);
        Assert.True((await Ctl.AtAsync(cluster.ViosA, "lpar", "stop", name)).ExitCode == 0);
    }

    /// <summary>Creates a partition once the manager knows every node (the shared cluster may have just started).</summary>
    private async Task AwaitCreatedAsync(Vios.Host.Node.ViosNode through, string name, params string[] options)
    {
        await AwaitAssertAsync(async () =>
        {
            var list = await Ctl.AtAsync(through, "--json", "lpar", "list");
            Assert.True(list.ExitCode == 0, list.ToString());
            using var document = JsonDocument.Parse(list.Stdout);
            Assert.Equal(cluster.Cluster.ViosNodes.Count, document.RootElement.GetProperty("nodes").GetArrayLength());
        }, Wait, TimeSpan.FromMilliseconds(200));
        var created = await Ctl.AtAsync(through, ["lpar", "create", name, .. options]);
        Assert.True(created.ExitCode == 0, created.ToString());
    }

    private static async Task<JsonElement> ShowAsync(Vios.Host.Node.ViosNode through, string name)
    {
        var result = await Ctl.AtAsync(through, "--json", "lpar", "show", name);
        Assert.True(result.ExitCode == 0, result.ToString());
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }
}
