using System.Text.RegularExpressions;

namespace Vios.Actors.Partitions;

/// <summary>
/// The partition manager's state: every partition's definition and placement (persisted), the
/// resources each registered node advertises and the state each node last reported (both live).
/// Commands are decided here into events or refusals; events are applied here, on the live path
/// and on recovery alike.
/// </summary>
public sealed partial class PartitionRegistry
{
    private readonly SortedDictionary<string, LparDefinition> _definitions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LparState> _states = new(StringComparer.Ordinal);
    private readonly HashSet<string> _running = new(StringComparer.Ordinal);
    // Partitions whose state is the operator's intent or a move's Defined, not yet reported by their node.
    private readonly HashSet<string> _assumed = new(StringComparer.Ordinal);
    // The last ownership epoch of each deleted partition: one created again under its name starts above
    // it, since the fence of the name's journal stays where the old one left it.
    private readonly Dictionary<string, long> _retiredEpochs = new(StringComparer.Ordinal);

    /// <summary>Partitions deleted, by name, with the node they were placed on: a node that was away learns it on registering.</summary>
    private readonly SortedDictionary<string, string> _deleted = new(StringComparer.Ordinal);

    /// <summary>
    /// By node: the partitions its firmware runs that the record does not place there (no record at
    /// all, or placed elsewhere), kept running and shown until the disagreement is resolved.
    /// </summary>
    private readonly Dictionary<string, Dictionary<string, ReportedLpar>> _strays = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeResources> _online = new(StringComparer.Ordinal);
    private readonly ResourcePlanner _planner = new();

    public IReadOnlyCollection<LparDefinition> Definitions => _definitions.Values;

    /// <summary>Nodes whose firmware has registered and not gone away.</summary>
    public IReadOnlyCollection<NodeResources> OnlineNodes => _online.Values;

    public LparDefinition? Find(string name) => _definitions.GetValueOrDefault(name);

    public LparState StateOf(string name) => _states.GetValueOrDefault(name, LparState.Defined);

    public bool IsOnline(string node) => _online.ContainsKey(node);

    public IEnumerable<LparDefinition> PlacedOn(string node) => _definitions.Values.Where(d => d.Node == node);

    /// <summary>Partitions that run on a node the record does not place them on, kept running until resolved.</summary>
    public IEnumerable<ReportedLpar> Strays => _strays.Values.SelectMany(s => s.Values)
        .OrderBy(s => s.Name, StringComparer.Ordinal).ThenBy(s => s.Node, StringComparer.Ordinal);

    /// <summary>
    /// A node's firmware registered: its resources can take partitions, and it says how every
    /// partition it runs is. The partitions placed there take the reported states; each other
    /// reported partition is decided by <see cref="DecideReported"/> (never stopped for being
    /// missing from the record). Returns every decision that is not plain hosting, including stops
    /// of copies on other nodes of a partition this node runs where the record places it.
    /// </summary>
    public IReadOnlyList<ReportedLpar> Register(NodeResources resources, IReadOnlyDictionary<string, LparState> states)
    {
        var node = resources.Node;
        _online[node] = resources;
        _planner.Advertise(resources);
        foreach (var definition in PlacedOn(node))
        {
            _states[definition.Name] = states.GetValueOrDefault(definition.Name, LparState.Defined);
            _assumed.Remove(definition.Name);
        }

        _strays.Remove(node);
        var decisions = new List<ReportedLpar>();
        foreach (var (name, state) in states.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (_definitions.GetValueOrDefault(name)?.Node == node) continue;
            decisions.Add(Keep(DecideReported(node, name, state)));
        }
        foreach (var definition in PlacedOn(node).ToList()) decisions.AddRange(RedecideStraysOf(definition.Name));
        return decisions;
    }

    /// <summary>A node's firmware is gone (node left, crashed or was downed).</summary>
    public void Unregister(string node)
    {
        _online.Remove(node);
        _planner.Withdraw(node);
        _strays.Remove(node);
    }

    /// <summary>A state reported by the node the partition is placed on.</summary>
    /// <summary>The owner epoch of the partition's record, or the last one of a deleted partition; null when never defined.</summary>
    public long? OwnerEpochOf(string name) =>
        _definitions.TryGetValue(name, out var definition) ? definition.OwnerEpoch
        : _retiredEpochs.TryGetValue(name, out var retired) ? retired
        : null;

    public void Report(string name, LparState state, long ownerEpoch = 0)
    {
        if (_definitions.TryGetValue(name, out var definition)) Report(definition.Node, name, state, ownerEpoch);
    }

    /// <summary>
    /// <paramref name="node"/>'s firmware says how a partition it runs is. From the node the record
    /// places it on, that is its state (and copies elsewhere may now be stopped); from another node,
    /// it is decided like a registration's report.
    /// </summary>
    public IReadOnlyList<ReportedLpar> Report(string node, string name, LparState state, long ownerEpoch = 0)
    {
        if (_definitions.TryGetValue(name, out var definition) && definition.Node == node)
        {
            // A copy that lost the partition (its node paused and the partition moved) says nothing about the new owner.
            if (ownerEpoch != 0 && ownerEpoch < definition.OwnerEpoch) return [];
            _states[name] = state;
            _assumed.Remove(name);
            return RedecideStraysOf(name);
        }
        return [Keep(DecideReported(node, name, state))];
    }

    /// <summary>
    /// What to do with partition <paramref name="name"/> that <paramref name="node"/>'s firmware
    /// reports in <paramref name="state"/>, where the record does not place it on that node. The
    /// operator's intent decides, never the record's silence: a partition with no record keeps
    /// running; one placed elsewhere is stopped here only if it runs (or is meant to run) there; one
    /// deleted is stopped. This is the one place to extend with the ownership epoch (a report
    /// carrying a stale epoch is stopped whatever the record says).
    /// </summary>
    public ReportedLpar DecideReported(string node, string name, LparState state)
    {
        var active = IsActive(state);
        if (_definitions.TryGetValue(name, out var definition))
        {
            if (definition.Node == node) return new ReportedLpar(name, node, state, ReportedLparVerdict.Hosted, $"'{name}' is placed on {node}");
            if (!active)
                return new ReportedLpar(name, node, state, ReportedLparVerdict.StopPlacedElsewhere,
                    $"'{name}' is placed on {definition.Node}; the copy on {node} is {Lower(state)}, not running");
            if (IsOnline(definition.Node) && IsActive(StateOf(name)))
                return new ReportedLpar(name, node, state, ReportedLparVerdict.StopPlacedElsewhere,
                    $"'{name}' runs on {node} and on {definition.Node}, where the partition manager places it: the copy on {node} is stopped");
            return new ReportedLpar(name, node, state, ReportedLparVerdict.PlacedElsewhere,
                $"'{name}' runs on {node} but the partition manager places it on {definition.Node}, where it does not run: left running until it does");
        }
        if (_deleted.TryGetValue(name, out var deletedFrom))
            return new ReportedLpar(name, node, state, ReportedLparVerdict.StopDeleted,
                $"'{name}' was deleted (from {deletedFrom}) while {node} was away: the copy on {node} is stopped");
        return new ReportedLpar(name, node, state, ReportedLparVerdict.NotInRecord,
            $"'{name}' is {Lower(state)} on {node} but is not in the partition manager's record: left running; "
            + "is this node's cluster-wide journal the one the other nodes use?");
    }

    /// <summary>
    /// The copies <paramref name="node"/> runs under an owner epoch above the record's, where the
    /// record places them elsewhere: takeovers this manager never heard announced (the survivor
    /// that took the partition over while the singletons moved died, or the announcement was lost
    /// with the old manager). Epochs rise only through failovers that raised the partition's fence,
    /// so such a copy is the owner, and the record must follow it, as for an announced takeover;
    /// left on the old node, the record kept restarting a copy the fence stopped, and the HA manager
    /// never failed the partition over when its real node died (the chaos soak: not back in 60 s).
    /// </summary>
    public IReadOnlyList<Availability.LparTakenOver> UnannouncedTakeovers(string node, IReadOnlyDictionary<string, LparState> states, IReadOnlyDictionary<string, long> epochs)
    {
        var takeovers = new List<Availability.LparTakenOver>();
        foreach (var (name, state) in states)
        {
            if (!IsActive(state) || !epochs.TryGetValue(name, out var epoch) || _definitions.GetValueOrDefault(name) is not { } definition) continue;
            if (definition.Node == node || epoch <= definition.OwnerEpoch) continue;
            takeovers.Add(new Availability.LparTakenOver(name, node, definition.Node, epoch,
                $"its copy on {node} runs under owner epoch {epoch}, above the record's {definition.OwnerEpoch} on {definition.Node}: a takeover this manager had not heard of"));
        }
        return takeovers;
    }

    /// <summary>A stray that is left alone (not stopped) is remembered for its node, to be shown and decided again.</summary>
    private ReportedLpar Keep(ReportedLpar decision)
    {
        if (decision.Stops || decision.Verdict == ReportedLparVerdict.Hosted)
        {
            if (_strays.TryGetValue(decision.Node, out var gone)) gone.Remove(decision.Name);
        }
        else
        {
            if (!_strays.TryGetValue(decision.Node, out var strays)) _strays[decision.Node] = strays = new(StringComparer.Ordinal);
            strays[decision.Name] = decision;
        }
        return decision;
    }

    /// <summary>The copies of <paramref name="name"/> kept on other nodes, decided again now that its own node reported.</summary>
    private List<ReportedLpar> RedecideStraysOf(string name)
    {
        var stops = new List<ReportedLpar>();
        foreach (var (node, strays) in _strays.ToList())
        {
            if (!strays.TryGetValue(name, out var stray)) continue;
            var decision = Keep(DecideReported(node, name, stray.State));
            if (decision.Stops) stops.Add(decision);
        }
        return stops;
    }

    private static bool IsActive(LparState state) => state is LparState.Activating or LparState.Running or LparState.Quiesced;

    private static string Lower(LparState state) => state.ToString().ToLowerInvariant();

    public (LparDefined? Event, LparRefused? Refusal) Decide(CreateLpar command, DateTimeOffset now)
    {
        (LparDefined?, LparRefused?) Refused(LparRefusal kind, string reason) => (null, new LparRefused(command.Name, reason) { Kind = kind });
        if (!ValidName().IsMatch(command.Name))
            return Refused(LparRefusal.Other, $"'{command.Name}' is not a partition name: lower-case letters, digits and '-', starting with a letter, at most 40");
        if (_definitions.ContainsKey(command.Name)) return Refused(LparRefusal.AlreadyExists, $"a partition named '{command.Name}' already exists");
        if (Strays.FirstOrDefault(s => s.Name == command.Name) is { } stray)
            return Refused(LparRefusal.AlreadyExists, $"a partition named '{command.Name}' runs on {stray.Node}, though it is not in the partition manager's record");
        if (command.MemoryMb > GuestLimits.MaximumMemoryMb)
            return Refused(LparRefusal.Other, $"a partition has at most {GuestLimits.MaximumMemoryMb} MB of memory");
        if (command.Vcpus > GuestLimits.MaximumVcpus) return Refused(LparRefusal.Other, $"a partition has at most {GuestLimits.MaximumVcpus} vCPUs");
        if (_online.Count == 0) return Refused(LparRefusal.NodeAbsent, "no vios node has registered resources yet");

        var request = new ResourceRequest(command.Name, command.Vcpus, command.MemoryMb, command.Adapters, command.Policy) { Node = command.Node };
        var placement = _planner.Plan(request);
        if (placement.Allocation is not { } allocation) return Refused(LparRefusal.NoRoom, placement.Refusal!);
        return (new LparDefined(new LparDefinition(command.Name, command.Vcpus, command.MemoryMb, command.Policy, command.Adapters, allocation, now)
        {
            OwnerEpoch = _retiredEpochs.GetValueOrDefault(command.Name) + 1,
        }), null);
    }

    /// <param name="fence">
    /// Where the partition's fence stands, if known: the move's epoch is one above it too. A survivor
    /// that took the partition over raised the fence two above the record and may have died before
    /// it announced the takeover; a move one above the record would be refused there for good.
    /// </param>
    public (LparMoved? Event, LparRefused? Refusal) Decide(MoveLpar command, long? fence = null)
    {
        LparRefused Refused(LparRefusal kind, string reason) => new(command.Name, reason) { Kind = kind };
        if (_definitions.GetValueOrDefault(command.Name) is not { } definition) return (null, Refused(LparRefusal.NotFound, $"no partition named '{command.Name}'"));
        if (definition.Node == command.ToNode) return (null, Refused(LparRefusal.AlreadyPlaced, $"'{command.Name}' is already placed on {command.ToNode}"));
        if (!_online.ContainsKey(command.ToNode)) return (null, Refused(LparRefusal.NodeAbsent, $"no vios node '{command.ToNode}' has registered resources"));
        var state = StateOf(command.Name);
        if (IsOnline(definition.Node) && state is LparState.Activating or LparState.Running or LparState.Quiesced)
            return (null, Refused(LparRefusal.WrongState, $"'{command.Name}' is {state.ToString().ToLowerInvariant()} on {definition.Node}: stop it first"));
        var request = new ResourceRequest(command.Name, definition.Vcpus, definition.MemoryMb, definition.Adapters, definition.Policy) { Node = command.ToNode };
        var placement = _planner.PlanMove(request);
        return placement.Allocation is { } allocation
            ? (new LparMoved(definition with { Allocation = allocation, OwnerEpoch = Math.Max(definition.OwnerEpoch, fence ?? 0) + 1 }, definition.Node, command.Reason), null)
            : (null, Refused(LparRefusal.NoRoom, placement.Refusal!));
    }

    /// <summary>
    /// A survivor took the partition over while the partition manager moved (issue 12, point 4): its
    /// copy runs under a newer owner epoch than the record's, and the fence already refuses every
    /// older copy, so the record follows the copy. Nothing to do when the record is there already
    /// (the takeover is announced until it is answered); refused when the record is newer.
    /// </summary>
    public (LparMoved? Event, string? Refusal) Decide(Availability.LparTakenOver taken)
    {
        if (_definitions.GetValueOrDefault(taken.Name) is not { } definition) return (null, $"no partition named '{taken.Name}'");
        if (definition.OwnerEpoch == taken.OwnerEpoch && definition.Node == taken.Node) return (null, null);
        if (definition.OwnerEpoch >= taken.OwnerEpoch)
            return (null, $"'{taken.Name}' is at owner epoch {definition.OwnerEpoch} on {definition.Node}, not older than the takeover by {taken.Node} at {taken.OwnerEpoch}");
        if (!_online.ContainsKey(taken.Node)) return (null, $"no vios node '{taken.Node}' has registered resources");
        var request = new ResourceRequest(taken.Name, definition.Vcpus, definition.MemoryMb, definition.Adapters, definition.Policy) { Node = taken.Node };
        // The copy runs there whatever the accounting says: a placement the planner would refuse keeps the old grants' shape.
        var allocation = definition.Node == taken.Node ? definition.Allocation
            : _planner.PlanMove(request).Allocation ?? definition.Allocation with { Node = taken.Node };
        return (new LparMoved(definition with { Allocation = allocation, OwnerEpoch = taken.OwnerEpoch }, definition.Node,
            $"taken over by {taken.Node} at owner epoch {taken.OwnerEpoch}: {taken.Reason}"), null);
    }

    public (LparRemoved? Event, string? Refusal) Decide(DeleteLpar command)
    {
        if (!_definitions.ContainsKey(command.Name)) return (null, $"no partition named '{command.Name}'");
        var state = StateOf(command.Name);
        return state is LparState.Activating or LparState.Running or LparState.Quiesced
            ? (null, $"'{command.Name}' is {state.ToString().ToLowerInvariant()}: stop it first")
            : (new LparRemoved(command.Name), null);
    }

    public void Apply(IViosMessage @event)
    {
        switch (@event)
        {
            case LparDefined defined:
                _deleted.Remove(defined.Definition.Name);
                _definitions[defined.Definition.Name] = WithEpoch(defined.Definition, _retiredEpochs.GetValueOrDefault(defined.Definition.Name) + 1);
                _states[defined.Definition.Name] = LparState.Defined;
                _assumed.Add(defined.Definition.Name);
                _planner.Commit(defined.Definition.Allocation);
                break;
            case LparMoved moved:
                _planner.Release(moved.Definition.Name);
                _planner.Commit(moved.Definition.Allocation);
                _definitions[moved.Definition.Name] = WithEpoch(moved.Definition, (_definitions.GetValueOrDefault(moved.Definition.Name)?.OwnerEpoch ?? 0) + 1);
                _states[moved.Definition.Name] = LparState.Defined;
                _assumed.Add(moved.Definition.Name);
                break;
            case LparIntent intent when _definitions.ContainsKey(intent.Name):
                // Until its node reports, the partition is as the operator last asked.
                _states[intent.Name] = intent.Running ? LparState.Running : LparState.Stopped;
                _assumed.Add(intent.Name);
                if (intent.Running) _running.Add(intent.Name);
                else _running.Remove(intent.Name);
                break;
            case LparRemoved removed:
                if (_definitions.GetValueOrDefault(removed.Name) is { } gone)
                {
                    _retiredEpochs[removed.Name] = gone.OwnerEpoch;
                    _deleted[removed.Name] = gone.Node;
                }
                _running.Remove(removed.Name);
                _assumed.Remove(removed.Name);
                _definitions.Remove(removed.Name);
                _states.Remove(removed.Name);
                _planner.Release(removed.Name);
                break;
            case PartitionManagerSnapshot snapshot:
                foreach (var (name, epoch) in snapshot.RetiredEpochs) _retiredEpochs[name] = epoch;
                foreach (var definition in snapshot.Definitions) Apply(new LparDefined(definition));
                foreach (var name in snapshot.Running) Apply(new LparIntent(name, true));
                foreach (var (name, node) in snapshot.Deleted) _deleted.TryAdd(name, node);
                break;
        }
    }

    /// <summary>
    /// The definition with at least <paramref name="minimum"/> as its ownership epoch. Every move
    /// raises the epoch: the event carries it, and a move persisted before epochs existed (it reads
    /// as 1) raises the one before it, so recovery gives the same epoch either way. A definition
    /// already there is kept as it is.
    /// </summary>
    private static LparDefinition WithEpoch(LparDefinition definition, long minimum) =>
        definition.OwnerEpoch >= minimum ? definition : definition with { OwnerEpoch = minimum };

    public PartitionManagerSnapshot Snapshot() => new(_definitions.Values.ToList())
    {
        Running = _running.Order(StringComparer.Ordinal).ToList(),
        RetiredEpochs = new SortedDictionary<string, long>(_retiredEpochs, StringComparer.Ordinal),
        Deleted = new Dictionary<string, string>(_deleted),
    };

    public LparList List() => new(
        _definitions.Values.Select(d => new LparSummary(d, StateOf(d.Name), IsOnline(d.Node)) { StateReported = !_assumed.Contains(d.Name), IntendedRunning = _running.Contains(d.Name) }).ToList(),
        _online.Values.OrderBy(n => n.Node, StringComparer.Ordinal).ToList())
    {
        Strays = Strays.ToList(),
    };

    // \z, not $: $ also matches before a final newline, which would let "db\n" through as a name.
    [GeneratedRegex(@"^[a-z][a-z0-9-]{0,39}\z")]
    private static partial Regex ValidName();
}

/// <summary>The largest partition this runtime hosts.</summary>
public static class GuestLimits
{
    /// <summary>64 GiB: guest memory is real bytes on the host, committed as the guest touches it.</summary>
    public const long MaximumMemoryMb = 64 * 1024;

    public const int MaximumVcpus = 256;
}
