namespace Vios.Actors.Availability;

/// <summary>Where a guest runs and, if it has one, where its standby waits.</summary>
public sealed record GuestPlacement(string Lpar, string Node, string? StandbyNode);

/// <summary>The traffic of one simulated interval.</summary>
public sealed record IntervalTraffic(int NodeToNodeMessages, int GuestHeartbeats, int GuestHeartbeatsAcrossNodes, int ReportsToHaManager);

/// <summary>
/// S16 without actors, for specs and the bench: one <see cref="HeartbeatMaster"/> per node, guest agents
/// placed on nodes, and a clock advanced an interval at a time. Each interval every running agent
/// heartbeats to the master it is wired to, every running master ticks, and each aggregated heartbeat is
/// delivered to the peers it is addressed to. Every delivery is counted as local or node-to-node.
/// </summary>
public sealed class HeartbeatNetwork
{
    private readonly SortedDictionary<string, HeartbeatMaster> _masters = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, GuestPlacement> _guests = new(StringComparer.Ordinal);
    private readonly HashSet<string> _silencedGuests = new(StringComparer.Ordinal);
    private readonly HashSet<string> _silencedMasters = new(StringComparer.Ordinal);
    private readonly List<IViosMessage> _reports = [];
    private readonly List<IntervalTraffic> _traffic = [];

    public HeartbeatNetwork(IReadOnlyList<string> nodes, HeartbeatSettings settings, DateTimeOffset start)
    {
        Settings = settings;
        Now = start;
        foreach (var node in nodes) _masters.Add(node, new HeartbeatMaster(node, nodes.Where(n => n != node), settings, start));
    }

    public HeartbeatSettings Settings { get; }

    public DateTimeOffset Now { get; private set; }

    public IReadOnlyDictionary<string, HeartbeatMaster> Masters => _masters;

    public IReadOnlyCollection<GuestPlacement> Guests => _guests.Values;

    /// <summary>What the masters reported for the HA manager, in order: <see cref="GuestSilent"/> and <see cref="NodeSilent"/>.</summary>
    public IReadOnlyList<IViosMessage> Reports => _reports;

    /// <summary>Traffic of every interval so far; the last is the latest.</summary>
    public IReadOnlyList<IntervalTraffic> Traffic => _traffic;

    public IntervalTraffic LastInterval => _traffic.Count > 0 ? _traffic[^1] : new IntervalTraffic(0, 0, 0, 0);

    public long NodeToNodeMessages => _traffic.Sum(t => (long)t.NodeToNodeMessages);

    public long GuestHeartbeatsAcrossNodes => _traffic.Sum(t => (long)t.GuestHeartbeatsAcrossNodes);

    public HeartbeatMaster this[string node] => _masters[node];

    /// <summary>Starts a guest's agent on <paramref name="node"/>; it heartbeats to that node's master.</summary>
    public void Place(string lpar, string node, string? standbyNode = null)
    {
        if (!_masters.ContainsKey(node)) throw new ArgumentException($"no node '{node}'", nameof(node));
        if (standbyNode is not null && !_masters.ContainsKey(standbyNode)) throw new ArgumentException($"no node '{standbyNode}'", nameof(standbyNode));
        _guests[lpar] = new GuestPlacement(lpar, node, standbyNode);
    }

    /// <summary>The guest's agent stops heartbeating (the guest hung or crashed).</summary>
    public void SilenceGuest(string lpar) => _silencedGuests.Add(lpar);

    public void ResumeGuest(string lpar) => _silencedGuests.Remove(lpar);

    /// <summary>The node's master stops: it neither ticks nor sends, and its guests' heartbeats go nowhere.</summary>
    public void SilenceMaster(string node) => _silencedMasters.Add(node);

    public void ResumeMaster(string node) => _silencedMasters.Remove(node);

    /// <summary>Advances the clock by one interval and runs it.</summary>
    public IntervalTraffic Advance()
    {
        Now += Settings.Interval;
        var guestHeartbeats = 0;
        var acrossNodes = 0;
        foreach (var guest in _guests.Values)
        {
            if (_silencedGuests.Contains(guest.Lpar)) continue;
            // S16: an agent heartbeats to the master of the node it runs on; a standby-side slave is never contacted.
            var master = _masters[guest.Node];
            guestHeartbeats++;
            if (master.Node != guest.Node) acrossNodes++;
            if (!_silencedMasters.Contains(master.Node)) master.GuestHeartbeat(guest.Lpar, Now);
        }

        var rounds = new List<HeartbeatRound>();
        foreach (var master in _masters.Values)
        {
            if (_silencedMasters.Contains(master.Node)) continue;
            var round = master.Tick(Now);
            rounds.Add(round);
            _reports.AddRange(round.SilentGuests);
            _reports.AddRange(round.SilentNodes);
            _reports.AddRange(round.HeardAgain);
        }

        var nodeToNode = 0;
        var reports = 0;
        foreach (var round in rounds)
        {
            reports += round.SilentGuests.Count + round.SilentNodes.Count;
            foreach (var to in round.To)
            {
                nodeToNode++;
                if (!_silencedMasters.Contains(to)) _masters[to].Receive(round.Heartbeat, Now);
            }
        }

        var traffic = new IntervalTraffic(nodeToNode, guestHeartbeats, acrossNodes, reports);
        _traffic.Add(traffic);
        return traffic;
    }

    /// <summary>Advances <paramref name="intervals"/> intervals.</summary>
    public void Advance(int intervals)
    {
        for (var i = 0; i < intervals; i++) Advance();
    }
}
