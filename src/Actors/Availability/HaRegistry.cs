using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>What the HA manager does about one reported failure.</summary>
public enum FailoverOutcome
{
    /// <summary>A new restart: persist <see cref="FailoverDecision.Events"/>, apply them, then carry out <see cref="FailoverDecision.Restart"/>.</summary>
    Restart,

    /// <summary>This failure was already planned (reported twice, or again after a handover): nothing to persist or do again.</summary>
    Duplicate,

    /// <summary>No restart is possible now; the failure may still be recorded (persist <see cref="FailoverDecision.Events"/>).</summary>
    Refused,
}

/// <summary>
/// The HA manager's answer to <see cref="LparFailed"/>: the events to persist (none for a
/// duplicate), and the restart planned (for a duplicate, the one planned before) or the refusal.
/// </summary>
public sealed record FailoverDecision(FailoverOutcome Outcome, IReadOnlyList<IViosMessage> Events, RestartPlanned? Restart, FailoverRefused? Refusal);

/// <summary>
/// S5: the HA manager's state — per partition an availability record (where it runs, its
/// consistency and boot failover image nodes, its failure history). Failures are decided here into
/// events (<see cref="FailureRecorded"/>, <see cref="RestartPlanned"/>) or a refusal; events are
/// applied here on the live path and on recovery alike, so a singleton that takes over replays the
/// journal into the same state: a planned restart not yet completed is still pending (not lost) and
/// the same failure reported again is a duplicate (not repeated).
/// </summary>
public sealed class HaRegistry(FailoverPolicy policy)
{
    /// <summary>Failures kept per partition: enough to recognise re-reports; older history is dropped.</summary>
    public const int HistoryLimit = 32;

    private readonly SortedDictionary<string, Record> _records = new(StringComparer.Ordinal);

    public HaRegistry()
        : this(FailoverPolicy.Default)
    {
    }

    public FailoverPolicy Policy { get; } = policy;

    public IReadOnlyCollection<AvailabilityRecord> Records => _records.Values.Select(r => r.ToRecord()).ToList();

    public AvailabilityRecord? Find(string lpar) => _records.GetValueOrDefault(lpar)?.ToRecord();

    /// <summary>Restarts planned and not yet completed: what a manager that has just recovered must (re)issue.</summary>
    public IReadOnlyList<RestartPlanned> PendingRestarts =>
        _records.Values.SelectMany(r => r.Failures.Where(f => f is { TargetNode: not null, Completed: false }).Select(f => PlanOf(r.Lpar, f))).ToList();

    /// <summary>Partitions (with an availability record) placed on, or being restarted on, a node.</summary>
    public int PlacedOn(string node) => _records.Values.Count(r => r.Node == node);

    /// <summary>
    /// An availability record for a partition. Failover image nodes not given are chosen among
    /// <paramref name="clusterNodes"/>: nodes other than the partition's own, fewest partitions placed
    /// first, the boot node different from the consistency node where there is a third node.
    /// </summary>
    /// <param name="withRoom">Nodes with room for the partition (<see cref="NodeRoom"/>), chosen before those without; null: every node counts.</param>
    public (AvailabilityDeclared? Event, string? Refusal) Decide(DeclareAvailability command, IReadOnlyCollection<string> clusterNodes,
        IReadOnlySet<string>? withRoom = null)
    {
        if (string.IsNullOrWhiteSpace(command.Lpar)) return (null, "a partition name is required");
        if (string.IsNullOrWhiteSpace(command.Node)) return (null, $"the node '{command.Lpar}' runs on is required");
        var others = Ranked(clusterNodes.Where(n => n != command.Node), withRoom).ToList();

        var consistency = command.ConsistencyNode ?? others.FirstOrDefault(n => n != command.BootNode) ?? others.FirstOrDefault();
        if (consistency is null) return (null, $"no node other than {command.Node} to hold the consistency failover image of '{command.Lpar}'");
        var boot = command.BootNode ?? others.FirstOrDefault(n => n != consistency) ?? consistency;
        return (new AvailabilityDeclared(command.Lpar, command.Node, consistency, boot), null);
    }

    /// <summary>
    /// S5's failover image nodes chosen again where they cannot take the partition over: the node it
    /// now runs on (a consistency-image failover restarts a partition on its consistency node), or a
    /// live node without room for it (<paramref name="room"/>) while another live node has room. Chosen
    /// among <paramref name="liveNodes"/> as <see cref="Decide(DeclareAvailability, IReadOnlyCollection{string}, IReadOnlySet{string})"/>
    /// chooses, nodes with room first; the other image node is kept. Without this, a survivor's
    /// takeover finds no designated node when the partition's node dies with the HA manager on it, and
    /// the partition waits for the next HA manager (8 to 10 s in the chaos soak); and a restart planned
    /// onto a full node is refused there. An image node that is <paramref name="dead"/> (downed or
    /// fenced, not registered again) is chosen again too: a survivor designated in its place takes the
    /// partition over if the HA manager's node dies next, where the dead node's next incarnation,
    /// still joining, would take nothing over (the chaos soak: 10 s twice). Image nodes that are merely
    /// not live now (not registered yet) are kept. Partitions in <paramref name="busy"/> (a restart
    /// pending or under way) and those whose node is not live are left alone.
    /// </summary>
    public IReadOnlyList<AvailabilityDeclared> Redesignate(IReadOnlyCollection<string> liveNodes, IReadOnlySet<string> busy, NodeRoom? room = null,
        IReadOnlySet<string>? dead = null)
    {
        var changes = new List<AvailabilityDeclared>();
        foreach (var record in _records.Values.OrderBy(r => r.Lpar, StringComparer.Ordinal))
        {
            if (busy.Contains(record.Lpar) || !liveNodes.Contains(record.Node)) continue;
            var fits = room?.For(record.Lpar);
            var roomElsewhere = fits is not null && liveNodes.Any(n => n != record.Node && fits.Contains(n));
            bool Misplaced(string node) => node == record.Node || dead?.Contains(node) == true
                                           || (roomElsewhere && liveNodes.Contains(node) && !fits!.Contains(node));
            if (!Misplaced(record.ConsistencyNode) && !Misplaced(record.BootNode)) continue;
            var (declared, _) = Decide(new DeclareAvailability(record.Lpar, record.Node,
                Misplaced(record.ConsistencyNode) ? null : record.ConsistencyNode, Misplaced(record.BootNode) ? null : record.BootNode), liveNodes, fits);
            if (declared is null) continue;
            Apply(declared);
            changes.Add(declared);
        }
        return changes;
    }

    /// <summary>
    /// The records placed where the partition manager no longer places the partition, moved to its
    /// node: the partition manager's record is the placement (owner epochs rise only through its
    /// moves), and this one follows every move the HA manager did not make itself: an operator's
    /// <c>lpar move</c>, and a survivor's takeover the partition manager adopted (from the copy's
    /// owner epoch) that was never announced here because the survivor died first. Left behind, the
    /// record named a node the partition had left, every failure report about its real node read as
    /// stale, and it was never failed over again (the chaos soak: not back in 60 s). The failover
    /// image nodes are kept unless one is the new node, which is chosen again among
    /// <paramref name="nodes"/>. Partitions in <paramref name="skip"/> (a restart pending or under
    /// way, or a record changed since the list was asked for, so the list may predate it) are left
    /// alone, as are those the list shows running on the record's node as a stray: the record is
    /// ahead there (a takeover announced here that the partition manager has not adopted yet).
    /// </summary>
    public IReadOnlyList<AvailabilityDeclared> Follow(LparList list, IReadOnlySet<string> skip, IReadOnlyCollection<string> nodes, NodeRoom? room = null)
    {
        var moves = new List<AvailabilityDeclared>();
        foreach (var summary in list.Lpars)
        {
            var (name, node) = (summary.Definition.Name, summary.Definition.Node);
            if (skip.Contains(name) || !_records.TryGetValue(name, out var record) || record.Node == node) continue;
            if (record.Failures.Any(f => f is { TargetNode: not null, Completed: false })) continue;
            // The record is ahead: a survivor's takeover recorded here that the partition manager has yet to adopt.
            if (list.Strays.Any(s => s.Name == name && s.Node == record.Node && s.State is LparState.Running or LparState.Activating or LparState.Quiesced)) continue;
            var (declared, _) = Decide(new DeclareAvailability(name, node, record.ConsistencyNode == node ? null : record.ConsistencyNode,
                record.BootNode == node ? null : record.BootNode), nodes, room?.For(name));
            // No other node to hold its images (a cluster of one): it follows all the same.
            declared ??= new AvailabilityDeclared(name, node, record.ConsistencyNode, record.BootNode);
            Apply(declared);
            moves.Add(declared);
        }
        return moves;
    }

    /// <summary>
    /// Decides what to do about a failure at <paramref name="now"/>, given the vios nodes now live.
    /// The failed node never takes the restart; a designated failover image node that is not live is
    /// replaced by the live node with the fewest partitions (then by name), and the reason says so.
    /// </summary>
    /// <param name="withRoom">
    /// Nodes with room for the partition (<see cref="NodeRoom"/>); null: every node counts. A designated
    /// node without room is passed over for a live node with room; when no live node has room, the
    /// designated node is kept (the move is refused there and retried until room is made). A hot
    /// replica is promoted where it is: its node holds the partition's memory already.
    /// </param>
    public FailoverDecision Decide(LparFailed failure, IReadOnlyCollection<string> liveNodes, DateTimeOffset now, IReadOnlySet<string>? withRoom = null)
    {
        if (!_records.TryGetValue(failure.Lpar, out var record))
            return Refused(failure, [], $"'{failure.Lpar}' has no availability record");

        var known = record.Failures.FirstOrDefault(f => f.FailureId == failure.FailureId);
        if (known is { TargetNode: not null })
            return new FailoverDecision(FailoverOutcome.Duplicate, [], PlanOf(record.Lpar, known), null);

        // A failure recorded before but refused then (no live node) is planned now, not recorded twice.
        var events = new List<IViosMessage>();
        var at = known?.At ?? now;
        if (known is null) events.Add(new FailureRecorded(failure.Lpar, failure.FailureId, failure.Node, failure.Cause, now));

        var earlier = record.Failures.Where(f => f.FailureId != failure.FailureId && f.At <= at).ToList();
        var previous = earlier.Count == 0 ? null : earlier[^1];
        var image = Policy.ImageFor(previous?.At, at);
        var why = Why(image, earlier, at);

        var live = liveNodes.ToHashSet(StringComparer.Ordinal);
        // S17: a hot standby is promoted, unless the failure repeats within the window (then S5's boot image).
        if (image == FailoverImage.Consistency && record.Standby is { Mode: StandbyMode.Hot, ReplicaNode: { } replica })
        {
            if (live.Contains(replica) && replica != failure.Node)
            {
                events.Add(new RestartPlanned(failure.Lpar, failure.FailureId, replica, FailoverImage.Replica, $"{why}: hot standby, promote the replica on {replica}", now));
                return new FailoverDecision(FailoverOutcome.Restart, events, (RestartPlanned)events[^1], null);
            }
            why += $" (its hot replica's node {replica} is not live, so from the image)";
        }

        var designated = image == FailoverImage.Boot ? record.BootNode : record.ConsistencyNode;
        var role = image == FailoverImage.Boot ? "boot" : "consistency";
        var candidates = live.Where(n => n != failure.Node).ToList();
        var full = withRoom is not null && !withRoom.Contains(designated) && candidates.Any(withRoom.Contains);
        if (live.Contains(designated) && designated != failure.Node && !full)
        {
            events.Add(new RestartPlanned(failure.Lpar, failure.FailureId, designated, image, $"{why}: {role} image on {designated}", now));
            return new FailoverDecision(FailoverOutcome.Restart, events, (RestartPlanned)events[^1], null);
        }

        var gone = designated == failure.Node ? "is where it failed" : !live.Contains(designated) ? "is not live" : "has no room for it";
        var fallback = Ranked(candidates, withRoom).FirstOrDefault();
        if (fallback is null)
            return Refused(failure, events, $"{why}: {role} failover image node {designated} {gone} and no other live node can take '{failure.Lpar}' (failed on {failure.Node})");

        var reason = $"{why}: {role} image on {fallback} ({role} failover image node {designated} {gone}; {fallback} has the fewest partitions)";
        events.Add(new RestartPlanned(failure.Lpar, failure.FailureId, fallback, image, reason, now));
        return new FailoverDecision(FailoverOutcome.Restart, events, (RestartPlanned)events[^1], null);
    }

    /// <summary>
    /// S17: a partition's availability requirement. Refused for a partition without a record or a
    /// recovery time that is not positive; the HA manager then chooses the standby.
    /// </summary>
    public string? Check(SetAvailabilityRequirement requirement) =>
        !_records.ContainsKey(requirement.Lpar) ? $"'{requirement.Lpar}' has no availability record (is it a partition?)"
        : requirement.MaxRecovery <= TimeSpan.Zero ? $"the maximum recovery time of '{requirement.Lpar}' must be positive"
        : null;

    /// <summary>The planned restart of <paramref name="failureId"/> ran on <paramref name="node"/>.</summary>
    public (RestartCompleted? Event, string? Refusal) Complete(string lpar, string failureId, string node, DateTimeOffset now)
    {
        var failure = _records.GetValueOrDefault(lpar)?.Failures.FirstOrDefault(f => f.FailureId == failureId);
        return failure switch
        {
            null => (null, $"no failure '{failureId}' of '{lpar}' is known"),
            { TargetNode: null } => (null, $"no restart was planned for failure '{failureId}' of '{lpar}'"),
            { Completed: true } => (null, $"the restart for failure '{failureId}' of '{lpar}' already completed"),
            _ => (new RestartCompleted(lpar, failureId, node, now), null),
        };
    }

    /// <summary>
    /// A survivor took the partition over while the HA manager moved (<see cref="TakeoverPlanner"/>):
    /// the failure and its restart, completed, as if planned here, at the survivor's times (when it
    /// began, and when the partition ran), under the same failure id, so a restart planned for it
    /// meanwhile is completed by it. Empty when that failure is already completed on record (a
    /// repeated announcement); refused without a record.
    /// </summary>
    public (IReadOnlyList<IViosMessage> Events, string? Refusal) Decide(TakeoverCompleted done)
    {
        if (Find(done.Lpar) is not { } record) return ([], $"'{done.Lpar}' has no availability record");
        if (record.Failures.Any(f => f.FailureId == done.FailureId && f.Completed)) return ([], null);
        var draft = Copy();
        var decision = draft.Decide(new LparFailed(done.Lpar, done.FailedNode, done.FailureId,
            $"{done.FailedNode} was downed with the HA manager on it; {done.Node} took the partition over"), [done.Node], done.StartedAt);
        // The history records what the survivor did (it promoted the replica, or restored an image, on its
        // own node), whatever the records say now: the standby choice may have moved on meanwhile.
        var events = decision.Events.Select(e => e is RestartPlanned planned ? planned with { TargetNode = done.Node, Image = done.Image } : e).ToList();
        foreach (var e in events) draft.Apply(e);
        if (draft.Complete(done.Lpar, done.FailureId, done.Node, done.StartedAt + done.Took) is ({ } completed, _))
            events.Add(completed with { Detail = $"taken over by {done.Node}: {done.Detail}" });
        return (events, null);
    }

    public (AvailabilityWithdrawn? Event, string? Refusal) Withdraw(string lpar) =>
        _records.ContainsKey(lpar) ? (new AvailabilityWithdrawn(lpar), null) : (null, $"'{lpar}' has no availability record");

    /// <summary>Folds an event (or a snapshot) into the state. An event delivered twice in a row changes nothing the second time.</summary>
    public void Apply(IViosMessage @event)
    {
        switch (@event)
        {
            case AvailabilityDeclared declared:
                var previous = _records.GetValueOrDefault(declared.Lpar);
                _records[declared.Lpar] = new Record(declared.Lpar, declared.ConsistencyNode, declared.BootNode)
                {
                    Node = declared.Node,
                    Failures = previous?.Failures ?? [],
                    Requirement = previous?.Requirement,
                    Standby = previous?.Standby,
                };
                break;
            case SetAvailabilityRequirement required when _records.TryGetValue(required.Lpar, out var record):
                record.Requirement = required;
                break;
            case StandbyChosen chosen when _records.TryGetValue(chosen.Lpar, out var record):
                record.Standby = chosen;
                break;
            case AvailabilityWithdrawn withdrawn:
                _records.Remove(withdrawn.Lpar);
                break;
            case FailureRecorded recorded when _records.TryGetValue(recorded.Lpar, out var record):
                if (record.Failures.Any(f => f.FailureId == recorded.FailureId)) break;
                record.Failures.Add(new FailureEntry(recorded.FailureId, recorded.FailedNode, recorded.Cause, recorded.At, null, null, null, null, false));
                if (record.Failures.Count > HistoryLimit) record.Failures.RemoveRange(0, record.Failures.Count - HistoryLimit);
                break;
            case RestartPlanned planned when _records.TryGetValue(planned.Lpar, out var record):
                var plannedIndex = record.Failures.FindIndex(f => f.FailureId == planned.FailureId);
                if (plannedIndex < 0 || record.Failures[plannedIndex].TargetNode is not null) break;
                record.Failures[plannedIndex] = record.Failures[plannedIndex] with
                {
                    TargetNode = planned.TargetNode,
                    Image = planned.Image,
                    Reason = planned.Reason,
                    PlannedAt = planned.At,
                };
                // Counted on its target from now on, so two failovers decided back to back spread out.
                record.Node = planned.TargetNode;
                break;
            case RestartCompleted completed when _records.TryGetValue(completed.Lpar, out var record):
                var completedIndex = record.Failures.FindIndex(f => f.FailureId == completed.FailureId);
                if (completedIndex < 0 || record.Failures[completedIndex].Completed) break;
                record.Failures[completedIndex] = record.Failures[completedIndex] with
                {
                    Completed = true,
                    CompletedAt = completed.At,
                    Detail = completed.Detail,
                };
                record.Node = completed.Node;
                break;
            case HaSnapshot snapshot:
                _records.Clear();
                foreach (var r in snapshot.Records)
                    _records[r.Lpar] = new Record(r.Lpar, r.ConsistencyNode, r.BootNode)
                    {
                        Node = r.Node,
                        Failures = r.Failures.ToList(),
                        Requirement = r.Requirement,
                        Standby = r.Standby,
                    };
                break;
        }
    }

    /// <summary>A registry of its own with the same records: a draft to decide several events against before any is persisted.</summary>
    public HaRegistry Copy()
    {
        var copy = new HaRegistry(Policy);
        copy.Apply(Snapshot());
        return copy;
    }

    public HaSnapshot Snapshot() => new(_records.Values.Select(r => r.ToRecord()).ToList());

    private static RestartPlanned PlanOf(string lpar, FailureEntry f) =>
        new(lpar, f.FailureId, f.TargetNode!, f.Image!.Value, f.Reason ?? "", f.PlannedAt ?? f.At);

    private static FailoverDecision Refused(LparFailed failure, IReadOnlyList<IViosMessage> events, string reason) =>
        new(FailoverOutcome.Refused, events, null, new FailoverRefused(failure.Lpar, failure.FailureId, reason));

    /// <summary>Nodes in the order the fallback takes them: with room (when known) first, then fewest partitions placed, then name.</summary>
    private IEnumerable<string> Ranked(IEnumerable<string> nodes, IReadOnlySet<string>? withRoom) =>
        nodes.Distinct(StringComparer.Ordinal).OrderBy(n => withRoom is null || withRoom.Contains(n) ? 0 : 1)
            .ThenBy(PlacedOn).ThenBy(n => n, StringComparer.Ordinal);

    /// <summary>"first failure", "second failure within 10 min", "failure 2 h after the previous one (window 10 min)".</summary>
    private string Why(FailoverImage image, List<FailureEntry> earlier, DateTimeOffset at)
    {
        var window = FailoverPolicy.Describe(Policy.FailureWindow);
        if (earlier.Count == 0) return "first failure";
        if (image == FailoverImage.Consistency)
            return $"failure {FailoverPolicy.Describe(at - earlier[^1].At)} after the previous one (window {window})";

        // How many failures in a row, each within the window of the one before, this one included.
        var run = 1;
        var next = at;
        for (var i = earlier.Count - 1; i >= 0 && next - earlier[i].At <= Policy.FailureWindow; i--, run++) next = earlier[i].At;
        return $"{Ordinal(run)} failure within {window}";
    }

    private static string Ordinal(int n) => n switch
    {
        2 => "second",
        3 => "third",
        4 => "fourth",
        _ => $"{n}th",
    };

    private sealed class Record(string lpar, string consistencyNode, string bootNode)
    {
        public string Lpar { get; } = lpar;

        public string ConsistencyNode { get; } = consistencyNode;

        public string BootNode { get; } = bootNode;

        public required string Node { get; set; }

        public required List<FailureEntry> Failures { get; init; }

        public SetAvailabilityRequirement? Requirement { get; set; }

        public StandbyChosen? Standby { get; set; }

        public AvailabilityRecord ToRecord() => new(Lpar, Node, ConsistencyNode, BootNode, Failures.ToList()) { Requirement = Requirement, Standby = Standby };
    }
}
