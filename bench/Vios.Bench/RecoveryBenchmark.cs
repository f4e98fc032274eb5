using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vios.Testing;

namespace Vios.Bench;

/// <summary>
/// Issue 6: how long a partition is down when its vios node is SIGKILLed, and how many committed
/// epochs it loses, for cold standby (persisted checkpoints every 200 ms, restart from the
/// consistency image) and hot standby (a replica fed every 100 ms by the HA manager, promoted).
/// A lighthouse and three vios nodes run as real `vios node` processes on SQLite, driven through
/// their ops endpoints as `vios ctl` drives them (in this process: a poll costs a loopback round
/// trip, not a process start). Each round kills the partition's node, polls `lpar show` every
/// 25 ms until the partition runs on another node, reads the HA manager's account of the failure,
/// restarts the killed node on its data and re-arms the partition for the next round.
/// </summary>
public static partial class RecoveryBenchmark
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ArmTimeout = TimeSpan.FromSeconds(90);

    /// <summary>A round that is not back within this is a failure (the brief's limit).</summary>
    public static readonly TimeSpan RecoveryLimit = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    // A poll forwarded to the dead node's firmware hangs until it is given up. An ops endpoint serves
    // 16 connections at once (OpsServer.MaxConnections) and refuses the rest: hung polls must leave
    // most of them free, or a fresh poll only gets in when a hung one is given up, in bursts.
    // Issue 12: every `vios ctl` command answers within 1 s, always; a poll not answered by then counts against it.
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(1);
    private const int MaxPollsInFlight = 10;

    /// <summary>Every kill is a first failure: a repeat within the window would take S5's boot-image path.</summary>
    private const string Config = """
        # Recovery benchmark: rounds are seconds apart, so with a 1 s failure window every kill is a
        # first failure (consistency image or hot replica), never S5's boot-image path for a repeat.
        vios.availability.failure-window = 1s
        """;

    public enum Standby
    {
        Cold,
        Hot,
    }

    /// <param name="SingletonHost">The killed node was the oldest vios node, host of the partition manager and HA manager singletons.</param>
    /// <param name="RecoverySeconds">Kill to `lpar show` running on another node; null when not back within <see cref="RecoveryLimit"/>.</param>
    /// <param name="DetectedSeconds">Kill to the HA manager recording the failure.</param>
    /// <param name="RestartSeconds">The HA manager's failure record to its restart completed.</param>
    /// <param name="Committed">Cold: the last epoch in the journal after the restart; hot: the last epoch the primary was seen to commit before the kill.</param>
    /// <param name="Restored">The epoch the partition came back from (cold), or the replica's epoch at promotion (hot).</param>
    public sealed record Kill(
        Standby Mode,
        int Number,
        bool SingletonHost,
        string Node,
        string? TargetNode,
        double? RecoverySeconds,
        double? DetectedSeconds,
        double? RestartSeconds,
        string? Image,
        long? Committed,
        long? Restored,
        string Detail)
    {
        /// <summary>The `lpar show` and `ha status` polls sent from the kill until the partition ran again: how many, the slowest answer, and those not answered within 1 s.</summary>
        public PollStats Polls { get; init; } = new();

        /// <summary>Committed epochs the partition came back without.</summary>
        public long? LostEpochs => Committed is { } c && Restored is { } r ? Math.Max(0, c - r) : null;
    }

    /// <param name="Kills">Kills per mode of a node other than the singletons' host.</param>
    /// <param name="SingletonKills">Kills per mode of the singletons' host, each with a partition placed there.</param>
    /// <param name="KeepData">Keep the nodes' data and logs (they are always kept when a round fails).</param>
    /// <param name="ExtraHocon">Lines added to the nodes' --config file, to try other settings.</param>
    public sealed record Options(int Kills, int SingletonKills, bool KeepData, IReadOnlyList<string> ExtraHocon);

    public static async Task<IReadOnlyList<Kill>> RunAsync(Standby mode, Options options, TextWriter log)
    {
        var (kills, singletonKills) = (options.Kills, options.SingletonKills);
        var root = Path.Combine(Path.GetTempPath(), $"vios-recovery-{Guid.NewGuid():N}"[..28]);
        var results = new List<Kill>();
        var cluster = new ProcessNodes(root, string.Join('\n', [Config, .. options.ExtraHocon]), log);
        var keep = options.KeepData;
        try
        {
            await cluster.StartAsync();
            await cluster.AddNodeAsync("vios1");
            var ops = cluster.OpsOf(cluster.Oldest);
            await cluster.AwaitRegisteredAsync();

            // The oldest vios node hosts the singletons; a defined, never started partition takes all
            // of its CPUs, so neither the failover policy (fewest partitions first) nor the standby
            // planner (room for a replica) sends the measured partition there. It is created before
            // the other nodes join: the standby planner counts free resources when the set of nodes
            // changes, not when a partition is created.
            await CtlClient.RequireAsync(ops, "lpar", "create", CtlClient.Args(("name", "ballast"), ("vcpus", "16"), ("memory-mb", "16"),
                ("policy", "spread"), ("node", cluster.Oldest)));
            await cluster.AddNodeAsync("vios2");
            await cluster.AddNodeAsync("vios3");
            await cluster.AwaitRegisteredAsync();

            var name = mode == Standby.Cold ? "payload" : "critical";
            var placed = cluster.Names.First(n => n != cluster.Oldest);
            await CreateArmedAsync(cluster, mode, name, placed, log);

            var number = 0;
            while (results.Count(r => !r.SingletonHost) < kills && number < kills * 2)
            {
                var round = await RoundAsync(cluster, mode, name, ++number, log);
                results.Add(round);
                if (round.RecoverySeconds is null)
                {
                    keep = true;
                    if (!await RecoverAfterFailureAsync(cluster, mode, name, log)) return results;
                }
                else
                {
                    await RearmAsync(cluster, mode, name);
                }
            }

            if (singletonKills > 0)
            {
                // Kills of the singletons' host, each with a fresh partition placed there; the
                // measured partition and the ballast step aside.
                var oldest = cluster.OpsOf(cluster.Oldest);
                if (mode == Standby.Cold) await CtlClient.RunAsync(oldest, "checkpoint", "stop", CtlClient.Args(("name", name)));
                await CtlClient.RequireAsync(oldest, "lpar", "stop", CtlClient.Args(("name", name)));
                await CtlClient.RequireAsync(oldest, "lpar", "delete", CtlClient.Args(("name", "ballast")));
                for (var i = 1; i <= singletonKills; i++)
                {
                    var hosted = $"{name}-s{i}";
                    await CreateArmedAsync(cluster, mode, hosted, cluster.Oldest, log);
                    var round = await RoundAsync(cluster, mode, hosted, ++number, log);
                    results.Add(round);
                    if (round.RecoverySeconds is null)
                    {
                        keep = true;
                        if (!await RecoverAfterFailureAsync(cluster, mode, hosted, log)) return results;
                    }
                    else
                    {
                        await cluster.AwaitRegisteredAsync();
                    }
                    // Out of the way of the next round (one measured partition at a time on 2 cores).
                    var survivor = cluster.OpsOf(cluster.Oldest);
                    if (mode == Standby.Cold) await CtlClient.RunAsync(survivor, "checkpoint", "stop", CtlClient.Args(("name", hosted)));
                    await CtlClient.RunAsync(survivor, "lpar", "stop", CtlClient.Args(("name", hosted)));
                }
            }
            return results;
        }
        catch (Exception e)
        {
            keep = true;
            log.WriteLine($"  {mode}: stopped by {e.GetType().Name}: {e.Message}");
            return results;
        }
        finally
        {
            await cluster.DisposeAsync();
            if (keep) log.WriteLine($"  {mode}: data and logs kept in {root}");
            else
            {
                try
                {
                    Directory.Delete(root, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>Creates, starts and loads a partition on <paramref name="node"/> and arms its standby.</summary>
    private static async Task CreateArmedAsync(ProcessNodes cluster, Standby mode, string name, string node, TextWriter log)
    {
        var ops = cluster.OpsOf(cluster.Oldest);
        await CtlClient.RequireAsync(ops, "lpar", "create", CtlClient.Args(("name", name), ("vcpus", "1"), ("memory-mb", "16"), ("node", node)));
        await CtlClient.RequireAsync(ops, "lpar", "start", CtlClient.Args(("name", name)));
        // The HA manager gives every partition its availability record at its next survey (every 2 s).
        await CtlClient.AwaitAsync(ops, "ha", "failures", CtlClient.Args(("name", name)), _ => true, ArmTimeout, $"{name}'s availability record");
        if (mode == Standby.Hot)
        {
            var chosen = await CtlClient.AwaitAsync(ops, "ha", "policy",
                CtlClient.Args(("name", name), ("max-recovery", "3"), ("full-performance", "true")), _ => true, ArmTimeout, $"{name}'s requirement");
            log.WriteLine($"  {name} on {node}: {chosen.GetProperty("mode").GetString()} standby, replica on {chosen.GetProperty("replicaNode").GetString()}");
        }
        await RearmAsync(cluster, mode, name);
    }

    /// <summary>
    /// After a restart: the workload again, and for cold standby periodic verified checkpoints on the
    /// partition's new node; hot standby is re-paired by the HA manager once a node has room for the
    /// replica. Returns when the standby has committed a few epochs.
    /// </summary>
    private static async Task RearmAsync(ProcessNodes cluster, Standby mode, string name)
    {
        var ops = cluster.OpsOf(cluster.Oldest);
        await cluster.AwaitRegisteredAsync();
        await CtlClient.AwaitAsync(ops, "lpar", "workload", CtlClient.Args(("name", name), ("rate", "20000")), _ => true, ArmTimeout, $"{name}'s workload");
        if (mode == Standby.Cold)
        {
            await CtlClient.AwaitAsync(ops, "checkpoint", "take", CtlClient.Args(("name", name), ("interval", "200"), ("verify", "true")), _ => true,
                ArmTimeout, $"{name}'s periodic checkpoints");
            var first = await CtlClient.RequireAsync(ops, "checkpoint", "stats", CtlClient.Args(("name", name)));
            var start = first.GetProperty("epochs").GetInt64();
            await CtlClient.AwaitAsync(ops, "checkpoint", "stats", CtlClient.Args(("name", name)),
                s => s.GetProperty("epochs").GetInt64() >= start + 3, ArmTimeout, $"{name}: 3 persisted epochs");
            return;
        }
        var paired = await CtlClient.AwaitAsync(ops, "checkpoint", "stats", CtlClient.Args(("name", name)),
            s => s.GetProperty("mode").GetString()!.StartsWith("replicating to", StringComparison.Ordinal), ArmTimeout, $"{name} replicating");
        var from = paired.GetProperty("epochs").GetInt64();
        await CtlClient.AwaitAsync(ops, "checkpoint", "stats", CtlClient.Args(("name", name)),
            s => s.GetProperty("mode").GetString()!.StartsWith("replicating to", StringComparison.Ordinal) && s.GetProperty("epochs").GetInt64() >= from + 5,
            ArmTimeout, $"{name}: 5 replicated epochs");
    }

    private static async Task<Kill> RoundAsync(ProcessNodes cluster, Standby mode, string name, int number, TextWriter log)
    {
        var shown = await CtlClient.RequireAsync(cluster.OpsOf(cluster.Oldest), "lpar", "show", CtlClient.Args(("name", name)));
        var victim = shown.GetProperty("node").GetString()!;
        var singletonHost = victim == cluster.Oldest;
        // Poll a survivor: the singletons' host unless that is the victim.
        var ops = cluster.OpsOf(cluster.Names.First(n => n != victim && (singletonHost || n == cluster.Oldest)));
        var failuresBefore = (await CtlClient.RequireAsync(ops, "ha", "failures", CtlClient.Args(("name", name)))).GetProperty("failures").GetArrayLength();

        // Hot: the last epoch the primary commits before the kill, as a client sees it: a manual
        // checkpoint is answered only once the replica has acknowledged it (S23), and the kill follows
        // the answer at once. Cold: the kill falls at a random point of the 200 ms epoch schedule.
        var logMarks = cluster.LogMarks();
        long? committedBefore = null;
        if (mode == Standby.Hot)
        {
            var taken = await CtlClient.AwaitAsync(ops, "checkpoint", "take", CtlClient.Args(("name", name)), _ => true, TimeSpan.FromSeconds(10),
                $"{name}: a committed epoch before the kill", poll: TimeSpan.FromMilliseconds(5));
            committedBefore = taken.GetProperty("epoch").GetInt64();
        }
        else
        {
            await Task.Delay(Random.Shared.Next(0, 200));
        }

        var killedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        cluster.Kill(victim);
        var polls = new PollStats();
        var back = await AwaitRunningElsewhereAsync(ops, name, victim, clock, polls);
        var recovery = back?.TotalSeconds;

        string? image = null, target = null, detail = "";
        double? detected = null, restart = null;
        long? committed = committedBefore, restored = null;
        if (back is not null)
        {
            var record = await CtlClient.AwaitAsync(ops, "ha", "failures", CtlClient.Args(("name", name)),
                r => r.GetProperty("failures").GetArrayLength() > failuresBefore && r.GetProperty("failures")[r.GetProperty("failures").GetArrayLength() - 1].GetProperty("completed").GetBoolean(),
                TimeSpan.FromSeconds(20), $"{name}: the failure's record");
            var failures = record.GetProperty("failures");
            var failure = failures[failures.GetArrayLength() - 1];
            target = failure.GetProperty("targetNode").GetString();
            detail = failure.GetProperty("detail").GetString() ?? "";
            // What it came back from, as the restart's detail says (a replica that cannot be promoted
            // falls back to the persisted images); the planned image when it differs.
            var planned = failure.GetProperty("image").GetString();
            var actual = detail.Contains("promoted its replica", StringComparison.Ordinal) ? "replica"
                : detail.Contains("from the boot image", StringComparison.Ordinal) ? "boot"
                : FromEpoch().IsMatch(detail) ? "consistency" : planned;
            image = actual == planned ? actual : $"{actual} (planned: {planned})";
            var recordedAt = failure.GetProperty("at").GetDateTimeOffset();
            detected = (recordedAt - killedAt).TotalSeconds;
            restart = (failure.GetProperty("completedAt").GetDateTimeOffset() - recordedAt).TotalSeconds;
            if (mode == Standby.Cold)
            {
                // The dead node wrote nothing after the kill and the new node has not checkpointed yet:
                // the journal's last epoch is the last one committed before the kill.
                // Live, from the journal: while a singletons' host's successor starts, the view answers without it.
                var epochs = (await CtlClient.AwaitAsync(ops, "checkpoint", "list", CtlClient.Args(("name", name)), _ => true,
                    TimeSpan.FromSeconds(20), $"{name}: its checkpoints")).GetProperty("epochs");
                committed = epochs.GetArrayLength() == 0 ? 0 : epochs[epochs.GetArrayLength() - 1].GetProperty("epoch").GetInt64();
                restored = FromEpoch().Match(detail) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
                    : detail.Contains("from the boot image", StringComparison.Ordinal) ? 0 : null;
            }
            else
            {
                // A replica that could not be promoted falls back to the persisted images, numbered by
                // the same coordinator.
                restored = PromotedAt().Match(detail) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
                    : FromEpoch().Match(detail) is { Success: true } e ? long.Parse(e.Groups[1].Value, CultureInfo.InvariantCulture)
                    : detail.Contains("from the boot image", StringComparison.Ordinal) ? 0 : null;
            }
        }

        var kill = new Kill(mode, number, singletonHost, victim, target, recovery, detected, restart, image, committed, restored, detail) { Polls = polls };
        var outcome = recovery is { } s
            ? string.Create(CultureInfo.InvariantCulture,
                $"back in {s:0.00} s (failure recorded at {detected:0.00} s, restart took {restart:0.00} s), {image}, committed {committed}, restored {restored}, lost {kill.LostEpochs}; {polls}; {detail}")
            : $"NOT BACK within {RecoveryLimit.TotalSeconds:0} s";
        log.WriteLine($"  {mode} kill {number}{(singletonHost ? " (singleton host)" : "")}: {name} on {victim} -> {target ?? "?"}: {outcome}");
        if (recovery is null) cluster.PrintLogsSince(logMarks, log);

        await cluster.RestartAsync(victim);
        return kill;
    }

    /// <summary>
    /// Polls `lpar show` every <see cref="PollInterval"/> (up to <see cref="MaxPollsInFlight"/> at
    /// once, each given <see cref="PollTimeout"/>), and `ha status` with every fourth, until `lpar show`
    /// reports the partition running on another node; returns when that answer arrived, on
    /// <paramref name="clock"/>. Each poll's answer time goes into <paramref name="stats"/>.
    /// </summary>
    private static async Task<TimeSpan?> AwaitRunningElsewhereAsync(string ops, string name, string victim, Stopwatch clock, PollStats stats)
    {
        var found = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var inFlight = new List<Task>();
        var sent = 0;
        // Output, or an error the node sent (a refusal is an answer); cut off by the timeout is none.
        static bool Answered(CtlReply reply) => reply.Error is not { } error || !error.StartsWith("interrupted", StringComparison.Ordinal);
        async Task PollAsync()
        {
            if (++sent % 4 == 0)
            {
                var asked = Stopwatch.StartNew();
                var ha = await CtlClient.RunAsync(ops, "ha", "status", timeout: PollTimeout, cancellationToken: stop.Token);
                if (!stop.IsCancellationRequested) stats.Record(asked.Elapsed, Answered(ha));
                return;
            }
            var started = Stopwatch.StartNew();
            var reply = await CtlClient.RunAsync(ops, "lpar", "show", CtlClient.Args(("name", name)), PollTimeout, stop.Token);
            // An answer is an answer, a refusal included; no answer within the timeout counts against the 1 s.
            if (!stop.IsCancellationRequested) stats.Record(started.Elapsed, Answered(reply));
            if (reply is { Ok: true, Json: { } status }
                && status.GetProperty("node").GetString() != victim
                && string.Equals(status.GetProperty("state").GetString(), "running", StringComparison.OrdinalIgnoreCase))
                found.TrySetResult(clock.Elapsed);
        }
        while (clock.Elapsed < RecoveryLimit && !found.Task.IsCompleted)
        {
            inFlight.RemoveAll(t => t.IsCompleted);
            if (inFlight.Count < MaxPollsInFlight) inFlight.Add(PollAsync());
            await Task.WhenAny(found.Task, Task.Delay(PollInterval));
        }
        await stop.CancelAsync();
        await Task.WhenAll(inFlight);
        return found.Task.IsCompleted ? found.Task.Result : null;
    }

    /// <summary>A round not back in time: waits (up to 2 minutes more) for the partition to run again, so the next round can go on.</summary>
    private static async Task<bool> RecoverAfterFailureAsync(ProcessNodes cluster, Standby mode, string name, TextWriter log)
    {
        try
        {
            await cluster.AwaitRegisteredAsync();
            await CtlClient.AwaitAsync(cluster.OpsOf(cluster.Oldest), "lpar", "show", CtlClient.Args(("name", name)),
                s => string.Equals(s.GetProperty("state").GetString(), "running", StringComparison.OrdinalIgnoreCase), TimeSpan.FromMinutes(2),
                $"{name} running again after a failed round");
            await RearmAsync(cluster, mode, name);
            return true;
        }
        catch (TimeoutException e)
        {
            log.WriteLine($"  {mode}: {name} did not come back after a failed round; no more rounds of this mode: {e.Message}");
            return false;
        }
    }

    [GeneratedRegex(@"from epoch (\d+)")]
    private static partial Regex FromEpoch();

    [GeneratedRegex(@"promoted its replica at epoch (\d+)")]
    private static partial Regex PromotedAt();

    /// <summary>
    /// The lighthouse and the vios nodes as `vios node` processes; names in the order they joined
    /// (the first is the oldest, where the cluster singletons run). A restarted node joins last.
    /// </summary>
    private sealed class ProcessNodes(string root, string config, TextWriter log) : IAsyncDisposable
    {
        private readonly Dictionary<string, (ViosProcess Process, string Address, string Ops)> _nodes = new(StringComparer.Ordinal);
        private readonly List<string> _age = [];
        private ViosProcess? _lighthouse;
        private string _lighthouseAddress = "";
        private string _lighthouseOps = "";
        private string _config = "";

        public IReadOnlyList<string> Names => _age;

        public string Oldest => _age[0];

        public string OpsOf(string node) => _nodes[node].Ops;

        /// <summary>Starts the lighthouse.</summary>
        public async Task StartAsync()
        {
            Directory.CreateDirectory(root);
            _config = Path.Combine(root, "recovery.hocon");
            await File.WriteAllTextAsync(_config, config);
            _lighthouse = ViosProcess.Start(["node", "--role", "lighthouse", "--port", "0", "--ops-port", "0", "--data", Path.Combine(root, "lighthouse"),
                "--config", _config, "--log-level", "warning"]);
            (_lighthouseAddress, _lighthouseOps) = await _lighthouse.WaitForStartAsync(StartTimeout);
        }

        /// <summary>Starts a vios node (again, on its data directory, for a name seen before) and waits until it is up.</summary>
        public async Task AddNodeAsync(string name)
        {
            var process = ViosProcess.Start(["node", "--seeds", _lighthouseAddress, "--port", "0", "--ops-port", "0",
                "--data", Path.Combine(root, name), "--shared-data", Path.Combine(root, "shared"), "--name", name,
                "--config", _config, "--log-level", "warning"]);
            var (address, ops) = await process.WaitForStartAsync(StartTimeout);
            _nodes[name] = (process, address, ops);
            _age.Remove(name);
            _age.Add(name);
            await AwaitUpAsync();
        }

        /// <summary>Every process the lighthouse should see is up and reachable.</summary>
        private Task AwaitUpAsync() =>
            CtlClient.AwaitAsync(_lighthouseOps, "cluster", "show", null, members =>
            {
                var up = members.GetProperty("members").EnumerateArray()
                    .Where(m => m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean())
                    .Select(m => m.GetProperty("address").GetString()).ToHashSet();
                return up.Count == _nodes.Count + 1 && _nodes.Values.All(n => up.Contains(n.Address));
            }, StartTimeout, "every node up at the lighthouse");

        /// <summary>Every vios node up and its firmware registered with the partition manager.</summary>
        public async Task AwaitRegisteredAsync()
        {
            await AwaitUpAsync();
            await CtlClient.AwaitAsync(OpsOf(Oldest), "lpar", "list", null, list =>
            {
                var registered = list.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node").GetString()).ToHashSet();
                return _nodes.Keys.All(registered.Contains);
            }, StartTimeout, "every vios node registered with the partition manager");
        }

        /// <summary>SIGKILL.</summary>
        public void Kill(string name) => _nodes[name].Process.Kill();

        /// <summary>Starts the node again on its data directory, with its name; it joins as the youngest.</summary>
        public async Task RestartAsync(string name)
        {
            await _nodes[name].Process.DisposeAsync();
            await AddNodeAsync(name);
        }

        /// <summary>Where each node's log file ends now.</summary>
        public Dictionary<string, long> LogMarks() => _nodes.Keys.ToDictionary(n => n, n => File.Exists(LogFile(n)) ? new FileInfo(LogFile(n)).Length : 0);

        /// <summary>The warnings and errors each node logged since <paramref name="marks"/>.</summary>
        public void PrintLogsSince(Dictionary<string, long> marks, TextWriter output)
        {
            foreach (var (name, mark) in marks)
            {
                if (!File.Exists(LogFile(name))) continue;
                using var stream = new FileStream(LogFile(name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                stream.Seek(mark, SeekOrigin.Begin);
                using var reader = new StreamReader(stream);
                var lines = reader.ReadToEnd().Split('\n')
                    .Where(l => l.Contains("WARN", StringComparison.OrdinalIgnoreCase) || l.Contains("ERR", StringComparison.OrdinalIgnoreCase)
                        || l.Contains("ha-manager", StringComparison.Ordinal))
                    .ToList();
                output.WriteLine($"    {name} log since the kill ({lines.Count} warning/error/ha-manager lines, last 25):");
                foreach (var line in lines.TakeLast(25)) output.WriteLine($"      {line.TrimEnd()}");
            }
        }

        private string LogFile(string name) => Path.Combine(root, name, "logs", "vios-node.log");

        public async ValueTask DisposeAsync()
        {
            foreach (var (process, _, _) in _nodes.Values) await process.DisposeAsync();
            if (_lighthouse is not null) await _lighthouse.DisposeAsync();
            log.WriteLine($"  stopped {_nodes.Count} vios node(s) and the lighthouse");
        }
    }
}

/// <summary>Answer times of the control-plane polls during one failover (thread-safe: polls overlap).</summary>
public sealed class PollStats
{
    private readonly object _gate = new();
    private TimeSpan _slowest;

    public int Count { get; private set; }

    /// <summary>Polls with no answer within the poll timeout (1 s).</summary>
    public int Unanswered { get; private set; }

    public TimeSpan Slowest
    {
        get
        {
            lock (_gate) return _slowest;
        }
    }

    public void Record(TimeSpan took, bool answered)
    {
        lock (_gate)
        {
            Count++;
            if (!answered) Unanswered++;
            else if (took > _slowest) _slowest = took;
        }
    }

    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Count} ctl polls, slowest answer {Slowest.TotalMilliseconds:0} ms, {Unanswered} not answered within 1 s");
}
