using Akka.Cluster;

namespace Vios.Host.Tests.Ops;

/// <summary>A lighthouse and two vios nodes, all up as every one of them sees it, shared by the palette tests.</summary>
public sealed class OpsClusterFixture : IAsyncLifetime
{
    private static readonly TimeSpan FormationTimeout = TimeSpan.FromSeconds(30);

    public TestNode Lighthouse { get; private set; } = null!;
    public TestNode ViosA { get; private set; } = null!;
    public TestNode ViosB { get; private set; } = null!;

    public IReadOnlyList<TestNode> Nodes => [Lighthouse, ViosA, ViosB];

    public async Task InitializeAsync()
    {
        Lighthouse = await TestNode.StartLighthouseAsync();
        var vios = await Task.WhenAll(TestNode.StartViosAsync(Lighthouse), TestNode.StartViosAsync(Lighthouse));
        (ViosA, ViosB) = (vios[0], vios[1]);
        await AllUpAsync(Nodes, FormationTimeout);
    }

    public async Task DisposeAsync() => await Task.WhenAll(Nodes.Select(n => n.DisposeAsync().AsTask()));

    /// <summary>Waits until each of <paramref name="nodes"/> sees exactly them, all up and reachable.</summary>
    public static Task AllUpAsync(IReadOnlyList<TestNode> nodes, TimeSpan timeout) =>
        Eventually.HoldsAsync(
            () => nodes.All(n =>
            {
                var state = n.Node.Cluster.State;
                return state.Members.Count == nodes.Count && state.Members.All(m => m.Status == MemberStatus.Up) && state.Unreachable.Count == 0;
            }),
            timeout,
            () => "the cluster did not form: " + string.Join("; ", nodes.Select(n => $"{n.Node.Name} sees {n.Node.Cluster.State.Members.Count} members")));
}

[CollectionDefinition(Name)]
public sealed class OpsClusterCollection : ICollectionFixture<OpsClusterFixture>
{
    public const string Name = "ops cluster";
}
