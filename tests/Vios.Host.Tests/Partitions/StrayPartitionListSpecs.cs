using Akka.Actor;
using Vios.Actors.Partitions;
using Vios.Host.Tests.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>
/// `vios ctl lpar list` shows a partition a node runs that the partition manager has no record of
/// (as after a manager recovered from an empty journal): left running, listed apart, with its node.
/// </summary>
public sealed class StrayPartitionListSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_partition_outside_the_managers_record_is_listed_as_not_in_it_and_keeps_running()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];

        // 'ghost' placed on this node by a manager on another journal: this cluster's manager never heard of it.
        var elsewhere = new PartitionRegistry();
        elsewhere.Register(node.Partitions!.Resources, new Dictionary<string, LparState>());
        var (defined, refusal) = elsewhere.Decide(new CreateLpar("ghost", 1, 16, PlacementPolicy.Balanced, [], node.Name), DateTimeOffset.UtcNow);
        Assert.True(defined is not null, refusal?.Reason);
        node.Firmware!.Tell(new HostLpar(defined.Definition));
        var started = await node.Firmware.Ask<LparStatus>(new StartLpar("ghost"), Wait);
        Assert.Equal(LparState.Running, started.State);

        // The firmware registers again, as with every new manager instance, and reports it.
        node.Firmware.Tell(PartitionManagerOnline.Instance);
        await AwaitAssertAsync(async () =>
        {
            var list = await Ctl.AtAsync(node, "lpar", "list");
            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Contains(list.StdoutLines, l => l.StartsWith("running outside the partition manager's record", StringComparison.Ordinal));
            Assert.Contains(list.StdoutLines, l => l.StartsWith("ghost ", StringComparison.Ordinal)
                && l.Contains(" running ") && l.Contains(node.Name) && l.Contains("not in the manager's record"));
        }, Wait, TimeSpan.FromMilliseconds(200));

        var status = await node.Firmware.Ask<LparStatus>(new ShowLpar("ghost"), Wait);
        Assert.Equal(LparState.Running, status.State);
        var show = await Ctl.AtAsync(node, "lpar", "show", "ghost");
        Assert.Equal(1, show.ExitCode);
        Assert.Contains("not in the partition manager's record", show.Stderr);
    }
}
