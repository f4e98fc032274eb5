namespace Vios.Actors.Availability;

/// <summary>How often masters and guests heartbeat, and how many intervals of silence make a failure.</summary>
public sealed record HeartbeatSettings(TimeSpan Interval, int GuestMissedIntervals, int NodeMissedIntervals)
{
    public static HeartbeatSettings Default { get; } = new(TimeSpan.FromSeconds(1), 3, 3);

    public void Validate()
    {
        if (Interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "the heartbeat interval must be positive");
        if (GuestMissedIntervals < 1) throw new ArgumentOutOfRangeException(nameof(GuestMissedIntervals), GuestMissedIntervals, "at least one interval");
        if (NodeMissedIntervals < 1) throw new ArgumentOutOfRangeException(nameof(NodeMissedIntervals), NodeMissedIntervals, "at least one interval");
    }
}

/// <summary>What a master knows of a guest, its own or another node's.</summary>
public enum GuestHealth
{
    /// <summary>Never seen, or its node's master is silent.</summary>
    Unknown,

    /// <summary>Heartbeating to its own master (as that master says, for another node's guest).</summary>
    Live,

    /// <summary>Its own master holds it silent, or no longer lists it live.</summary>
    Silent,
}

/// <summary>
/// What one <see cref="HeartbeatMaster.Tick"/> produced: the one aggregated heartbeat, the peers it is
/// addressed to (one node-to-node message each), and the failures to report to the HA manager.
/// </summary>
public sealed record HeartbeatRound(
    AggregatedHeartbeat Heartbeat,
    IReadOnlyList<string> To,
    IReadOnlyList<GuestSilent> SilentGuests,
    IReadOnlyList<NodeSilent> SilentNodes)
{
    /// <summary>Peers reported silent before and heard since the last tick: slow, not dead, and to be held silent no longer.</summary>
    public IReadOnlyList<NodeHeardAgain> HeardAgain { get; init; } = [];
}

/// <summary>A master's counters since it started.</summary>
public sealed record HeartbeatCounters(
    long NodeMessagesSent,
    int NodeMessagesLastInterval,
    long PeerHeartbeatsReceived,
    long GuestHeartbeatsReceived,
    long SilentGuestsReported,
    long SilentNodesReported);

/// <summary>
/// S16: the master cluster program of one vios node. The slave program in each guest (LPAR) of the node
/// heartbeats to it (<see cref="GuestHeartbeat"/>); once per interval (<see cref="Tick"/>) it sends one
/// <see cref="AggregatedHeartbeat"/> to each other master, listing its live guests, so node-to-node
/// traffic grows with nodes, not partitions. A guest's standby on another node learns of the guest from
/// that aggregate (<see cref="HealthOf"/>): no slave is ever contacted across nodes.
/// <para>
/// Pure: time is passed in, never read. A guest or peer is silent once more than its configured number
/// of intervals has passed since it was last heard, i.e. that many heartbeats after the last one were
/// all due and none came; the margin of one interval lets a heartbeat sent at a tick arrive after the
/// receiver's own tick at the same moment. Each silence is reported once, until the guest or peer is
/// heard again.
/// </para>
/// </summary>
public sealed class HeartbeatMaster
{
    private readonly HeartbeatSettings _settings;
    private readonly Dictionary<string, GuestRecord> _guests = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, PeerRecord> _peers = new(StringComparer.Ordinal);
    // Which peer last listed a guest live: how a standby-side master finds a primary guest's node.
    private readonly Dictionary<string, string> _lastListedBy = new(StringComparer.Ordinal);
    private readonly long _incarnation;
    // Peers reported silent that were heard again since the last tick, with when.
    private readonly Dictionary<string, DateTimeOffset> _heardAgain = new(StringComparer.Ordinal);
    private long _sequence;
    private long _nodeMessagesSent;
    private int _nodeMessagesLastInterval;
    private long _peerHeartbeatsReceived;
    private long _guestHeartbeatsReceived;
    private long _silentGuestsReported;
    private long _silentNodesReported;

    /// <param name="node">This master's vios node.</param>
    /// <param name="peers">The other nodes' masters; each is watched from its first heartbeat on.</param>
    /// <param name="startedAt">When this master started; also its incarnation.</param>
    public HeartbeatMaster(string node, IEnumerable<string> peers, HeartbeatSettings settings, DateTimeOffset startedAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        settings.Validate();
        Node = node;
        _settings = settings;
        _incarnation = startedAt.ToUnixTimeMilliseconds();
        foreach (var peer in peers) AddPeer(peer, startedAt);
    }

    public string Node { get; }

    public IReadOnlyCollection<string> Peers => _peers.Keys;

    public HeartbeatCounters Counters => new(
        _nodeMessagesSent, _nodeMessagesLastInterval, _peerHeartbeatsReceived, _guestHeartbeatsReceived, _silentGuestsReported, _silentNodesReported);

    /// <summary>This node's guests that are not silent, sorted: what the next aggregated heartbeat lists.</summary>
    public IReadOnlyList<string> LiveGuests =>
        _guests.Where(g => !g.Value.ReportedSilent).Select(g => g.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>A peer joined the cluster; from its first heartbeat on it is silent once unheard for the limit.</summary>
    public void AddPeer(string node, DateTimeOffset at)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        if (node == Node) throw new ArgumentException($"'{node}' is this master's own node, not a peer", nameof(node));
        _peers.TryAdd(node, new PeerRecord(at));
    }

    /// <summary>A peer left the cluster: no more heartbeats to it, and its guests are no longer known.</summary>
    public void RemovePeer(string node)
    {
        _peers.Remove(node);
        _heardAgain.Remove(node);
    }

    /// <summary>
    /// The cluster downed a peer: it is out of the vote (<see cref="NodesToFence"/>) until it is
    /// removed, as it is fenced already. Counted, a node killed seconds earlier and not yet removed
    /// kept the survivors of the next kill from a majority, and the split-brain resolver decided that
    /// one, 5 s later (the chaos soak's kill storms).
    /// </summary>
    public void PeerDowned(string node)
    {
        if (_peers.TryGetValue(node, out var peer)) peer.Downed = true;
    }

    /// <summary>A guest's agent on this node heartbeats. The first heartbeat makes the guest known.</summary>
    public void GuestHeartbeat(string lpar, DateTimeOffset at)
    {
        _guestHeartbeatsReceived++;
        if (_guests.TryGetValue(lpar, out var guest))
        {
            if (at > guest.LastHeartbeat) guest.LastHeartbeat = at;
            guest.ReportedSilent = false;
        }
        else
        {
            _guests[lpar] = new GuestRecord(at);
        }
    }

    /// <summary>A guest stopped on purpose or moved away: it is no longer watched nor listed.</summary>
    public void ForgetGuest(string lpar) => _guests.Remove(lpar);

    /// <summary>
    /// A peer's aggregated heartbeat. False, and nothing changes, when it is from an unknown node (one
    /// that is not, or no longer, a peer) or older than one already taken from that peer.
    /// </summary>
    public bool Receive(AggregatedHeartbeat heartbeat, DateTimeOffset at)
    {
        if (!_peers.TryGetValue(heartbeat.FromNode, out var peer)) return false;
        var newer = heartbeat.Incarnation > peer.Incarnation
            || (heartbeat.Incarnation == peer.Incarnation && heartbeat.Sequence > peer.Sequence);
        if (!newer) return false;

        _peerHeartbeatsReceived++;
        peer.Incarnation = heartbeat.Incarnation;
        peer.Sequence = heartbeat.Sequence;
        if (at > peer.LastHeard) peer.LastHeard = at;
        if (peer.ReportedSilent) _heardAgain[heartbeat.FromNode] = at;
        peer.ReportedSilent = false;
        peer.LiveLpars = heartbeat.LiveLpars;
        peer.Live = heartbeat.LiveLpars.ToHashSet(StringComparer.Ordinal);
        peer.HoldsSilent = heartbeat.SilentNodes.ToHashSet(StringComparer.Ordinal);
        foreach (var lpar in heartbeat.LiveLpars) _lastListedBy[lpar] = heartbeat.FromNode;
        return true;
    }

    /// <summary>
    /// Once per interval: finds guests and peers that fell silent since the last tick, and builds this
    /// node's one aggregated heartbeat, addressed to every peer (silent ones too: they may only be cut off).
    /// </summary>
    public HeartbeatRound Tick(DateTimeOffset now)
    {
        var guestLimit = _settings.Interval * _settings.GuestMissedIntervals;
        var silentGuests = new List<GuestSilent>();
        foreach (var (lpar, guest) in _guests)
        {
            if (guest.ReportedSilent || now - guest.LastHeartbeat <= guestLimit) continue;
            guest.ReportedSilent = true;
            silentGuests.Add(new GuestSilent(Node, lpar, guest.LastHeartbeat, now));
        }

        var nodeLimit = _settings.Interval * _settings.NodeMissedIntervals;
        var silentNodes = new List<NodeSilent>();
        foreach (var (node, peer) in _peers)
        {
            // A peer never heard is still starting (its first heartbeat may take a while on a loaded
            // machine): the cluster's own failure detector covers it until then.
            if (peer.ReportedSilent || !peer.Heard || now - peer.LastHeard <= nodeLimit) continue;
            peer.ReportedSilent = true;
            silentNodes.Add(new NodeSilent(node, Node, peer.Sequence, peer.LiveLpars, peer.LastHeard, now));
        }

        _silentGuestsReported += silentGuests.Count;
        _silentNodesReported += silentNodes.Count;
        var to = _peers.Keys.ToList();
        _nodeMessagesLastInterval = to.Count;
        _nodeMessagesSent += to.Count;
        var heartbeat = new AggregatedHeartbeat(Node, _incarnation, ++_sequence, LiveGuests) { SilentNodes = SilentPeers };
        // Heard again and not silent again by now: the silence this master reported is over.
        var heardAgain = _heardAgain.Where(h => _peers.TryGetValue(h.Key, out var p) && !p.ReportedSilent)
            .Select(h => new NodeHeardAgain(h.Key, Node, h.Value)).ToList();
        _heardAgain.Clear();
        return new HeartbeatRound(heartbeat, to, silentGuests, silentNodes) { HeardAgain = heardAgain };
    }

    /// <summary>The peers this master holds silent (as of the last tick), sorted.</summary>
    public IReadOnlyList<string> SilentPeers => _peers.Where(p => p.Value.ReportedSilent).Select(p => p.Key).ToList();

    /// <summary>
    /// The silent peers this master should fence (have downed), so that their partitions may be
    /// restarted elsewhere without two copies running. Only a master whose group (itself and the
    /// peers it still hears) is a majority of all the masters fences, so a master cut off from the
    /// rest never fences the majority; within the group a peer is fenced when more than half of the
    /// group holds it silent, each by its own count of missed intervals, and only by the first, in
    /// node order, of the masters that hold it silent, so one master acts. (The first of the whole
    /// group would be a master that never heard the silent node, one that joined a moment before
    /// the kill, and it holds nobody silent: nobody fenced, and the split-brain resolver decided 5 s
    /// later in the chaos soak.) Without a majority (two masters, one
    /// silent) nobody fences and the cluster's split-brain resolver decides, more slowly. Peers the
    /// cluster has downed (<see cref="PeerDowned"/>) are not counted: they are fenced already.
    /// </summary>
    public IReadOnlyList<string> NodesToFence()
    {
        var voters = _peers.Where(p => !p.Value.Downed).ToList();
        var heard = voters.Where(p => !p.Value.ReportedSilent).ToList();
        var group = heard.Count + 1;
        if (group * 2 <= voters.Count + 1) return [];
        var fence = new List<string>();
        foreach (var (node, peer) in voters)
        {
            if (!peer.ReportedSilent) continue;
            var holders = heard.Where(p => p.Value.HoldsSilent.Contains(node)).Select(p => p.Key).Append(Node).ToList();
            if (holders.Count * 2 > group && holders.Min(StringComparer.Ordinal) == Node) fence.Add(node);
        }
        return fence;
    }

    /// <summary>
    /// A guest's health as this master knows it: its own guests from their heartbeats; another node's
    /// from that node's aggregated heartbeats (how a standby side watches its primary without a message
    /// of its own). A guest its node's master listed and no longer lists is <see cref="GuestHealth.Silent"/>;
    /// one on a silent or departed node is <see cref="GuestHealth.Unknown"/>.
    /// </summary>
    public GuestHealth HealthOf(string lpar)
    {
        if (_guests.TryGetValue(lpar, out var guest)) return guest.ReportedSilent ? GuestHealth.Silent : GuestHealth.Live;
        if (!_lastListedBy.TryGetValue(lpar, out var node) || !_peers.TryGetValue(node, out var peer) || peer.ReportedSilent)
            return GuestHealth.Unknown;
        return peer.Live.Contains(lpar) ? GuestHealth.Live : GuestHealth.Silent;
    }

    /// <summary>Whether a peer has been heard within the limit (as of the last tick).</summary>
    public bool IsPeerAlive(string node) => _peers.TryGetValue(node, out var peer) && !peer.ReportedSilent;

    /// <summary>The guests a peer last listed live; empty for a peer never heard or unknown.</summary>
    public IReadOnlyList<string> LiveLparsOf(string node) => _peers.TryGetValue(node, out var peer) ? peer.LiveLpars : [];

    private sealed class GuestRecord(DateTimeOffset lastHeartbeat)
    {
        public DateTimeOffset LastHeartbeat { get; set; } = lastHeartbeat;

        public bool ReportedSilent { get; set; }
    }

    private sealed class PeerRecord(DateTimeOffset since)
    {
        public DateTimeOffset LastHeard { get; set; } = since;

        public long Incarnation { get; set; } = long.MinValue;

        public bool Heard => Incarnation != long.MinValue;

        public long Sequence { get; set; }

        public IReadOnlyList<string> LiveLpars { get; set; } = [];

        public HashSet<string> Live { get; set; } = new(StringComparer.Ordinal);

        public HashSet<string> HoldsSilent { get; set; } = new(StringComparer.Ordinal);

        public bool ReportedSilent { get; set; }

        public bool Downed { get; set; }
    }
}
