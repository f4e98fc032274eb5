using Akka.Cluster;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>A cluster member as the failure rules see it: its address, status and whether it is a vios node.</summary>
public sealed record MemberView(string Address, MemberStatus Status, bool Vios)
{
    /// <summary>The members of <paramref name="cluster"/>'s current state.</summary>
    public static IReadOnlyList<MemberView> Of(Akka.Cluster.Cluster cluster) =>
        cluster.State.Members.Select(m => new MemberView(m.Address.ToString(), m.Status, m.HasRole("vios"))).ToList();
}

/// <summary>What a partition list's check found: the events to persist, and the failures the registry refused.</summary>
public sealed record FailureCheck(IReadOnlyList<IViosMessage> Events, IReadOnlyList<FailoverRefused> Refusals);

/// <summary>
/// The HA manager's failure rules (S5, S16), over the cluster's members, the heartbeat masters'
/// reports and the clock it is given, so each rule is a plain xunit spec. It knows which nodes
/// are dead (<see cref="DeadNodes"/>), whether a partition list is complete enough to act on
/// (<see cref="Complete"/>), and which partitions have failed (<see cref="Check"/>). A node that
/// left gracefully took its partitions down on purpose: its leave is remembered until it comes
/// back from another address, and its partitions are not failed over.
/// </summary>
public sealed class FailureDetector(TimeSpan startupGrace, TimeSpan leaveRemembered, DateTimeOffset started)
{
    // Node names by cluster address, from every partition list seen.
    private readonly Dictionary<string, string> _nodeAt = new(StringComparer.Ordinal);
    // S16 reports: nodes the masters hold silent, by address; guests silent on a live node, by partition.
    private readonly Dictionary<string, NodeSilent> _silentNodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GuestSilent> _silentGuests = new(StringComparer.Ordinal);
    // Node names removed from the cluster (downed) while this instance ran.
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    // Node names that left gracefully, with the address they left from: a registration from another
    // address is the node back (a new incarnation); one from that address is the leaving node's own,
    // still listed while its firmware's end reaches the partition manager.
    private readonly Dictionary<string, string> _left = new(StringComparer.Ordinal);
    // The graceful leaves in the journal and not yet settled by a rejoin: what a snapshot carries.
    private readonly Dictionary<string, NodeLeftGracefully> _leftRecorded = new(StringComparer.Ordinal);
    // Registered nodes the last survey saw Leaving or Exiting: their partitions stop on purpose. Apart
    // from _left, so that the leave's own event still records it (Leaving returns it as news).
    private HashSet<string> _leavingNow = new(StringComparer.Ordinal);
    // Partitions meant to run that their live node reports only defined, since when.
    private readonly Dictionary<string, DateTimeOffset> _definedSince = new(StringComparer.Ordinal);

    /// <summary>How long a partition meant to run must stay defined on its live node before it counts as failed.</summary>
    public static readonly TimeSpan DefinedLongEnough = TimeSpan.FromSeconds(2);

    // Nodes the masters fenced, by name: the address to tell the partition manager about.
    private readonly Dictionary<string, string> _fencedAt = new(StringComparer.Ordinal);

    /// <summary>The addresses the masters hold silent, in order.</summary>
    public IReadOnlyList<string> SilentNodes => _silentNodes.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The graceful leaves on record and not settled by a rejoin.</summary>
    public IReadOnlyList<NodeLeftGracefully> LeavesOnRecord => _leftRecorded.Values.ToList();

    /// <summary>The node name last registered from <paramref name="address"/>, if any list named it.</summary>
    public string? NodeAt(string address) => _nodeAt.GetValueOrDefault(address);

    /// <summary>
    /// Learns the node addresses of a partition list; returns the nodes that had left and now
    /// registered from another address (back again: a leave to end on record).
    /// </summary>
    public IReadOnlyList<(string Node, string Address)> Learn(LparList list)
    {
        foreach (var (node, address) in list.NodeAddresses) _nodeAt[address] = node;
        var back = new List<(string, string)>();
        foreach (var (node, at) in list.NodeAddresses)
            if (_left.TryGetValue(node, out var leftFrom) && leftFrom != at && _left.Remove(node)) back.Add((node, at));
        return back;
    }

    /// <summary>
    /// A master's report that a node is silent, or that it fenced it. Counts only from an Up member:
    /// a node that was frozen and runs again reports every peer silent from its stale view before it
    /// learns it was downed, and such a report would hold a live node silent for good. The masters
    /// repeat their reports; a report that the reporter fenced the node replaces one that it is
    /// silent. True when the report is news.
    /// </summary>
    public bool Silent(NodeSilent silent, IReadOnlyCollection<MemberView> members)
    {
        if (!members.Any(m => m.Address == silent.ReportedBy && m.Status == MemberStatus.Up)) return false;
        var fencedNow = silent.FencedByReporter && _silentNodes.GetValueOrDefault(silent.Node) is { FencedByReporter: false };
        if (!_silentNodes.TryAdd(silent.Node, silent) && !fencedNow) return false;
        if (fencedNow) _silentNodes[silent.Node] = silent;
        return true;
    }

    /// <summary>
    /// A master hears a silent node again: no longer held silent, when both are Up and the node was
    /// not fenced (a node that was downed stays failed whatever is heard of it since). True when it was held silent.
    /// </summary>
    public bool HeardAgain(NodeHeardAgain heard, IReadOnlyCollection<MemberView> members)
    {
        bool Up(string address) => members.Any(m => m.Address == address && m.Status == MemberStatus.Up);
        return Up(heard.ReportedBy) && Up(heard.Node) && _silentNodes.GetValueOrDefault(heard.Node) is not { FencedByReporter: true }
               && _silentNodes.Remove(heard.Node);
    }

    public void GuestSilent(GuestSilent silent) => _silentGuests[silent.Lpar] = silent;

    /// <summary>
    /// A member is Up: a node back at the same address is a new incarnation, no longer silent nor
    /// gone. Returns the node whose leave this ends, if it had left.
    /// </summary>
    public string? MemberUp(string address)
    {
        _silentNodes.Remove(address);
        return _nodeAt.TryGetValue(address, out var node) && _left.Remove(node) ? node : null;
    }

    /// <summary>
    /// A member was removed. Downed, it has failed; having left gracefully (an operator's stop, a
    /// shutdown), it took its partitions down on purpose and they are not failed over.
    /// </summary>
    /// <returns>The node, if known, and whether a leave of it ended (to record).</returns>
    public (string? Node, bool LeaveEnded) Removed(string address, bool left)
    {
        if (!_nodeAt.TryGetValue(address, out var node)) return (null, false);
        if (left)
        {
            _left[node] = address;
            return (node, false);
        }
        _removed.Add(node);
        return (node, _left.Remove(node));
    }

    /// <summary>A member began to leave: known from its first step, so a survey before its removal does not take it for a failed one. Returns the node if this is news.</summary>
    public string? Leaving(string address) =>
        _nodeAt.TryGetValue(address, out var node) && _left.TryAdd(node, address) ? node : null;

    /// <summary>
    /// A graceful leave on record. Recovered by a successor of a manager whose node left, a leave
    /// older than the remembered time is settled (the node came back, or its partitions were started
    /// elsewhere by hand), and must not hide a later failure.
    /// </summary>
    public void LeaveRecorded(NodeLeftGracefully left, bool recovering, DateTimeOffset now)
    {
        _leftRecorded[left.Node] = left;
        if (!recovering || now - left.At < leaveRemembered) _left[left.Node] = left.Address;
    }

    public void RejoinRecorded(NodeRejoined back, bool recovering)
    {
        _leftRecorded.Remove(back.Node);
        if (recovering) _left.Remove(back.Node);
    }

    /// <summary>The fence to tell the partition manager about before a failed node's partition moves, if a master fenced it.</summary>
    public FenceNode? FenceFor(string? failedNode) =>
        failedNode is not null && _fencedAt.TryGetValue(failedNode, out var address) ? new FenceNode(failedNode, address) : null;

    /// <summary>
    /// Whether a restart away from <paramref name="failedNode"/> must stop the partition there first:
    /// the node is registered and not dead (the partition failed on a live node, or its node is held
    /// silent but not fenced yet).
    /// </summary>
    public bool StopFirst(string? failedNode, LparList? list, IReadOnlyCollection<MemberView> members, DateTimeOffset now) =>
        failedNode is not null && list is not null && list.Nodes.Any(n => n.Node == failedNode) && !DeadNodes(list, members, now).Contains(failedNode);

    /// <summary>
    /// The nodes whose partitions have failed: removed from the cluster while this instance ran; held
    /// silent by the masters and fenced (downed, or no longer a member); and, once the startup grace
    /// is over, any node missing from the partition list (which also covers a removal this instance
    /// did not see, such as that of the node the previous HA manager ran on). A node that left is never dead.
    /// </summary>
    public HashSet<string> DeadNodes(LparList list, IReadOnlyCollection<MemberView> members, DateTimeOffset now)
    {
        var dead = new HashSet<string>(_removed, StringComparer.Ordinal);
        var statusAt = members.GroupBy(m => m.Address).ToDictionary(g => g.Key, g => g.First().Status);
        // A registered node that is leaving (a new instance never saw its leave begin: it ran on that
        // very node, moving there as the last one went) takes its partitions down on purpose.
        _leavingNow = list.NodeAddresses.Where(n => statusAt.GetValueOrDefault(n.Value) is MemberStatus.Leaving or MemberStatus.Exiting)
            .Select(n => n.Key).ToHashSet(StringComparer.Ordinal);
        var fenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (address, silent) in _silentNodes)
        {
            // Fenced by the master that reported it (it had the cluster down it): gone now, before the down reaches this node.
            var gone = silent.FencedByReporter || !statusAt.TryGetValue(address, out var status)
                       || status is MemberStatus.Down or MemberStatus.Removed or MemberStatus.Exiting;
            if (!gone) continue;
            var names = new HashSet<string>(StringComparer.Ordinal);
            if (_nodeAt.TryGetValue(address, out var known)) names.Add(known);
            // A new instance may not know the address: the partitions the node last listed live tell where they ran.
            foreach (var lpar in silent.LastLiveLpars)
                if (list.Lpars.FirstOrDefault(l => l.Definition.Name == lpar) is { } summary) names.Add(summary.Definition.Node);
            // Fenced (downed) while still registered: dead now, not once the cluster removes it, unless
            // a node of that name registered again from another address (a new incarnation).
            foreach (var node in names.Where(n => !list.NodeAddresses.TryGetValue(n, out var at) || at == address))
            {
                fenced.Add(node);
                _fencedAt[node] = address;
            }
        }
        var registered = list.Nodes.Select(n => n.Node).ToHashSet(StringComparer.Ordinal);
        if (now - started >= startupGrace)
            foreach (var summary in list.Lpars.Where(l => !registered.Contains(l.Definition.Node)))
            {
                // A node still a member is not dead: it is leaving (its firmware stopped first), or
                // registering again; its removal, downed or not, decides.
                var node = summary.Definition.Node;
                var addresses = _nodeAt.Where(a => a.Value == node).Select(a => a.Key).ToList();
                var statuses = addresses.Select(a => statusAt.TryGetValue(a, out var status) ? status : MemberStatus.Removed).ToList();
                foreach (var leaving in addresses.Where(a => statusAt.GetValueOrDefault(a) is MemberStatus.Leaving or MemberStatus.Exiting)) _left.TryAdd(node, leaving);
                if (statuses.Any(st => st is not (MemberStatus.Down or MemberStatus.Removed))) continue;
                dead.Add(node);
            }
        dead.ExceptWith(registered);
        dead.UnionWith(fenced);
        dead.ExceptWith(_left.Keys);
        dead.ExceptWith(_leavingNow);
        return dead;
    }

    /// <summary>
    /// Whether the partition list has every live vios node registered: a new partition manager (after
    /// a handover) hears from the firmwares one by one, and a failover decided on half a list would
    /// take a designated node that is merely late for a gone one. A leaving member counts until it is
    /// gone: its partitions run until it stops them, and a list without it would take the node a
    /// silent peer last saw them on for that peer (the chaos soak: an HA manager that started on a
    /// leaving node failed over a partition running there).
    /// </summary>
    public bool Complete(LparList list, IReadOnlySet<string> dead, IReadOnlyCollection<MemberView> members)
    {
        var live = members.Count(m => m.Vios && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Leaving or MemberStatus.Exiting
                                      && !_silentNodes.ContainsKey(m.Address));
        return list.Nodes.Count(n => !dead.Contains(n.Node)) >= live;
    }

    /// <summary>
    /// The partitions that have failed, decided on <paramref name="draft"/> (each decision sees the
    /// ones before it): running on a dead node, reported failed by its live node, or its guest agent
    /// fell silent while its node lives.
    /// A partition with a restart planned or under way is not failed again; a report about a node the
    /// partition has since left is stale; a copy a survivor took over (it runs on a live node the
    /// record does not place it on) is not failed: its announcement moves the record there.
    /// </summary>
    /// <param name="room">What each node has free (<see cref="NodeRoom"/>); each restart planned here takes its room. Read from <paramref name="list"/> when not given.</param>
    public FailureCheck Check(LparList list, IReadOnlySet<string> dead, HaRegistry draft, IReadOnlySet<string> inProgress, DateTimeOffset now,
        NodeRoom? room = null)
    {
        room ??= NodeRoom.Of(list);
        var live = list.Nodes.Select(n => n.Node).Where(n => !dead.Contains(n)).ToList();
        var pending = draft.PendingRestarts.Select(p => p.Lpar).ToHashSet(StringComparer.Ordinal);
        var events = new List<IViosMessage>();
        var refusals = new List<FailoverRefused>();
        foreach (var summary in list.Lpars)
        {
            var (name, node) = (summary.Definition.Name, summary.Definition.Node);
            // Meant to run, and its node, back as a new incarnation before any failover, reports it merely
            // defined (hosted afresh): it died with the node's earlier process (the PostgreSQL soak left
            // three partitions so for good when their node died while the HA manager itself moved).
            // Seen so for a while, not in one survey: a start in progress can show it for a moment.
            var cameBackWithout = false;
            if (summary is { State: LparState.Defined, StateReported: true, IntendedRunning: true } && list.Nodes.Any(n => n.Node == node))
            {
                _definedSince.TryAdd(name, now);
                cameBackWithout = now - _definedSince[name] >= DefinedLongEnough;
            }
            else _definedSince.Remove(name);
            // Meant to run, and its live node reports it failed: its actor failed, or the copy there lost
            // the partition to a newer owner that is gone too (a survivor that took it over and died
            // before anyone heard of it; the chaos soak waited seconds for another rule to notice).
            var failedThere = summary is { State: LparState.Failed, StateReported: true, IntendedRunning: true } && list.Nodes.Any(n => n.Node == node);
            if (summary.State is not (LparState.Running or LparState.Quiesced or LparState.Activating) && !cameBackWithout && !failedThere) continue;
            if (pending.Contains(name) || inProgress.Contains(name) || draft.Find(name) is not { } record || record.Node != node) continue;
            // Its node is leaving or left: it stops its partitions on purpose.
            if (_left.ContainsKey(node) || _leavingNow.Contains(node)) continue;
            if (list.Strays.Any(s => s.Name == name && s.Verdict == ReportedLparVerdict.PlacedElsewhere && live.Contains(s.Node)
                && s.State is LparState.Running or LparState.Activating)) continue;
            string cause;
            if (dead.Contains(node)) cause = $"{node} is no longer in the cluster";
            else if (cameBackWithout) cause = $"{node} came back without it: it was running there and is only defined now";
            else if (failedThere) cause = $"{node} reports it failed";
            else if (_silentGuests.Remove(name, out var guest) && list.NodeAddresses.GetValueOrDefault(node) == guest.Node)
                cause = $"its heartbeats stopped at {guest.LastHeartbeat:HH:mm:ss.fff} while {node} lives";
            else continue;
            // The same failure reported twice (by two masters, or again after a handover) has the same id.
            var failureId = $"{name}@{node}#{record.Failures.Count(f => f.Completed)}";
            var decision = draft.Decide(new LparFailed(name, node, failureId, cause), live, now, room.For(name));
            if (decision.Refusal is { } refused) refusals.Add(refused);
            if (decision.Restart is { } planned) room.Take(planned.TargetNode, name);
            // On the draft, so the next failure's placement counts this restart.
            foreach (var e in decision.Events) draft.Apply(e);
            events.AddRange(decision.Events);
        }
        return new FailureCheck(events, refusals);
    }
}
