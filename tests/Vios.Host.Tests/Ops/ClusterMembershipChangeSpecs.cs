
namespace Vios.Host.Tests.Ops;

/// <summary>A small cluster of its own, since these tests take members out of it.</summary>
public sealed class ShrinkingCluster : IAsyncLifetime
{
    public TestNode Lighthouse { get; private set; } = null!;
    public TestNode Leaver { get; private set; } = null!;
    public TestNode Downed { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Lighthouse = await TestNode.StartLighthouseAsync();
        var vios = await Task.WhenAll(TestNode.StartViosAsync(Lighthouse), TestNode.StartViosAsync(Lighthouse));
        (Leaver, Downed) = (vios[0], vios[1]);
        await OpsClusterFixture.AllUpAsync([Lighthouse, Leaver, Downed], TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync() =>
        await Task.WhenAll(new[] { Leaver, Downed, Lighthouse }.Select(n => n.DisposeAsync().AsTask()));
}

public sealed class ClusterMembershipChangeSpecs(ShrinkingCluster cluster) : IClassFixture<ShrinkingCluster>
{
    private static readonly TimeSpan RemovalTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Leave_of_a_member_by_full_address_removes_it_from_the_cluster()
    {
        var address = cluster.Leaver.Node.SelfAddress.ToString();

        var result = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "leave", address);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"leaving: {address}", result.Stdout.Trim());
        await RemovedAsync(address);
        await cluster.Leaver.Node.WhenTerminated.WaitAsync(RemovalTimeout);
    }

    [Fact]
    public async Task Down_of_a_member_by_host_and_port_removes_it_from_the_cluster()
    {
        var address = cluster.Downed.Node.SelfAddress.ToString();

        var result = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "down", cluster.Downed.HostPort);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"downing: {address}", result.Stdout.Trim());
        await RemovedAsync(address);
    }

    private async Task RemovedAsync(string address)
    {
        CtlResult? show = null;
        await Eventually.HoldsAsync(
            async () => (show = await Ctl.AtAsync(cluster.Lighthouse, "cluster", "show")).ExitCode == 0
                && !show.Stdout.Contains(address, StringComparison.Ordinal),
            RemovalTimeout,
            () => $"{address} is still listed: {show}");
    }
}
