using System.Text;
using Akka.Actor;
using Vios.Actors.Cluster;
using Vios.Actors.Protocol;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>Four vios nodes and a lighthouse, shared by the S1 specs that leave membership alone.</summary>
public sealed class FourNodeCluster : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public IReadOnlyList<ViosNode> Nodes => Cluster.ViosNodes;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(viosNodes: 4);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>S1 on a real in-process cluster: daemons, VKEs, kcluster and the response queue end to end.</summary>
public sealed class VkeClusterSpecs(FourNodeCluster cluster) : Akka.TestKit.Xunit2.TestKit, IClassFixture<FourNodeCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static string NewDaemonId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [Fact]
    public void Unicast_with_a_response_comes_back_matched_to_its_send_message()
    {
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        var sender = ProbeDaemon.Register(this, a, NewDaemonId("sender"));
        var target = ProbeDaemon.Register(this, b, NewDaemonId("target"));

        var send = Frames.Send(sender.NodeId, target.NodeId, sender.DaemonId, target.DaemonId, "ping"u8.ToArray(), responseRequired: true, Wait);
        sender.Submit(send);
        var delivered = target.ExpectAndAnswer("pong");

        Assert.Equal(send, delivered);
        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(Wait);
        Assert.Equal(send.Header.MessageId, collected.MessageId);
        var response = Assert.Single(collected.Responses);
        Assert.Equal(b.SelfAddress.ToString(), response.Node.Address);
        Assert.False(response.IsError);
        Assert.Equal("pong", Encoding.UTF8.GetString(response.Payload));
        Assert.Empty(collected.Missing);
        Assert.False(collected.TimedOut);
    }

    [Fact]
    public void Broadcast_reaches_every_nodes_daemon_exactly_once_and_collects_every_response()
    {
        var daemonId = NewDaemonId("every");
        var daemons = cluster.Nodes.Select(n => ProbeDaemon.Register(this, n, daemonId)).ToList();
        var sender = ProbeDaemon.Register(this, cluster.Nodes[2], NewDaemonId("sender"));

        sender.Submit(Frames.Broadcast(sender.NodeId, sender.DaemonId, daemonId, "to all"u8.ToArray(), responseRequired: true, Wait));
        foreach (var daemon in daemons) daemon.ExpectAndAnswer();

        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(Wait);
        Assert.Equal(cluster.Nodes.Select(n => n.SelfAddress.ToString()).Order(), collected.Responses.Select(r => r.Node.Address).Order());
        Assert.All(collected.Responses, r => Assert.Equal("to all", Encoding.UTF8.GetString(r.Payload)));
        Assert.Empty(collected.Missing);
        foreach (var daemon in daemons) daemon.Probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_silent_daemon_is_listed_as_missing_when_the_timeout_fires()
    {
        var daemonId = NewDaemonId("quiet");
        var daemons = cluster.Nodes.Select(n => ProbeDaemon.Register(this, n, daemonId)).ToList();
        var sender = ProbeDaemon.Register(this, cluster.Nodes[0], NewDaemonId("sender"));
        var timeout = TimeSpan.FromMilliseconds(800);

        sender.Submit(Frames.Broadcast(sender.NodeId, sender.DaemonId, daemonId, "anyone?"u8.ToArray(), responseRequired: true, timeout));
        foreach (var daemon in daemons.Skip(1)) daemon.ExpectAndAnswer();
        daemons[0].Probe.ExpectMsg<DeliverPacket>(Wait);

        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(Wait);
        Assert.True(collected.TimedOut);
        Assert.Equal(daemons.Count - 1, collected.Responses.Count);
        Assert.Equal(daemons[0].Node.SelfAddress.ToString(), Assert.Single(collected.Missing).Address);
    }

    [Fact]
    public void An_unknown_receiving_daemon_answers_with_an_error_response()
    {
        var sender = ProbeDaemon.Register(this, cluster.Nodes[0], NewDaemonId("sender"));
        var target = cluster.Nodes[3];
        var targetId = KClusterInterface.NodeIdOf(target.Cluster.SelfUniqueAddress);

        sender.Submit(Frames.Send(sender.NodeId, targetId, sender.DaemonId, "nobody-home", "x"u8.ToArray(), responseRequired: true, Wait));

        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(Wait);
        var response = Assert.Single(collected.Responses);
        Assert.True(response.IsError);
        Assert.Contains("no daemon 'nobody-home'", Encoding.UTF8.GetString(response.Payload));
        Assert.False(collected.TimedOut);
    }

    [Fact]
    public async Task A_malformed_packet_arriving_over_the_wire_is_dropped_counted_and_the_VKE_serves_the_next_request()
    {
        var (a, b) = (cluster.Nodes[1], cluster.Nodes[2]);
        var before = await b.Vke!.Ask<VkeStats>(GetVkeStats.Instance, Wait);
        var remoteVke = a.System.ActorSelection(new RootActorPath(b.SelfAddress) / "user" / VkeActor.Name);

        remoteVke.Tell(new VkePacket("definitely not a VIOS frame"u8.ToArray()));
        var valid = FrameCodec.Encode(Frames.Send(1, 2, "x", "y", "z"u8.ToArray(), false));
        valid[^1] ^= 0xFF;
        valid[FrameLayout.MessageIdOffset] ^= 0x01;
        remoteVke.Tell(new VkePacket(valid));

        await AwaitAssertAsync(async () =>
            Assert.Equal(before.Malformed + 2, (await b.Vke.Ask<VkeStats>(GetVkeStats.Instance, Wait)).Malformed), Wait);
        var sender = ProbeDaemon.Register(this, a, NewDaemonId("sender"));
        var bId = KClusterInterface.NodeIdOf(b.Cluster.SelfUniqueAddress);
        sender.Submit(Frames.Send(sender.NodeId, bId, sender.DaemonId, "echo", "still there?"u8.ToArray(), responseRequired: true, Wait));
        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(Wait);
        Assert.Equal("still there?", Encoding.UTF8.GetString(Assert.Single(collected.Responses).Payload));
    }

    [Fact]
    public void A_packet_the_sending_daemon_got_wrong_is_refused_with_the_reason()
    {
        var sender = ProbeDaemon.Register(this, cluster.Nodes[0], NewDaemonId("sender"));

        cluster.Nodes[0].Vke!.Tell(new SubmitPacket([1, 2, 3]), sender.Probe.Ref);
        Assert.StartsWith("malformed packet:", sender.Probe.ExpectMsg<PacketRefused>(Wait).Reason);

        sender.Submit(Frames.Send(sender.NodeId, 0x1_0000_0001, sender.DaemonId, "echo", "x"u8.ToArray(), responseRequired: true));
        Assert.Contains("is not a vios node that is up", sender.Probe.ExpectMsg<PacketRefused>(Wait).Reason);

        sender.Submit(Frames.Send(sender.NodeId + 1, sender.NodeId, sender.DaemonId, "echo", "x"u8.ToArray(), responseRequired: true));
        Assert.Contains("is not this node", sender.Probe.ExpectMsg<PacketRefused>(Wait).Reason);
    }

    [Fact]
    public void Several_named_nodes_each_get_the_packet_once()
    {
        var daemonId = NewDaemonId("some");
        var chosen = cluster.Nodes.Take(2).Select(n => ProbeDaemon.Register(this, n, daemonId)).ToList();
        var other = ProbeDaemon.Register(this, cluster.Nodes[3], daemonId);
        var sender = ProbeDaemon.Register(this, cluster.Nodes[3], NewDaemonId("sender"));

        sender.Submit(Frames.Send(sender.NodeId, NodeIds.None, sender.DaemonId, daemonId, "two of you"u8.ToArray(), responseRequired: true, Wait),
            chosen.Select(c => c.NodeId).ToList());
        foreach (var daemon in chosen) daemon.ExpectAndAnswer();

        Assert.Equal(2, sender.Probe.ExpectMsg<ResponsesCollected>(Wait).Responses.Count);
        other.Probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }
}

/// <summary>Clusters of their own: these specs change membership.</summary>
public sealed class VkeMembershipSpecs : Akka.TestKit.Xunit2.TestKit
{
    [Fact]
    public async Task A_node_already_answers_through_its_VKE_when_its_peers_first_list_it()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var a = cluster.ViosNodes[0];
        var sender = ProbeDaemon.Register(this, a, "sender");

        var newcomer = await cluster.StartViosNodeAsync(awaitUp: false);
        var newcomerAddress = newcomer.SelfAddress.ToString();
        await AwaitAssertAsync(async () =>
            Assert.Contains((await a.Vke!.Ask<KClusterView>(GetKClusterView.Instance, TimeSpan.FromSeconds(5))).Nodes, n => n.Address == newcomerAddress),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));
        sender.Submit(Frames.Broadcast(sender.NodeId, sender.DaemonId, "echo", "welcome"u8.ToArray(), responseRequired: true, TimeSpan.FromSeconds(10)));

        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(TimeSpan.FromSeconds(15));
        Assert.Empty(collected.Missing);
        Assert.All(collected.Responses, r => Assert.False(r.IsError, Encoding.UTF8.GetString(r.Payload)));
        Assert.Contains(collected.Responses, r => r.Node.Address == newcomerAddress);
    }

    [Fact]
    public async Task A_node_downed_mid_request_completes_as_missing_before_the_timeout()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 3);
        var (a, b, c) = (cluster.ViosNodes[0], cluster.ViosNodes[1], cluster.ViosNodes[2]);
        var daemonId = $"slow-{Guid.NewGuid():N}"[..13];
        var answering = ProbeDaemon.Register(this, b, daemonId);
        var doomed = ProbeDaemon.Register(this, c, daemonId);
        var sender = ProbeDaemon.Register(this, a, "sender");
        var timeout = TimeSpan.FromSeconds(60);

        sender.Submit(Frames.Send(sender.NodeId, NodeIds.None, sender.DaemonId, daemonId, "wait for me"u8.ToArray(), responseRequired: true, timeout),
            [answering.NodeId, doomed.NodeId]);
        answering.ExpectAndAnswer();
        doomed.Probe.ExpectMsg<DeliverPacket>(TimeSpan.FromSeconds(10));
        cluster.Lighthouse.Cluster.Down(c.SelfAddress);

        var collected = sender.Probe.ExpectMsg<ResponsesCollected>(TimeSpan.FromSeconds(20));
        Assert.False(collected.TimedOut);
        Assert.Equal(b.SelfAddress.ToString(), Assert.Single(collected.Responses).Node.Address);
        Assert.Equal(c.SelfAddress.ToString(), Assert.Single(collected.Missing).Address);
    }
}
