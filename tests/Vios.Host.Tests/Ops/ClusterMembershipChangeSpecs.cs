using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>A cluster of its own (a lighthouse and two vios nodes), since these tests take members out of it.</summary>
public sealed class ShrinkingCluster : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public ViosNode Lighthouse => Cluster.Lighthouse;
    public ViosNode Leaver { get; private set; } = null!;
    public ViosNode Downed { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await TestCluster.StartAsync(viosNodes: 2);
        (Leaver, Downed) = (Cluster.ViosNodes[0], Cluster.ViosNodes[1]);
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class ClusterMembershipChangeSpecs(ShrinkingCluster cluster) : IClassFixture<ShrinkingCluster>
{
    private static readonly TimeSpan RemovalTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Leave_of_a_member_by_full_address_removes_it_from_the_cluster()
    {
        var address = cluster.Leaver.SelfAddress;

        var result = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "leave", address.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"leaving: {address}", result.Stdout.Trim());
        await cluster.Cluster.AwaitRemovedAsync(address, RemovalTimeout);
        await cluster.Leaver.WhenTerminated.WaitAsync(RemovalTimeout);
        await NotListedAsync(address.ToString());
    }

    [Fact]
    public async Task Down_of_a_member_by_host_and_port_removes_it_from_the_cluster()
    {
        var address = cluster.Downed.SelfAddress;

        var result = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "down", cluster.Downed.HostPort());

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"downing: {address}", result.Stdout.Trim());
        await cluster.Cluster.AwaitRemovedAsync(address, RemovalTimeout);
        await NotListedAsync(address.ToString());
    }

    private async Task NotListedAsync(string address)
    {
        var show = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "show");
        Assert.Equal(0, show.ExitCode);
        Assert.DoesNotContain(address, show.Stdout);
    }
}
