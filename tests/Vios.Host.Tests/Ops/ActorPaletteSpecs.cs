using Vios.Testing;
using System.Text.Json;

namespace Vios.Host.Tests.Ops;

[Collection(ClusterCollection.Name)]
public sealed class ActorPaletteSpecs(ClusterFixture cluster)
{
    [Fact]
    public async Task Hierarchy_of_a_vios_node_shows_its_boot_log_under_user_and_the_system_actors()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "actor", "hierarchy");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal("/user", lines[0]);
        Assert.Contains("  /user/boot-log", lines);
        Assert.Contains("/system", lines);
        Assert.Contains("    /system/cluster/core", lines);
    }

    [Fact]
    public async Task Hierarchy_from_a_start_path_to_depth_1_shows_that_subtree_only()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "actor", "hierarchy", "-s", "/system/cluster", "-d", "1", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var actors = JsonDocument.Parse(result.Stdout).RootElement.GetProperty("actors").EnumerateArray()
            .Select(a => (Path: a.GetProperty("path").GetString()!, Depth: a.GetProperty("depth").GetInt32())).ToList();
        Assert.Equal(("/system/cluster", 0), actors[0]);
        Assert.Contains(("/system/cluster/core", 1), actors);
        Assert.All(actors.Skip(1), a => Assert.Equal(1, a.Depth));
    }

    [Fact]
    public async Task Hierarchy_from_a_path_without_an_actor_fails_with_exit_1()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "actor", "hierarchy", "-s", "/user/nobody-here");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no actor at /user/nobody-here", result.Stderr);
    }

    [Fact]
    public async Task Hierarchy_with_a_depth_that_is_not_a_number_is_bad_usage()
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "actor", "hierarchy", "-d", "deep");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("DEPTH 'deep'", result.Stderr);
    }
}
