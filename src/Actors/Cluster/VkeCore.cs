using Akka.Cluster;
using Vios.Actors.Protocol;

namespace Vios.Actors.Cluster;

/// <summary>What the VKE actor must do after a packet was submitted or arrived.</summary>
public abstract record VkeAction<TDaemon>
{
    /// <summary>Send these bytes to the VKE of each node (the local node included, when listed).</summary>
    public sealed record Forward(byte[] Packet, IReadOnlyList<ulong> Nodes) : VkeAction<TDaemon>;

    /// <summary>Hand a validated send message to its receiving daemon.</summary>
    public sealed record Deliver(TDaemon Daemon, ViosFrame Frame) : VkeAction<TDaemon>;

    /// <summary>Give a sending daemon its collected responses.</summary>
    public sealed record Complete(TDaemon Daemon, ResponsesCollected Responses) : VkeAction<TDaemon>;

    /// <summary>Tell a daemon what happened to the packet it submitted.</summary>
    public sealed record Reply(TDaemon Daemon, IViosMessage Message) : VkeAction<TDaemon>;

    /// <summary>A packet was dropped; the VKE logs why and carries on.</summary>
    public sealed record Drop(string Reason) : VkeAction<TDaemon>;

    /// <summary>A late or duplicate response, counted and ignored; routine after a timeout, so logged at Debug.</summary>
    public sealed record Ignore(string Reason) : VkeAction<TDaemon>;
}

/// <summary>
/// The VKE's logic without the actor (S1): the system call interface (daemons register and submit
/// packets), parsing the header and sub-header, routing over the kcluster interface (one node,
/// several, or every node when the broadcast flag is set), validating and delivering what arrives,
/// and the response queue that matches responses to their send message. The actor only turns the
/// returned <see cref="VkeAction{TDaemon}"/>s into messages, and calls <see cref="Expire"/> periodically.
/// </summary>
/// <param name="clock">Milliseconds on a monotonic clock; tests pass their own.</param>
public sealed class VkeCore<TDaemon>(int maxPayload, TimeSpan defaultResponseTimeout, Func<long>? clock = null) where TDaemon : class
{
    private readonly Func<long> _clock = clock ?? (() => Environment.TickCount64);
    private readonly Dictionary<string, TDaemon> _daemons = new(StringComparer.Ordinal);
    private readonly ResponseQueue<TDaemon> _responses = new();
    private readonly Dictionary<ulong, string> _addresses = new();
    private long _sent, _received, _broadcasts, _malformed, _unknownDaemon;

    public KClusterInterface KCluster { get; } = new();
    public ulong SelfNodeId { get; private set; }
    public string SelfAddress { get; private set; } = "";

    public void SetSelf(UniqueAddress self)
    {
        SelfNodeId = KClusterInterface.NodeIdOf(self);
        SelfAddress = self.Address.ToString();
        _addresses[SelfNodeId] = SelfAddress;
    }

    public IViosMessage Register(string daemonId, TDaemon daemon)
    {
        if (string.IsNullOrWhiteSpace(daemonId) || System.Text.Encoding.UTF8.GetByteCount(daemonId) > FrameLayout.MaxDaemonIdBytes)
            return new DaemonRefused(daemonId, $"a daemon id is 1 to {FrameLayout.MaxDaemonIdBytes} bytes of UTF-8");
        if (_daemons.TryGetValue(daemonId, out var existing) && !ReferenceEquals(existing, daemon))
            return new DaemonRefused(daemonId, $"daemon '{daemonId}' is already registered on this node");
        _daemons[daemonId] = daemon;
        return new DaemonRegistered(daemonId, SelfNodeId);
    }

    public void Unregister(TDaemon daemon)
    {
        foreach (var id in _daemons.Where(d => ReferenceEquals(d.Value, daemon)).Select(d => d.Key).ToList()) _daemons.Remove(id);
    }

    /// <summary>The system call: a daemon hands over an encoded packet.</summary>
    public IReadOnlyList<VkeAction<TDaemon>> Submit(byte[] packet, IReadOnlyList<ulong>? destinations, TDaemon daemon)
    {
        if (!FrameCodec.TryDecode(packet, maxPayload, out var frame, out var error))
        {
            _malformed++;
            return [new VkeAction<TDaemon>.Reply(daemon, new PacketRefused(0, $"malformed packet: {error.Message}"))];
        }
        var header = frame.Header;
        if (header.SourceNode != SelfNodeId)
            return Refuse(daemon, header.MessageId, $"source node {header.SourceNode:x} is not this node ({SelfNodeId:x})");

        if (header.Kind != MessageKind.Send)
        {
            // A daemon answering: the response goes back to the node that sent the message.
            if (!KCluster.TryGet(header.DestinationNode, out _))
                return Refuse(daemon, header.MessageId, $"node {header.DestinationNode:x} is not a vios node that is up");
            _sent++;
            return [new VkeAction<TDaemon>.Forward(packet, [header.DestinationNode])];
        }

        IReadOnlyList<ulong> targets;
        if (header.IsBroadcast)
        {
            // S1: the broadcast flag detected in the header sends the packet to every node of the cluster.
            targets = KCluster.NodeIds;
            _broadcasts++;
        }
        else if (destinations is { Count: > 0 })
        {
            if (header.DestinationNode != NodeIds.None)
                return Refuse(daemon, header.MessageId, "a packet for several nodes names none in its header");
            targets = destinations.Distinct().ToList();
        }
        else if (header.DestinationNode == NodeIds.None)
        {
            return Refuse(daemon, header.MessageId, "the packet names no destination node, is not a broadcast, and no nodes were listed");
        }
        else
        {
            targets = [header.DestinationNode];
        }
        foreach (var target in targets)
        {
            if (!KCluster.TryGet(target, out _))
                return Refuse(daemon, header.MessageId, $"node {target:x} is not a vios node that is up");
        }

        if (frame.SubHeader.ResponseRequired && _responses.IsOpen(header.MessageId))
            return Refuse(daemon, header.MessageId, $"message {header.MessageId:x} is still waiting for responses; a new send needs a new message id");

        var actions = new List<VkeAction<TDaemon>>(3) { new VkeAction<TDaemon>.Forward(packet, targets) };
        _sent++;
        if (frame.SubHeader.ResponseRequired)
        {
            // S1: one response queue entry per response expected, matched as responses arrive.
            var deadline = _clock() + (long)(frame.SubHeader.Timeout ?? defaultResponseTimeout).TotalMilliseconds;
            var completed = _responses.Open(header.MessageId, daemon, targets, deadline, Math.Max(1, frame.SubHeader.ExpectedResponses));
            if (completed is not null) actions.Add(new VkeAction<TDaemon>.Complete(daemon, Collected(completed)));
        }
        else
        {
            actions.Add(new VkeAction<TDaemon>.Reply(daemon, new PacketSent(header.MessageId, targets)));
        }
        return actions;
    }

    /// <summary>A packet arrived from a VKE (this node's included): validate, then deliver or match.</summary>
    public IReadOnlyList<VkeAction<TDaemon>> Receive(byte[] packet)
    {
        if (!FrameCodec.TryDecode(packet, maxPayload, out var frame, out var error))
        {
            _malformed++;
            return [new VkeAction<TDaemon>.Drop($"malformed packet ({packet.Length} bytes): {error.Message}")];
        }
        var header = frame.Header;
        if (header.DestinationNode != NodeIds.None && header.DestinationNode != SelfNodeId)
        {
            _malformed++;
            return [new VkeAction<TDaemon>.Drop($"packet {header.MessageId:x} is for node {header.DestinationNode:x}, not this one")];
        }
        _received++;

        if (header.Kind != MessageKind.Send)
        {
            var (match, completed) = _responses.Match(frame.SubHeader.CorrelationId, header.SourceNode, header.Kind == MessageKind.Error, frame.Payload);
            return match switch
            {
                ResponseMatch.Matched when completed is not null => [new VkeAction<TDaemon>.Complete(completed.Requester, Collected(completed))],
                ResponseMatch.Matched => [],
                _ => [new VkeAction<TDaemon>.Ignore($"{match.ToString().ToLowerInvariant()} response to {frame.SubHeader.CorrelationId:x} from node {header.SourceNode:x}")],
            };
        }

        if (_daemons.TryGetValue(frame.SubHeader.ReceivingDaemon, out var daemon)) return [new VkeAction<TDaemon>.Deliver(daemon, frame)];

        _unknownDaemon++;
        var reason = $"no daemon '{frame.SubHeader.ReceivingDaemon}' on node {SelfAddress}";
        if (!frame.SubHeader.ResponseRequired) return [new VkeAction<TDaemon>.Drop(reason)];
        // The sender waits for a response: it gets an error response instead of a timeout.
        var errorFrame = Frames.ResponseTo(frame, SelfNodeId, System.Text.Encoding.UTF8.GetBytes(reason), MessageKind.Error);
        return [new VkeAction<TDaemon>.Drop(reason), new VkeAction<TDaemon>.Forward(FrameCodec.Encode(errorFrame, maxPayload), [header.SourceNode])];
    }

    /// <summary>A member is Up: a vios node joins the kcluster interface.</summary>
    public void MemberUp(UniqueAddress member, IEnumerable<string> roles)
    {
        if (KCluster.MemberUp(member, roles) is { } node) _addresses[node.NodeId] = node.Address.ToString();
    }

    /// <summary>A member left, was downed or removed: responses it owed complete as missing now.</summary>
    public IReadOnlyList<VkeAction<TDaemon>> MemberGone(UniqueAddress member)
    {
        if (KCluster.MemberGone(member) is not { } id) return [];
        return _responses.NodeGone(id).Select(c => (VkeAction<TDaemon>)new VkeAction<TDaemon>.Complete(c.Requester, Collected(c))).ToList();
    }

    /// <summary>Send messages whose timeout has passed complete with what came and who did not answer.</summary>
    public IReadOnlyList<VkeAction<TDaemon>> Expire() =>
        _responses.Expire(_clock()).Select(c => (VkeAction<TDaemon>)new VkeAction<TDaemon>.Complete(c.Requester, Collected(c))).ToList();

    public VkeStats Stats() => new(
        new ProtocolNode(SelfNodeId, SelfAddress), _sent, _received, _broadcasts, _responses.Matched, _responses.TimedOut,
        _malformed, _unknownDaemon, _responses.Duplicates, _responses.Unexpected, _daemons.Keys.Order().ToList());

    public KClusterView View() => new(
        new ProtocolNode(SelfNodeId, SelfAddress),
        KCluster.Nodes.OrderBy(n => n.Address.ToString()).Select(n => new ProtocolNode(n.NodeId, n.Address.ToString())).ToList());

    private ResponsesCollected Collected(CompletedRequest<TDaemon> completed) => new(
        completed.MessageId,
        completed.Responses.Select(r => new NodeResponse(Node(r.Responder), r.IsError, r.Payload.ToArray())).ToList(),
        completed.Missing.Select(Node).ToList(),
        completed.Reason == CompletionReason.TimedOut);

    private ProtocolNode Node(ulong id) => new(id, _addresses.GetValueOrDefault(id, "unknown"));

    private static IReadOnlyList<VkeAction<TDaemon>> Refuse(TDaemon daemon, ulong messageId, string reason) =>
        [new VkeAction<TDaemon>.Reply(daemon, new PacketRefused(messageId, reason))];
}
