using Akka.Cluster;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

public sealed class ClusterFormationSpecs
{
    private static readonly TimeSpan RemovalTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Lighthouse_and_three_vios_nodes_form_one_cluster_with_their_roles()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 3);

        foreach (var node in cluster.RunningNodes)
        {
            var members = node.Cluster.State.Members;
            Assert.Equal(4, members.Count(m => m.Status == MemberStatus.Up));
            Assert.Single(members, m => m.HasRole("lighthouse"));
            Assert.Equal(3, members.Count(m => m.HasRole("vios")));
        }
        Assert.All(cluster.ViosNodes, n => Assert.Equal(1, n.Incarnation));
    }

    [Fact]
    public async Task A_node_that_leaves_gracefully_is_removed_and_its_system_stops()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 3);
        var leaving = cluster.ViosNodes[^1];
        var address = leaving.SelfAddress;

        await leaving.StopAsync();

        Assert.True(leaving.WhenTerminated.IsCompleted);
        await cluster.AwaitRemovedAsync(address, RemovalTimeout);
        Assert.All(cluster.RunningNodes, n => Assert.Equal(3, n.Cluster.State.Members.Count));
    }

    [Fact]
    public async Task A_downed_node_is_removed_by_the_others_and_shuts_itself_down()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 3);
        var downed = cluster.ViosNodes[0];
        var address = downed.SelfAddress;

        cluster.Lighthouse.Cluster.Down(address);

        await cluster.AwaitRemovedAsync(address, RemovalTimeout);
        // run-coordinated-shutdown-when-down: a downed node does not linger half-alive.
        await downed.WhenTerminated.WaitAsync(RemovalTimeout);
        Assert.All(cluster.RunningNodes, n => Assert.DoesNotContain(n.Cluster.State.Members, m => m.Address == address));
    }
}
