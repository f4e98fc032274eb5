using Akka.Actor;
using Vios.Actors.Cluster;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>
/// How specs talk to the shared cluster: TestKit probes created on the nodes' own ActorSystems.
/// Here a probe on one vios node asks another node's boot log over remoting, so the request and the
/// reply both cross the wire through our serializer.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RemoteMessagingSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    [Fact]
    public void A_boot_log_answers_a_probe_on_another_node_over_the_wire()
    {
        var probe = CreateTestProbe(cluster.ViosB.System);
        var remoteBootLog = cluster.ViosB.System.ActorSelection(new RootActorPath(cluster.ViosA.SelfAddress) / "user" / "boot-log");

        remoteBootLog.Tell(GetBootHistory.Instance, probe.Ref);

        var history = probe.ExpectMsg<NodeBootHistory>(TimeSpan.FromSeconds(10));
        Assert.Equal(cluster.ViosA.Name, history.NodeName);
        Assert.Equal(cluster.ViosA.SelfAddress.ToString(), history.LastBoot!.Address);
        Assert.Equal(cluster.ViosA.SelfAddress, probe.LastSender.Path.Address);
    }
}
