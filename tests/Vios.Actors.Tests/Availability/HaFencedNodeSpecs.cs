using Akka.Actor;
using Akka.Cluster;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// The HA manager fails a node's partitions over as soon as the master that fenced it says so, not
/// when the down reaches the manager's own node by gossip (issue 12, point 4: the time between a
/// kill and the failover). A node merely reported silent, still an Up member, is not failed over.
/// Two real ActorSystems in one cluster: the manager's, and the node that falls silent (still Up in
/// the manager's view throughout); the partition manager is a scripted probe.
/// </summary>
public sealed class HaFencedNodeSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _directory;

    public HaFencedNodeSpecs()
        : this(new TempDirectory())
    {
    }

    private HaFencedNodeSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path), "vios") => _directory = directory;

    [Fact]
    public async Task A_node_its_reporter_has_fenced_fails_over_while_the_manager_still_sees_it_up()
    {
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        var other = ActorSystem.Create(Sys.Name, HaManagerHarness.Config(Path.Combine(_directory.Path, "n1")));
        try
        {
            Akka.Cluster.Cluster.Get(other).Join(cluster.SelfAddress);
            var n1 = Akka.Cluster.Cluster.Get(other).SelfAddress.ToString();
            await AwaitAssertAsync(() => Assert.Equal(2, cluster.State.Members.Count(m => m.Status == MemberStatus.Up)), Wait);

            // db runs on n1, whose firmware is still registered at its address.
            var list = HaManagerHarness.List([HaManagerHarness.Running("db", "n1")], "n1", "n2", "n3");
            var script = new ScriptedPartitionManager(TestActor)
            {
                List = list with { NodeAddresses = new Dictionary<string, string>(list.NodeAddresses) { ["n1"] = n1 } },
                Answer = message => message is FenceNode fence ? new NodeFenced(fence.Node, true) : null,
            };
            var probe = CreateTestProbe();
            probe.SetAutoPilot(script);
            var manager = Sys.ActorOf(HaManagerActor.Props(probe.Ref, AvailabilitySettings.Default with { StartupGrace = TimeSpan.FromMilliseconds(1) }));
            var silent = new NodeSilent(n1, cluster.SelfAddress.ToString(), 7, ["db"], DateTimeOffset.UtcNow.AddSeconds(-2), DateTimeOffset.UtcNow);

            // Silent, and an Up member: not failed (yet).
            manager.Tell(silent);
            await ExpectNoMsgAsync(TimeSpan.FromSeconds(1));
            Assert.Equal(MemberStatus.Up, cluster.State.Members.Single(m => m.Address.ToString() == n1).Status);

            // Fenced by its reporter: failed over at once, although this node still sees n1 Up.
            manager.Tell(silent with { FencedByReporter = true });
            // The partition manager first drops the fenced firmware, then moves the partition.
            Assert.Equal(new FenceNode("n1", n1), await ExpectMsgAsync<FenceNode>(Wait));
            var move = await ExpectMsgAsync<MoveLpar>(Wait);
            Assert.Equal("db", move.Name);
            Assert.NotEqual("n1", move.ToNode);
            Assert.Equal(MemberStatus.Up, cluster.State.Members.Single(m => m.Address.ToString() == n1).Status);
        }
        finally
        {
            await other.Terminate();
        }
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}
