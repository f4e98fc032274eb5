using Akka.Actor;
using Vios.Actors.Operations;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>
/// A vios node that comes Up hears the partition manager's list and the HA manager's status at once,
/// not at their next periodic publication: it may be the node a survivor's takeover needs within the
/// second (the chaos soak saw a node killed 0.4 s after its designated takeover node came Up; that
/// node had no view, and the partitions waited 10 s for the new singletons). The periodic publication
/// is set to 10 minutes here, so only the publication on the member's Up can fill the view.
/// </summary>
public sealed class ControlViewOnJoinSpecs : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private readonly LocalClusterOptions _options = TestCluster.Options();
    private LocalCluster _cluster = null!;

    public Task InitializeAsync()
    {
        _cluster = LocalCluster.Create(_options);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_node_that_comes_Up_has_both_managers_views_long_before_their_next_periodic_publication()
    {
        Directory.CreateDirectory(_options.RootDirectory);
        var config = Path.Combine(_options.RootDirectory, "slow-publication.hocon");
        await File.WriteAllTextAsync(config, "vios.ops.view-publish-interval = 10m");
        await _cluster.StartLighthouseAsync();
        foreach (var name in new[] { "a", "b" })
            await _cluster.StartViosNodeAsync(awaitUp: true, customize: o => o with { Name = name, ConfigFile = config });
        await _cluster.AwaitConvergenceAsync();
        // The managers run on a and have published once as they started.
        await AwaitAssertAsync(async () =>
            Assert.NotNull((await Node("b").ControlView!.Ask<ControlPlaneView>(GetControlView.Instance, Wait)).Availability), Wait, Poll);

        await _cluster.StartViosNodeAsync(awaitUp: true, customize: o => o with { Name = "c", ConfigFile = config });

        await AwaitAssertAsync(async () =>
        {
            var view = await Node("c").ControlView!.Ask<ControlPlaneView>(GetControlView.Instance, Wait);
            Assert.NotNull(view.Partitions);
            Assert.NotNull(view.Availability);
        }, Wait, Poll);
    }

    private ViosNode Node(string name) => _cluster.ViosNodes.Single(n => n.Name == name);
}
