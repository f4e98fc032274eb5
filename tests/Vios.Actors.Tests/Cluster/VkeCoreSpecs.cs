using Akka.Actor;
using Akka.Cluster;
using Vios.Actors.Cluster;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Cluster;

/// <summary>The VKE's decisions without an ActorSystem: three vios nodes and a lighthouse, a hand-driven clock.</summary>
public sealed class VkeCoreSpecs
{
    private static readonly UniqueAddress Self = Node(1, 4001);
    private static readonly UniqueAddress Second = Node(2, 4002);
    private static readonly UniqueAddress Third = Node(3, 4003);
    private static readonly UniqueAddress Lighthouse = Node(9, 4053);

    private long _now = 1_000;
    private readonly VkeCore<string> _vke;

    public VkeCoreSpecs()
    {
        _vke = new VkeCore<string>(FrameLayout.DefaultMaxPayload, TimeSpan.FromSeconds(5), () => _now);
        _vke.SetSelf(Self);
        foreach (var node in new[] { Self, Second, Third }) _vke.MemberUp(node, ["vios"]);
        _vke.MemberUp(Lighthouse, ["lighthouse"]);
        Assert.IsType<DaemonRegistered>(_vke.Register("sender", "sender-daemon"));
    }

    private static UniqueAddress Node(int uid, int port) => new(new Address("akka.tcp", "vios", "127.0.0.1", port), uid);

    private static ulong Id(UniqueAddress node) => KClusterInterface.NodeIdOf(node);

    [Fact]
    public void A_broadcast_goes_to_every_vios_node_up_and_not_to_the_lighthouse()
    {
        var actions = _vke.Submit(FrameCodec.Encode(Frames.Broadcast(Id(Self), "sender", "echo", "x"u8.ToArray(), responseRequired: false)), null, "sender-daemon");

        var forward = Assert.IsType<VkeAction<string>.Forward>(actions[0]);
        Assert.Equal(new[] { Id(Self), Id(Second), Id(Third) }.Order(), forward.Nodes.Order());
        Assert.IsType<PacketSent>(Assert.IsType<VkeAction<string>.Reply>(actions[1]).Message);
        Assert.Equal(1, _vke.Stats().Broadcasts);
    }

    [Fact]
    public void Responses_are_matched_and_the_last_one_completes_the_send_message()
    {
        var send = Frames.Send(Id(Self), Id(Second), "sender", "echo", "ping"u8.ToArray(), responseRequired: true, TimeSpan.FromSeconds(1));
        var submitted = _vke.Submit(FrameCodec.Encode(send), null, "sender-daemon");
        Assert.Single(submitted);

        var actions = _vke.Receive(FrameCodec.Encode(Frames.ResponseTo(send, Id(Second), "pong"u8.ToArray())));

        var complete = Assert.IsType<VkeAction<string>.Complete>(Assert.Single(actions));
        Assert.Equal("sender-daemon", complete.Daemon);
        Assert.Equal("127.0.0.1:4002", Assert.Single(complete.Responses.Responses).Node.Address.Split('@')[1]);
        Assert.Equal(1, _vke.Stats().ResponsesMatched);
    }

    [Fact]
    public void A_send_message_past_its_timeout_completes_when_the_clock_passes_it()
    {
        var send = Frames.Send(Id(Self), Id(Third), "sender", "echo", "ping"u8.ToArray(), responseRequired: true, TimeSpan.FromMilliseconds(500));
        _vke.Submit(FrameCodec.Encode(send), null, "sender-daemon");

        _now += 499;
        Assert.Empty(_vke.Expire());
        _now += 1;
        var complete = Assert.IsType<VkeAction<string>.Complete>(Assert.Single(_vke.Expire()));

        Assert.True(complete.Responses.TimedOut);
        Assert.Equal(Id(Third), Assert.Single(complete.Responses.Missing).NodeId);
        Assert.Equal(1, _vke.Stats().TimedOut);
    }

    [Fact]
    public void A_node_that_goes_completes_what_it_owed_without_waiting()
    {
        _vke.Submit(FrameCodec.Encode(Frames.Send(Id(Self), Id(Third), "sender", "echo", "x"u8.ToArray(), responseRequired: true)), null, "sender-daemon");

        var complete = Assert.IsType<VkeAction<string>.Complete>(Assert.Single(_vke.MemberGone(Third)));

        Assert.False(complete.Responses.TimedOut);
        Assert.Equal(Id(Third), Assert.Single(complete.Responses.Missing).NodeId);
        Assert.Contains("is not a vios node that is up", Refusal(_vke.Submit(
            FrameCodec.Encode(Frames.Send(Id(Self), Id(Third), "sender", "echo", "x"u8.ToArray(), false)), null, "sender-daemon")));
    }

    [Fact]
    public void A_send_to_an_unknown_daemon_that_wants_a_response_gets_an_error_frame_back()
    {
        var send = Frames.Send(Id(Second), Id(Self), "remote", "nobody", "x"u8.ToArray(), responseRequired: true);

        var actions = _vke.Receive(FrameCodec.Encode(send));

        Assert.IsType<VkeAction<string>.Drop>(actions[0]);
        var back = Assert.IsType<VkeAction<string>.Forward>(actions[1]);
        Assert.Equal([Id(Second)], back.Nodes);
        var error = FrameCodec.Decode(back.Packet);
        Assert.Equal(MessageKind.Error, error.Header.Kind);
        Assert.Equal(send.Header.MessageId, error.SubHeader.CorrelationId);
        Assert.Equal(1, _vke.Stats().UnknownDaemon);
    }

    [Fact]
    public void Malformed_and_misrouted_packets_are_dropped_and_counted()
    {
        Assert.IsType<VkeAction<string>.Drop>(Assert.Single(_vke.Receive([0x56, 0x49, 0x4F])));
        var forSomeoneElse = Frames.Send(Id(Second), Id(Third), "remote", "echo", "x"u8.ToArray(), false);
        Assert.IsType<VkeAction<string>.Drop>(Assert.Single(_vke.Receive(FrameCodec.Encode(forSomeoneElse))));

        Assert.Equal(2, _vke.Stats().Malformed);
        Assert.Equal(0, _vke.Stats().Received);
    }

    [Fact]
    public void What_the_sending_daemon_got_wrong_is_refused_with_the_reason()
    {
        Assert.StartsWith("malformed packet:", Refusal(_vke.Submit([1, 2, 3], null, "sender-daemon")));
        Assert.Contains("is not this node", Refusal(_vke.Submit(
            FrameCodec.Encode(Frames.Send(Id(Second), Id(Third), "sender", "echo", "x"u8.ToArray(), false)), null, "sender-daemon")));
        Assert.Contains("names no destination node", Refusal(_vke.Submit(
            FrameCodec.Encode(Frames.Send(Id(Self), NodeIds.None, "sender", "echo", "x"u8.ToArray(), false)), null, "sender-daemon")));
    }

    [Fact]
    public void A_daemon_id_is_registered_once()
    {
        Assert.IsType<DaemonRefused>(_vke.Register("sender", "another-actor"));
        Assert.IsType<DaemonRegistered>(_vke.Register("sender", "sender-daemon"));
        Assert.IsType<DaemonRefused>(_vke.Register("", "x"));
    }

    [Fact]
    public void A_message_id_still_waiting_for_responses_is_not_sent_again()
    {
        var packet = FrameCodec.Encode(Frames.Send(Id(Self), Id(Second), "sender", "echo", "x"u8.ToArray(), responseRequired: true));
        Assert.IsType<VkeAction<string>.Forward>(Assert.Single(_vke.Submit(packet, null, "sender-daemon")));

        Assert.Contains("is still waiting for responses", Refusal(_vke.Submit(packet, null, "sender-daemon")));
        Assert.Equal(1, _vke.Stats().Sent);
    }

    private static string Refusal(IReadOnlyList<VkeAction<string>> actions) =>
        Assert.IsType<PacketRefused>(Assert.IsType<VkeAction<string>.Reply>(Assert.Single(actions)).Message).Reason;
}
