using Akka.Actor;
using Akka.TestKit;
using Vios.Actors.Cluster;
using Vios.Actors.Protocol;
using Vios.Host.Node;

namespace Vios.Host.Tests.Node;

/// <summary>A TestProbe registered with a node's VKE as a daemon: it sees what is delivered and can answer.</summary>
public sealed record ProbeDaemon(TestProbe Probe, ViosNode Node, string DaemonId, ulong NodeId)
{
    public static ProbeDaemon Register(TestKitBase kit, ViosNode node, string daemonId)
    {
        var probe = kit.CreateTestProbe(node.System);
        node.Vke!.Tell(new RegisterDaemon(daemonId), probe.Ref);
        var registered = probe.ExpectMsg<DaemonRegistered>(TimeSpan.FromSeconds(10));
        return new ProbeDaemon(probe, node, daemonId, registered.NodeId);
    }

    public void Submit(ViosFrame frame, IReadOnlyList<ulong>? destinations = null) =>
        Node.Vke!.Tell(new SubmitPacket(FrameCodec.Encode(frame), destinations), Probe.Ref);

    /// <summary>Expects one delivered send message and answers it with <paramref name="payload"/> (or its own payload).</summary>
    public ViosFrame ExpectAndAnswer(string? payload = null)
    {
        var delivered = Probe.ExpectMsg<DeliverPacket>(TimeSpan.FromSeconds(10));
        var answer = payload is null ? delivered.Frame.Payload : System.Text.Encoding.UTF8.GetBytes(payload);
        Submit(Frames.ResponseTo(delivered.Frame, NodeId, answer));
        return delivered.Frame;
    }
}
