using Akka.Actor;
using Vios.Actors.Cluster;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>Vios nodes on one cluster-wide journal (a LocalCluster's shared directory) load one identity and stay.</summary>
public sealed class ClusterIdentityAgreementSpecs : Akka.TestKit.Xunit2.TestKit
{
    [Fact]
    public async Task Nodes_on_one_shared_journal_agree_on_one_identity_and_none_is_refused()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 2);
        var (a, b) = (cluster.ViosNodes[0], cluster.ViosNodes[1]);

        Assert.NotNull(a.ClusterIdentity);
        Assert.Equal(a.ClusterIdentity, b.ClusterIdentity);
        Assert.Equal(a.ClusterDatabase, b.ClusterDatabase);

        // A third node joining later (the announcements to it run both ways) is not refused either.
        var c = await cluster.StartViosNodeAsync();
        Assert.Equal(a.ClusterIdentity, c.ClusterIdentity);
        await cluster.AwaitConvergenceAsync();

        // Every node checked both others and found them on its own journal.
        foreach (var node in cluster.ViosNodes)
        {
            var others = cluster.ViosNodes.Where(n => n != node).Select(n => n.SelfAddress.ToString()).Order(StringComparer.Ordinal).ToList();
            await AwaitAgreedAsync(node, others);
        }
        Assert.All(cluster.ViosNodes, n => Assert.Null(n.Refusal));
        Assert.All(cluster.ViosNodes, n => Assert.False(n.WhenTerminated.IsCompleted));
    }

    private Task AwaitAgreedAsync(ViosNode node, IReadOnlyList<string> others) =>
        AwaitAssertAsync(async () =>
        {
            var status = await node.ClusterIdentityGuard!.Ask<ClusterIdentityStatus>(GetClusterIdentityStatus.Instance, TimeSpan.FromSeconds(5));
            Assert.Empty(status.Disagreed);
            Assert.Equal(others, status.Agreed);
        }, LocalCluster.ConvergenceTimeout, TimeSpan.FromMilliseconds(100));
}
