using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Vios.Bench.Chaos;

/// <param name="Duration">How long faults are injected.</param>
/// <param name="Seed">The schedule's seed: the same seed gives the same faults in the same order.</param>
/// <param name="ColdPartitions">Partitions with periodic persisted checkpoints (cold standby).</param>
/// <param name="HotPartitions">Partitions with a hot replica (S17, `ha policy --full-performance`).</param>
public sealed record ChaosOptions(TimeSpan Duration, int Seed, int ViosNodes = 4, int Lighthouses = 2, int ColdPartitions = 3, int HotPartitions = 1)
{
    public static readonly TimeSpan ColdTarget = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan HotTarget = TimeSpan.FromSeconds(3.5);

    /// <summary>A partition a fault hit that is not running again after this long counts as not recovered at all.</summary>
    public TimeSpan LivenessLimit { get; init; } = TimeSpan.FromSeconds(60);

    public bool KeepData { get; init; }

    /// <summary>On the soak's own PostgreSQL server, which it restarts as a fault, instead of SQLite files.</summary>
    public bool Postgres { get; init; }
}

public sealed record ChaosReport(ChaosOptions Options, IReadOnlyList<Fault> Faults, IReadOnlyList<Recovery> Recoveries, IReadOnlyList<Violation> Violations, TimeSpan Ran)
{
    /// <summary>Nodes (and lighthouses) that exited on their own, downed by the cluster, and were started again.</summary>
    public IReadOnlyList<string> UnplannedRestarts { get; init; } = [];

    /// <summary>Lighthouses started again because they had seeded a cluster of their own instead of joining the nodes'.</summary>
    public IReadOnlyList<string> LighthouseSplits { get; init; } = [];

    /// <summary>Violations of safety (two copies, a lost epoch, two writers) and liveness (never back), not of the recovery-time targets.</summary>
    public IReadOnlyList<Violation> SafetyAndLiveness => Violations.Where(v => v.Kind != ViolationKind.RecoveryOverTarget).ToList();
}

/// <summary>
/// Issue 12's chaos soak: a seeded schedule of SIGKILLs with restarts, SIGSTOP/SIGCONT pauses short
/// and long, graceful leaves and lighthouse kills against a lighthouse pair and vios node processes
/// running partitions with workloads, periodic checkpoints and hot standbys. While it runs, checkers
/// poll every node's own view (`lpar local`, the journal) and record every violation of: no partition
/// running on two nodes at once; every partition a fault hit running again within its target; no
/// committed epoch lost; one writer per persistence id.
/// </summary>
public static partial class ChaosSoak
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RoundInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan EpochInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan JournalInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan SteadyTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LighthouseJoinTimeout = TimeSpan.FromSeconds(30);
    private const int CheckpointIntervalMs = 500;
    private const int WorkloadRate = 5000;

    /// <summary>
    /// Every fault is a first failure with a short window (the boot-image path of S5 is another
    /// scenario), and the silence limits are the shipped ones.
    /// </summary>
    private const string Config = """
        # Chaos soak: faults come seconds apart; with a 1 s failure window each is a first failure.
        vios.availability.failure-window = 1s
        """;

    public static async Task<ChaosReport> RunAsync(ChaosOptions options, TextWriter log)
    {
        var root = Path.Combine(Path.GetTempPath(), $"vios-chaos-{Guid.NewGuid():N}"[..26]);
        var checker = new ChaosChecker(options.LivenessLimit);
        var schedule = new ChaosSchedule(options.Seed, options.ViosNodes, options.Lighthouses, databaseRestarts: options.Postgres);
        var faults = new List<Fault>();
        var clock = Stopwatch.StartNew();
        var keep = options.KeepData;
        await using var database = options.Postgres ? await ChaosPostgres.StartAsync(root) : null;
        if (database is not null) log.WriteLine($"  chaos: {database.Describe}");
        await using var cluster = new ChaosCluster(root, options.Lighthouses, log, database);
        var soak = new Soak(cluster, checker, options, log, database);
        try
        {
            await cluster.StartAsync(Config);
            for (var i = 1; i <= options.ViosNodes; i++) await cluster.StartViosAsync($"vios{i}");
            await soak.AwaitRegisteredAsync();
            await soak.CreatePartitionsAsync();
            log.WriteLine($"  chaos: {options.ViosNodes} vios nodes, {options.Lighthouses} lighthouses, {options.ColdPartitions} cold and {options.HotPartitions} hot partitions, seed {options.Seed}, data {root}");

            using var stop = new CancellationTokenSource();
            var sampling = soak.SampleAsync(stop.Token);
            var faultsUntil = clock.Elapsed + options.Duration;
            while (clock.Elapsed < faultsUntil)
            {
                await soak.AwaitSteadyAsync();
                await soak.RearmAsync();
                await Task.Delay(schedule.NextGap());
                var fault = schedule.Next();
                faults.Add(fault);
                log.WriteLine($"  {clock.Elapsed.TotalSeconds,7:0.0} s  {fault}");
                await soak.InjectAsync(fault);
                await soak.CheckRestoresAsync();
            }
            await soak.AwaitSteadyAsync();
            await stop.CancelAsync();
            await sampling;
            await soak.CheckRestoresAsync();
            checker.JournalRows(DateTimeOffset.UtcNow, await cluster.ReadJournalAsync());
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or JsonException)
        {
            keep = true;
            log.WriteLine($"  chaos: stopped by {e.GetType().Name}: {e.Message}");
            // What the checkers had found until then: the report the stop leaves out.
            log.WriteLine($"  chaos: {faults.Count} faults injected, {checker.Violations.Count} violations until the stop");
            foreach (var violation in checker.Violations) log.WriteLine($"    {violation}");
            throw;
        }
        finally
        {
            if (checker.Violations.Count > 0) keep = true;
            if (keep) log.WriteLine($"  chaos: data and logs kept in {root}");
        }
        if (!keep) TryDelete(root);
        return new ChaosReport(options, faults, checker.Recoveries, checker.Violations, clock.Elapsed) { UnplannedRestarts = soak.UnplannedRestarts, LighthouseSplits = soak.LighthouseSplits };
    }

    /// <summary>The report as bench/README.md shows it.</summary>
    public static void Print(ChaosReport report, TextWriter output)
    {
        output.WriteLine($"Chaos soak, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}, seed {report.Options.Seed}, {report.Ran.TotalMinutes:0.0} min, "
            + $"{report.Options.ViosNodes} vios nodes, {report.Options.Lighthouses} lighthouses, {report.Options.ColdPartitions} cold + {report.Options.HotPartitions} hot partitions, "
            + (report.Options.Postgres ? "PostgreSQL 15 (restarted as a fault)" : "SQLite"));
        output.WriteLine();
        output.WriteLine("| fault | injected |");
        output.WriteLine("|---|---|");
        foreach (var group in report.Faults.GroupBy(f => f.Kind).OrderBy(g => g.Key)) output.WriteLine($"| {group.Key} | {group.Count()} |");
        output.WriteLine($"| total | {report.Faults.Count} |");
        output.WriteLine();
        output.WriteLine($"unplanned restarts (a process that exited on its own, downed by the cluster): {report.UnplannedRestarts.Count}{(report.UnplannedRestarts.Count == 0 ? "" : $" ({string.Join(", ", report.UnplannedRestarts)})")}");
        output.WriteLine($"lighthouses started again after seeding a cluster of their own: {report.LighthouseSplits.Count}{(report.LighthouseSplits.Count == 0 ? "" : $" ({string.Join(", ", report.LighthouseSplits)})")}");
        output.WriteLine();
        output.WriteLine("| partitions hit by | standby | recoveries | p50 s | p90 s | max s | over target | not back |");
        output.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var group in report.Recoveries.GroupBy(r => (r.Fault.Kind, r.Mode, r.MajorityLived))
                     .OrderBy(g => g.Key.Kind).ThenBy(g => g.Key.Mode, StringComparer.Ordinal).ThenByDescending(g => g.Key.MajorityLived))
        {
            var times = group.Where(r => r.Took is not null).Select(r => r.Took!.Value.TotalSeconds).Order().ToList();
            var mode = group.Key.MajorityLived ? group.Key.Mode : $"{group.Key.Mode}, no live majority (no target)";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.Kind} | {mode} | {group.Count()} | {Percentile(times, 0.5):0.00} | {Percentile(times, 0.9):0.00} | {(times.Count == 0 ? double.NaN : times[^1]):0.00} | {group.Count(r => r.Took > r.Target)} | {group.Count(r => r.Took is null)} |"));
        }
        output.WriteLine();
        output.WriteLine($"violations: {report.Violations.Count} ({string.Join(", ", report.Violations.GroupBy(v => v.Kind).Select(g => $"{g.Key} {g.Count()}"))})");
        foreach (var violation in report.Violations) output.WriteLine($"  {violation}");
    }

    private static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static void TryDelete(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex(@"from epoch (\d+)")]
    private static partial Regex FromEpoch();

    /// <summary>One soak's state: the partitions, where each was armed, the failures already checked.</summary>
    private sealed class Soak(ChaosCluster cluster, ChaosChecker checker, ChaosOptions options, TextWriter log, ChaosPostgres? database)
    {
        private readonly Dictionary<string, string> _modes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _armedOn = new(StringComparer.Ordinal);
        private readonly HashSet<string> _stoppedOnPurpose = new(StringComparer.Ordinal);
        private readonly HashSet<string> _checkedFailures = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<DateTimeOffset>> _faultsAt = new(StringComparer.Ordinal);
        // When each vios node was last killed, paused, resumed, left or started, and last seen registered
        // (in the partition list, sampled every second): it counts toward a live majority once registered since.
        private readonly Dictionary<string, DateTimeOffset> _disturbedAt = new(StringComparer.Ordinal);
        private readonly Dictionary<string, DateTimeOffset> _registeredAt = new(StringComparer.Ordinal);
        private DateTimeOffset _lastRound;

        public List<string> UnplannedRestarts { get; } = [];

        private string AnyOps => cluster.Live.Count > 0 ? cluster.Live[0].Ops : throw new InvalidOperationException("no vios node is running");

        public async Task AwaitRegisteredAsync()
        {
            await CtlClient.AwaitAsync(AnyOps, "lpar", "list", null, list =>
            {
                var registered = list.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node").GetString()).ToHashSet();
                return cluster.Names.All(registered.Contains);
            }, ChaosCluster.StartTimeout, "every vios node registered with the partition manager");
        }

        /// <summary>Which vios nodes the partition list has registered now: a node counts toward a live majority once registered after its last disturbance.</summary>
        private async Task SampleRegisteredAsync(DateTimeOffset at)
        {
            if (cluster.Live.Count == 0) return;
            var reply = await CtlClient.RunAsync(AnyOps, "lpar", "list", null, PollTimeout);
            if (reply is not { Ok: true, Json: { } json }) return;
            foreach (var node in json.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node").GetString()).OfType<string>())
                _registeredAt[node] = at;
        }

        public async Task CreatePartitionsAsync()
        {
            var names = Enumerable.Range(1, options.ColdPartitions).Select(i => ($"cold{i}", "cold"))
                .Concat(Enumerable.Range(1, options.HotPartitions).Select(i => ($"hot{i}", "hot"))).ToList();
            var placement = 0;
            foreach (var (name, mode) in names)
            {
                // Round robin over the nodes, the singletons' host (the first) included: users do not choose which node dies.
                var node = cluster.Names[placement++ % cluster.Names.Count];
                _modes[name] = mode;
                await CtlClient.RequireAsync(AnyOps, "lpar", "create", CtlClient.Args(("name", name), ("vcpus", "1"), ("memory-mb", "16"), ("node", node)));
                await CtlClient.RequireAsync(AnyOps, "lpar", "start", CtlClient.Args(("name", name)));
                await CtlClient.AwaitAsync(AnyOps, "ha", "failures", CtlClient.Args(("name", name)), _ => true, SteadyTimeout, $"{name}'s availability record");
                if (mode == "hot")
                    await CtlClient.AwaitAsync(AnyOps, "ha", "policy", CtlClient.Args(("name", name), ("max-recovery", "3"), ("full-performance", "true")),
                        _ => true, SteadyTimeout, $"{name}'s requirement");
            }
        }

        /// <summary>The checkers' polling: every node's own view a few times a second, the journal's epochs and writers less often.</summary>
        public async Task SampleAsync(CancellationToken stop)
        {
            var nextEpochs = DateTimeOffset.MinValue;
            var nextJournal = DateTimeOffset.MinValue;
            while (!stop.IsCancellationRequested)
            {
                var at = DateTimeOffset.UtcNow;
                var names = cluster.Names.ToList();
                var live = cluster.Live.ToDictionary(l => l.Name, l => l.Ops);
                var views = await Task.WhenAll(names.Select(async name =>
                    new NodeView(name, live.TryGetValue(name, out var ops) ? await LocalViewAsync(ops) : null)));
                checker.ObserveRound(at, views);
                _lastRound = at;
                if (at >= nextEpochs)
                {
                    nextEpochs = at + EpochInterval;
                    await SampleEpochsAsync();
                    await SampleRegisteredAsync(at);
                }
                if (at >= nextJournal)
                {
                    nextJournal = at + JournalInterval;
                    // The database may be the fault being injected: this sample is skipped, the next one reads it all.
                    try
                    {
                        checker.JournalRows(at, await cluster.ReadJournalAsync());
                    }
                    catch (Exception e) when (e is System.Data.Common.DbException or IOException or TimeoutException or InvalidOperationException)
                    {
                        log.WriteLine($"  chaos: the journal could not be read this round ({e.Message})");
                    }
                }
                try
                {
                    await Task.Delay(RoundInterval, stop);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private static async Task<IReadOnlyDictionary<string, string>?> LocalViewAsync(string ops)
        {
            var reply = await CtlClient.RunAsync(ops, "lpar", "local", null, PollTimeout);
            if (reply is not { Ok: true, Json: { } json }) return null;
            return json.GetProperty("lpars").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!, l => l.GetProperty("state").GetString()!, StringComparer.Ordinal);
        }

        /// <summary>The last epoch in each persisted partition's journal, as committed when read.</summary>
        private async Task SampleEpochsAsync()
        {
            foreach (var (name, _) in _modes.Where(m => m.Value == "cold"))
            {
                var at = DateTimeOffset.UtcNow;
                var reply = await CtlClient.RunAsync(AnyOps, "checkpoint", "list", CtlClient.Args(("name", name)), PollTimeout);
                if (reply is not { Ok: true, Json: { } json }) continue;
                var epochs = json.GetProperty("epochs");
                if (epochs.GetArrayLength() > 0) checker.Committed(name, epochs[epochs.GetArrayLength() - 1].GetProperty("epoch").GetInt64(), at);
            }
        }

        /// <summary>
        /// Every node runs, every partition not stopped on purpose is running somewhere, and the checkers
        /// have a round since. A node that exited on its own (downed by the cluster: `vios node` exits 1) is
        /// started again, as a service manager with restart-on-failure would.
        /// </summary>
        public async Task AwaitSteadyAsync()
        {
            var deadline = DateTimeOffset.UtcNow + SteadyTimeout;
            while (DateTimeOffset.UtcNow < deadline)
            {
                await RestartExitedAsync();
                var since = DateTimeOffset.UtcNow;
                var whole = cluster.Names.All(cluster.IsRunning) && checker.Recovering.Count == 0
                    && _modes.Keys.Where(n => !_stoppedOnPurpose.Contains(n)).All(checker.LastRunningOn.ContainsKey);
                if (whole && _lastRound > since - RoundInterval * 4) return;
                await Task.Delay(RoundInterval);
            }
            log.WriteLine($"  chaos: the cluster was not whole again within {SteadyTimeout.TotalSeconds:0} s; going on");
        }

        /// <summary>
        /// The operator's start after a leave. Done when the start is accepted, or refused because the
        /// partition runs already: the HA manager may have restarted it meanwhile (a leave right after a
        /// kill, its takeover copy stopped with the leaving node), which the checkers then watch as usual.
        /// </summary>
        private async Task StartAgainAsync(string name)
        {
            var deadline = DateTime.UtcNow + SteadyTimeout;
            CtlReply? last = null;
            while (DateTime.UtcNow < deadline)
            {
                last = await CtlClient.RunAsync(AnyOps, "lpar", "start", CtlClient.Args(("name", name)), TimeSpan.FromSeconds(10));
                if (last.Ok || last.Error?.Contains("it is already running", StringComparison.Ordinal) == true) return;
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }
            throw new TimeoutException($"{name} started again: not within {SteadyTimeout.TotalSeconds:0} s; last `lpar start` answer: {last?.Error ?? "none"}");
        }

        private async Task RestartExitedAsync()
        {
            foreach (var index in cluster.ExitedLighthouses)
            {
                log.WriteLine($"  chaos: lighthouse {index + 1} exited on its own; starting it again");
                UnplannedRestarts.Add($"lighthouse{index + 1}");
                await StartLighthouseAsync(index);
            }
            foreach (var name in cluster.Exited)
            {
                log.WriteLine($"  chaos: {name} exited on its own (downed?); starting it again");
                UnplannedRestarts.Add(name);
                await cluster.StartViosAsync(name);
                Disturbed(name);
            }
        }

        /// <summary>
        /// Starts a lighthouse again and waits until the vios nodes' cluster has it Up. A seed that
        /// hears no other seed in time (the other lighthouse killed meanwhile, a loaded machine) joins
        /// itself and seeds a cluster of its own, which every node started after that would join: a
        /// split of the deployment, not a fault of the nodes under test. As an operator would, the
        /// soak stops such a lighthouse and starts it again, and says so.
        /// </summary>
        private async Task StartLighthouseAsync(int index)
        {
            var address = cluster.LighthouseAddress(index);
            for (var attempt = 1; ; attempt++)
            {
                await cluster.StartLighthouseAsync(index);
                try
                {
                    await CtlClient.AwaitAsync(AnyOps, "cluster", "show", null, members => members.GetProperty("members").EnumerateArray()
                        .Any(m => m.GetProperty("address").GetString() == address && m.GetProperty("status").GetString() == "up"),
                        LighthouseJoinTimeout, $"lighthouse {index + 1} Up in the vios nodes' cluster");
                    return;
                }
                catch (TimeoutException) when (attempt < 3)
                {
                    log.WriteLine($"  chaos: lighthouse {index + 1} did not join the vios nodes' cluster within {LighthouseJoinTimeout.TotalSeconds:0} s (it seeded one of its own?); starting it again");
                    LighthouseSplits.Add($"lighthouse{index + 1}");
                    cluster.KillLighthouse(index);
                }
            }
        }

        /// <summary>Lighthouses started again that had seeded a cluster of their own (see <see cref="StartLighthouseAsync"/>).</summary>
        public List<string> LighthouseSplits { get; } = [];

        /// <summary>Partitions that moved (or came back) get their workload and, when cold, their periodic checkpoints on their new node.</summary>
        public async Task RearmAsync()
        {
            foreach (var (name, mode) in _modes)
            {
                if (!checker.LastRunningOn.TryGetValue(name, out var node) || _armedOn.GetValueOrDefault(name) == node) continue;
                var workload = await CtlClient.RunAsync(AnyOps, "lpar", "workload", CtlClient.Args(("name", name), ("rate", WorkloadRate.ToString(CultureInfo.InvariantCulture))));
                var checkpoints = mode == "cold"
                    ? await CtlClient.RunAsync(AnyOps, "checkpoint", "take", CtlClient.Args(("name", name), ("interval", CheckpointIntervalMs.ToString(CultureInfo.InvariantCulture)), ("verify", "true")))
                    : new CtlReply(null, null);
                if (workload.Ok && checkpoints.Ok) _armedOn[name] = node;
                else log.WriteLine($"  chaos: re-arming {name} on {node}: {workload.Error ?? checkpoints.Error}");
            }
        }

        public async Task InjectAsync(Fault fault)
        {
            var at = DateTimeOffset.UtcNow;
            switch (fault.Kind)
            {
                case FaultKind.Kill:
                {
                    var node = cluster.Names[fault.Target];
                    Hit(fault, node, at);
                    cluster.Kill(node);
                    Disturbed(node);
                    await AwaitRecoveredAsync();
                    await cluster.StartViosAsync(node);
                    Disturbed(node);
                    break;
                }
                case FaultKind.ShortPause or FaultKind.LongPause:
                {
                    var node = cluster.Names[fault.Target];
                    Hit(fault, node, at);
                    cluster.Pause(node);
                    Disturbed(node);
                    await Task.Delay(fault.Duration);
                    cluster.Resume(node);
                    Disturbed(node);
                    if (fault.Kind == FaultKind.LongPause)
                    {
                        // Fenced while frozen: it stops its old copies, or is downed and exits.
                        await AwaitRecoveredAsync();
                        if (await cluster.AwaitExitAsync(node, TimeSpan.FromSeconds(15)))
                        {
                            await cluster.StartViosAsync(node);
                            Disturbed(node);
                        }
                    }
                    break;
                }
                case FaultKind.Leave:
                {
                    var node = cluster.Names[fault.Target];
                    var hosted = checker.LastRunningOn.Where(r => r.Value == node).Select(r => r.Key).ToList();
                    _stoppedOnPurpose.UnionWith(hosted);
                    cluster.Terminate(node);
                    Disturbed(node);
                    if (!await cluster.AwaitExitAsync(node, LeaveTimeout)) log.WriteLine($"  chaos: {node} did not leave within {LeaveTimeout.TotalSeconds:0} s");
                    await cluster.StartViosAsync(node);
                    Disturbed(node);
                    await RestartExitedAsync();
                    await AwaitRegisteredAsync();
                    // The operator starts what the leave stopped; from then on it must run like the rest.
                    foreach (var name in hosted)
                    {
                        await StartAgainAsync(name);
                        _armedOn.Remove(name);
                        _stoppedOnPurpose.Remove(name);
                    }
                    break;
                }
                case FaultKind.LighthouseKill:
                    cluster.KillLighthouse(fault.Target);
                    await Task.Delay(fault.Duration);
                    await StartLighthouseAsync(fault.Target);
                    break;
                case FaultKind.DatabaseRestart:
                    // Partitions keep running through it; checkpoints and the singletons' writes fail until it is back.
                    await (database ?? throw new InvalidOperationException("a database restart needs the soak's own PostgreSQL server")).RestartAsync(fault.Duration);
                    break;
            }
        }

        /// <summary>Every partition that was running on <paramref name="node"/> must run again within its target.</summary>
        private void Hit(Fault fault, string node, DateTimeOffset at)
        {
            var hit = checker.LastRunningOn.Where(r => r.Value == node && _modes.ContainsKey(r.Key)).Select(r => r.Key).ToList();
            foreach (var name in hit)
            {
                if (!_faultsAt.TryGetValue(name, out var times)) _faultsAt[name] = times = [];
                times.Add(at);
            }
            checker.FaultInjected(fault, at, hit.Select(name =>
            {
                var mode = _modes[name];
                return (name, mode, mode == "hot" ? ChaosOptions.HotTarget : ChaosOptions.ColdTarget);
            }), MajorityLives(node, at));
        }

        /// <summary>
        /// Whether a majority of the vios nodes lives besides <paramref name="target"/>: running, not
        /// paused, and seen registered in the partition list since it was last killed, paused, left or
        /// started (a node started again is still joining and registering until then).
        /// </summary>
        private bool MajorityLives(string target, DateTimeOffset at)
        {
            var live = cluster.Names.Count(n => n != target && cluster.IsRunning(n) && !cluster.IsPaused(n)
                && _registeredAt.TryGetValue(n, out var registered) && registered > _disturbedAt.GetValueOrDefault(n, DateTimeOffset.MinValue));
            return live >= cluster.Names.Count / 2 + 1;
        }

        private void Disturbed(string node) => _disturbedAt[node] = DateTimeOffset.UtcNow;

        private async Task AwaitRecoveredAsync()
        {
            var deadline = DateTimeOffset.UtcNow + options.LivenessLimit + TimeSpan.FromSeconds(5);
            while (checker.Recovering.Count > 0 && DateTimeOffset.UtcNow < deadline) await Task.Delay(RoundInterval);
        }

        /// <summary>Every completed failover of a persisted partition came back from an epoch at least as new as any seen committed before its fault.</summary>
        public async Task CheckRestoresAsync()
        {
            foreach (var (name, _) in _modes.Where(m => m.Value == "cold"))
            {
                var reply = await CtlClient.RunAsync(AnyOps, "ha", "failures", CtlClient.Args(("name", name)));
                if (reply is not { Ok: true, Json: { } json }) continue;
                foreach (var failure in json.GetProperty("failures").EnumerateArray())
                {
                    var detail = failure.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
                    var id = $"{name}@{failure.GetProperty("at").GetString()}";
                    if (!failure.GetProperty("completed").GetBoolean() || !_checkedFailures.Add(id)) continue;
                    if (FromEpoch().Match(detail) is not { Success: true } match) continue;
                    // The failure is recorded after the fault; the epochs committed before the fault are what must survive.
                    var failedAt = failure.GetProperty("at").GetDateTimeOffset();
                    var faultAt = _faultsAt.GetValueOrDefault(name, []).Where(t => t <= failedAt).DefaultIfEmpty(failedAt).Max();
                    checker.Restored(name, long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), faultAt, detail);
                }
            }
        }
    }
}
