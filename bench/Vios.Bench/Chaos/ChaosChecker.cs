namespace Vios.Bench.Chaos;

/// <summary>What one node's firmware said it hosts, in one polling round; null when the node did not answer.</summary>
public sealed record NodeView(string Node, IReadOnlyDictionary<string, string>? States);

/// <summary>One row of the cluster-wide journal: who wrote which sequence number of which stream.</summary>
public sealed record JournalRow(string PersistenceId, long SequenceNr, string Writer);

public enum ViolationKind
{
    /// <summary>Two nodes said, in the same round, that they run the partition.</summary>
    TwoCopies,

    /// <summary>A partition hit by a fault was not running again within its recovery target.</summary>
    RecoveryOverTarget,

    /// <summary>A partition hit by a fault was not running again at all within the soak's liveness limit.</summary>
    NotRecovered,

    /// <summary>A partition came back from an epoch older than one seen committed before the fault.</summary>
    CommittedEpochLost,

    /// <summary>A persistence id was written by a writer that another writer had already followed.</summary>
    SecondWriter,
}

public sealed record Violation(ViolationKind Kind, DateTimeOffset At, string Detail)
{
    public override string ToString() => $"{At:HH:mm:ss.fff} {Kind}: {Detail}";
}

/// <summary>How long one partition hit by one fault took to run again (null: not within the liveness limit).</summary>
/// <param name="MajorityLived">Whether a majority of the vios nodes lived when the fault hit: the target applies only then (issue 12).</param>
public sealed record Recovery(Fault Fault, string Lpar, string Mode, TimeSpan Target, TimeSpan? Took, bool MajorityLived = true);

/// <summary>
/// The soak's checkers, fed with what the nodes said (each node's own view of what it runs, the
/// epochs seen committed in the journal, the journal's writers) and with the faults injected. Pure:
/// no clock of its own, no I/O, so its rules have specs of their own.
/// </summary>
public sealed class ChaosChecker(TimeSpan livenessLimit)
{
    private const string Running = "running";

    private readonly List<Violation> _violations = [];
    private readonly List<Recovery> _recoveries = [];
    private readonly List<OpenRecovery> _open = [];
    private readonly Dictionary<string, string> _lastRunningOn = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedList<DateTimeOffset, long>> _committed = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Pid, long Seq), string> _writers = [];
    private readonly HashSet<(string, string)> _reportedTwoCopies = [];
    private readonly HashSet<string> _reportedWriters = new(StringComparer.Ordinal);

    public IReadOnlyList<Violation> Violations => _violations;

    public IReadOnlyList<Recovery> Recoveries => _recoveries;

    /// <summary>Partitions a fault hit that are not running again yet.</summary>
    public IReadOnlyCollection<string> Recovering => _open.Select(o => o.Lpar).ToList();

    /// <summary>The node each partition was last seen running on.</summary>
    public IReadOnlyDictionary<string, string> LastRunningOn => _lastRunningOn;

    /// <summary>One polling round: every node asked at about the same moment.</summary>
    public void ObserveRound(DateTimeOffset at, IReadOnlyList<NodeView> views)
    {
        var runningOn = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var view in views)
        {
            if (view.States is null) continue;
            foreach (var (lpar, state) in view.States.Where(s => s.Value == Running))
            {
                if (!runningOn.TryGetValue(lpar, out var nodes)) runningOn[lpar] = nodes = [];
                nodes.Add(view.Node);
            }
        }
        foreach (var (lpar, nodes) in runningOn)
        {
            _lastRunningOn[lpar] = nodes[0];
            if (nodes.Count < 2) continue;
            var key = (lpar, string.Join(",", nodes.Order(StringComparer.Ordinal)));
            // One violation per partition and pair of nodes, not one per round it lasts.
            if (_reportedTwoCopies.Add(key)) _violations.Add(new Violation(ViolationKind.TwoCopies, at, $"{lpar} running on {string.Join(" and ", nodes)}"));
        }
        foreach (var open in _open.ToList())
        {
            if (runningOn.ContainsKey(open.Lpar))
            {
                Close(open, at - open.Since);
                continue;
            }
            if (at - open.Since > livenessLimit)
            {
                _violations.Add(new Violation(ViolationKind.NotRecovered, at, $"{open.Lpar} ({open.Mode}) not running {livenessLimit.TotalSeconds:0} s after {open.Fault}"));
                _recoveries.Add(new Recovery(open.Fault, open.Lpar, open.Mode, open.Target, null, open.MajorityLived));
                _open.Remove(open);
            }
        }
    }

    /// <summary>A fault hit these partitions at <paramref name="at"/>: each must be running again within its target.</summary>
    /// <param name="majorityLives">
    /// Whether a majority of the vios nodes lived apart from the fault's target: the recovery target
    /// holds only then (several nodes killed seconds apart leave no majority of heartbeat masters to
    /// fence, and the split-brain resolver decides). Each partition must run again within the
    /// liveness limit either way.
    /// </param>
    public void FaultInjected(Fault fault, DateTimeOffset at, IEnumerable<(string Lpar, string Mode, TimeSpan Target)> hit, bool majorityLives = true)
    {
        foreach (var (lpar, mode, target) in hit)
        {
            _open.RemoveAll(o => o.Lpar == lpar);
            _open.Add(new OpenRecovery(fault, lpar, mode, target, at, majorityLives));
        }
    }

    /// <summary>A partition's journal held <paramref name="epoch"/> as committed when looked at, at <paramref name="at"/>.</summary>
    public void Committed(string lpar, long epoch, DateTimeOffset at)
    {
        if (!_committed.TryGetValue(lpar, out var seen)) _committed[lpar] = seen = [];
        seen[at] = epoch;
    }

    /// <summary>
    /// A partition failed at <paramref name="failedAt"/> came back from <paramref name="epoch"/>: every epoch seen
    /// committed before the failure must be in what it came back from.
    /// </summary>
    public void Restored(string lpar, long epoch, DateTimeOffset failedAt, string detail)
    {
        if (!_committed.TryGetValue(lpar, out var seen)) return;
        var before = seen.Where(s => s.Key <= failedAt).Select(s => s.Value).DefaultIfEmpty(0).Max();
        if (epoch < before)
            _violations.Add(new Violation(ViolationKind.CommittedEpochLost, failedAt,
                $"{lpar} came back from epoch {epoch}, but epoch {before} was committed before it failed ({detail})"));
    }

    /// <summary>
    /// Rows read from the journal. A stream changes writer when its partition moves; it never goes back
    /// to an earlier writer (a new owner is a new actor, with a new writer id), so a writer that wrote
    /// before and after another one means two writers at once.
    /// </summary>
    public void JournalRows(DateTimeOffset at, IEnumerable<JournalRow> rows)
    {
        foreach (var row in rows) _writers[(row.PersistenceId, row.SequenceNr)] = row.Writer;
        foreach (var stream in _writers.GroupBy(w => w.Key.Pid))
        {
            if (_reportedWriters.Contains(stream.Key)) continue;
            var finished = new HashSet<string>(StringComparer.Ordinal);
            string? current = null;
            foreach (var (key, writer) in stream.OrderBy(w => w.Key.Seq))
            {
                if (writer == current) continue;
                if (finished.Contains(writer))
                {
                    _violations.Add(new Violation(ViolationKind.SecondWriter, at,
                        $"{stream.Key}: writer {Short(writer)} wrote sequence number {key.Seq} after writer {Short(current!)} had taken over"));
                    _reportedWriters.Add(stream.Key);
                    break;
                }
                if (current is not null) finished.Add(current);
                current = writer;
            }
        }
    }

    private void Close(OpenRecovery open, TimeSpan took)
    {
        _open.Remove(open);
        _recoveries.Add(new Recovery(open.Fault, open.Lpar, open.Mode, open.Target, took, open.MajorityLived));
        if (took > open.Target && open.MajorityLived)
            _violations.Add(new Violation(ViolationKind.RecoveryOverTarget, open.Since + took,
                $"{open.Lpar} ({open.Mode}) running again {took.TotalSeconds:0.00} s after {open.Fault}, over its {open.Target.TotalSeconds:0.0} s target"));
    }

    private static string Short(string writer) => writer.Length > 8 ? writer[..8] : writer;

    private sealed record OpenRecovery(Fault Fault, string Lpar, string Mode, TimeSpan Target, DateTimeOffset Since, bool MajorityLived);
}
