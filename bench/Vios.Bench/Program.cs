using System.CommandLine;
using System.Globalization;
using Vios.Bench;

var rounds = new Option<int>("--rounds") { Description = "kills per profile", DefaultValueFactory = _ => 5 };
var profiles = new Option<string[]>("--profiles")
{
    Description = "settings to compare (files in profiles/)",
    DefaultValueFactory = _ => ["vios", "akka-defaults"],
    AllowMultipleArgumentsPerToken = true,
};
var downing = new Command("downing", "SIGKILL a vios node process; time until the survivors mark it unreachable, down it and remove it")
{
    rounds, profiles,
};
downing.SetAction(async parse =>
{
    var all = new List<DowningBenchmark.Round>();
    foreach (var profile in parse.GetValue(profiles)!)
    {
        Console.WriteLine($"profile {profile}:");
        all.AddRange(await DowningBenchmark.RunAsync(profile, parse.GetValue(rounds), Console.Out));
    }

    Console.WriteLine();
    Console.WriteLine($"Downing after SIGKILL, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}, {parse.GetValue(rounds)} kills per profile (seconds from the kill)");
    Console.WriteLine();
    Console.WriteLine("| profile | unreachable p50 | downed p50 | removed p50 | removed max |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var group in all.GroupBy(r => r.Profile))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {group.Key} | {Median(group.Select(r => r.UnreachableSeconds)):0.0} | {Median(group.Select(r => r.DownedSeconds)):0.0} | {Median(group.Select(r => r.RemovedSeconds)):0.0} | {group.Max(r => r.RemovedSeconds):0.0} |"));
    }
    return 0;
});

var seconds = new Option<int>("--seconds") { Description = "measured seconds per case", DefaultValueFactory = _ => 5 };
var payloadBytes = new Option<int>("--payload") { Description = "payload bytes per message", DefaultValueFactory = _ => 64 };
var protocolRuns = new Option<int>("--runs") { Description = "measured runs per case; the median run is reported", DefaultValueFactory = _ => 3 };
var protocol = new Command("protocol", "S1 round trips through the VKEs against plain Akka request/response, and broadcasts to 4 nodes")
{
    seconds, payloadBytes, protocolRuns,
};
protocol.SetAction(async parse =>
{
    var results = await ProtocolBenchmark.RunAsync([1, 16], [1, 8], broadcastNodes: 4,
        TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(payloadBytes), parse.GetValue(protocolRuns), Console.Out);
    Console.WriteLine();
    Console.WriteLine($"S1 protocol, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}, {parse.GetValue(payloadBytes)}-byte payloads, median of {parse.GetValue(protocolRuns)} runs of {parse.GetValue(seconds)} s per case, the two round-trip paths alternating");
    Console.WriteLine();
    Console.WriteLine("| path | senders | per second | p50 µs | p99 µs | ratio to plain Akka |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        var plain = results.FirstOrDefault(p => p.Path.StartsWith("plain") && p.Senders == r.Senders && !r.Path.Contains("broadcast"));
        var ratio = plain is null || r.Path.Contains("broadcast") ? "" : (r.PerSecond / plain.PerSecond).ToString("0.00", CultureInfo.InvariantCulture);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Path} | {r.Senders} | {r.PerSecond:0} | {r.P50Micros:0} | {r.P99Micros:0} | {ratio} |"));
    }
    return 0;
});

var sizes = new Option<int[]>("--sizes")
{
    Description = "payload sizes in bytes",
    DefaultValueFactory = _ => [256, 64 * 1024],
    AllowMultipleArgumentsPerToken = true,
};
var codecSeconds = new Option<double>("--seconds") { Description = "measured seconds per size and per side", DefaultValueFactory = _ => 2.0 };
var warmupSeconds = new Option<double>("--warmup") { Description = "warm-up seconds per size and per side", DefaultValueFactory = _ => 1.0 };
var runs = new Option<int>("--runs") { Description = "measured runs per size and per side; the median is reported", DefaultValueFactory = _ => 3 };
var codec = new Command("codec", "VIOS frame codec: encode into a reused buffer + decode, MB/s of payload, against memcpy of the same bytes")
{
    sizes, codecSeconds, warmupSeconds, runs,
};
codec.SetAction(parse =>
{
    var duration = TimeSpan.FromSeconds(parse.GetValue(codecSeconds));
    var warmup = TimeSpan.FromSeconds(parse.GetValue(warmupSeconds));
    var results = parse.GetValue(sizes)!.Select(size => CodecBenchmark.Run(size, duration, warmup, parse.GetValue(runs), Console.Out)).ToList();
    var load = File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end" : "";

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"VIOS frame codec, {Environment.ProcessorCount} cores{load}, {DateTime.UtcNow:yyyy-MM-dd}, .NET {Environment.Version}; median of {parse.GetValue(runs)} runs of {duration.TotalSeconds:0.#} s per side after {warmup.TotalSeconds:0.#} s warm-up; MB = 10^6 bytes of payload"));
    Console.WriteLine();
    Console.WriteLine("| payload | encode+decode MB/s | frames/s | ns/frame | allocated B/frame | memcpy MB/s | codec / memcpy |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {Size(r.PayloadBytes)} | {r.CodecMegabytesPerSecond:#,0} | {r.CodecFramesPerSecond:#,0} | {r.NanosecondsPerFrame:#,0} | {r.CodecBytesAllocatedPerFrame:0} | {r.CopyMegabytesPerSecond:#,0} | {r.CodecMegabytesPerSecond / r.CopyMegabytesPerSecond:0.00} |"));
    }
    return 0;
});

var switchRate = new Option<double>("--switch-rate") { Description = "share of guest operations that are context switches", DefaultValueFactory = _ => 0.25 };
var shadowSeconds = new Option<double>("--seconds") { Description = "measured seconds per run and per cache setting", DefaultValueFactory = _ => 2.0 };
var shadowRuns = new Option<int>("--runs") { Description = "measured runs; the median is reported", DefaultValueFactory = _ => 3 };
var guestMiB = new Option<int>("--guest-mib") { Description = "guest memory of the dirty-log LPAR in MiB", DefaultValueFactory = _ => 1024 };
var shadow = new Command("shadow", "S18 shadow page tables: a context-switch-heavy guest with the shadow cache on and off; guest page writes per second and dirty-log Collect() cost per GiB")
{
    switchRate, shadowSeconds, shadowRuns, guestMiB,
};
shadow.SetAction(parse =>
{
    var runCount = parse.GetValue(shadowRuns);
    var (on, off) = ShadowBenchmark.RunSwitches(parse.GetValue(switchRate), TimeSpan.FromSeconds(parse.GetValue(shadowSeconds)), runCount, Console.Out);
    var dirty = ShadowBenchmark.RunDirty(parse.GetValue(guestMiB) * 1024L * 1024, runCount, Console.Out);
    var load = File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end" : "";

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"S18 shadow page tables, {Environment.ProcessorCount} cores{load}, {DateTime.UtcNow:yyyy-MM-dd}, .NET {Environment.Version}; 8 processes, 512-entry page tables, {parse.GetValue(switchRate):0%} of operations are context switches, 0.1% page-table edits, the rest 64-byte writes; median of {runCount} runs of {parse.GetValue(shadowSeconds):0.#} s per setting, alternating"));
    Console.WriteLine();
    Console.WriteLine("| shadow cache | guest ops/s | switches/s | hit rate | allocated B/switch |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var r in new[] { on, off })
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {(r.CacheOn ? "on" : "off (rebuild on every switch)")} | {r.OperationsPerSecond:#,0} | {r.SwitchesPerSecond:#,0} | {r.HitRate:0.0000} | {r.AllocatedBytesPerSwitch:#,0} |"));
    }

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Speed-up with the cache: {on.OperationsPerSecond / off.OperationsPerSecond:0.0}x"));
    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Dirty log, one LPAR of {dirty.GuestBytes >> 20} MiB, 2^20 64-byte writes per run (90% to 1% of the pages), a Collect() before each run; Collect() with {dirty.DirtyPages:#,0} pages (1%) dirty; median of {runCount} runs"));
    Console.WriteLine();
    Console.WriteLine("| measure | through the VMM | plain loop (the limit) | VMM / plain |");
    Console.WriteLine("|---|---|---|---|");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| page writes/s | {dirty.VmmWritesPerSecond:#,0} | {dirty.PlainWritesPerSecond:#,0} | {dirty.VmmWritesPerSecond / dirty.PlainWritesPerSecond:0.00} |"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| µs per GiB to find the dirty pages (1% dirty) | {dirty.CollectMicroseconds:#,0.0} (Collect) | {dirty.ScanMicroseconds:#,0} (read every byte once) | {dirty.CollectMicroseconds / dirty.ScanMicroseconds:0.0000} |"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Dirty-tracking faults during the write runs: {dirty.DirtyFaultsPerSecond:#,0}/s"));
    return 0;
});

var epochCount = new Option<int>("--epochs") { Description = "replicated epochs measured (after the first, whole, one)", DefaultValueFactory = _ => 300 };
var memoryMb = new Option<long>("--memory-mb") { Description = "guest memory of the replicated partition", DefaultValueFactory = _ => 256 };
var dirtyShare = new Option<double>("--dirty") { Description = "share of pages dirtied per epoch", DefaultValueFactory = _ => 0.01 };
var cowRuns = new Option<int>("--cow-runs") { Description = "copy-on-write stuns measured per size (median reported)", DefaultValueFactory = _ => 5 };
var checkpoint = new Command("checkpoint", "S23 replicated epochs per second over loopback (256 MiB, 1% dirty per epoch) and S24 copy-on-write stun at 64 MiB and 1 GiB")
{
    epochCount, memoryMb, dirtyShare, cowRuns,
};
checkpoint.SetAction(async parse =>
{
    Console.WriteLine("replication (S23):");
    CheckpointBenchmark.ReplicationResult replication;
    try
    {
        replication = await CheckpointBenchmark.ReplicateAsync(parse.GetValue(epochCount), parse.GetValue(memoryMb), parse.GetValue(dirtyShare), Console.Out);
    }
    catch (Exception e)
    {
        Console.Error.WriteLine($"bench checkpoint: {e}");
        return 1;
    }
    Console.WriteLine("copy-on-write (S24):");
    var cows = CheckpointBenchmark.CowStuns([64, 1024], parse.GetValue(cowRuns), Console.Out);
    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"S23 frequent checkpointing to a replica over loopback, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}, {parse.GetValue(memoryMb)} MiB partition, {parse.GetValue(dirtyShare) * 100:0.#}% of pages dirtied per epoch, {replication.Epochs} epochs"));
    Console.WriteLine();
    Console.WriteLine("| epochs/s | stun p50 ms | stun p99 ms | dirty bytes | bytes sent | dirty : sent | diff hit rate | pages sent before the stun |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {replication.EpochsPerSecond:0} | {replication.StunP50Ms:0.000} | {replication.StunP99Ms:0.000} | {replication.DirtyBytes:N0} | {replication.SentBytes:N0} | {(double)replication.DirtyBytes / replication.SentBytes:0.0} : 1 | {replication.DiffHitRate:0.00} | {replication.PreCopied:N0} |"));
    Console.WriteLine();
    Console.WriteLine($"S24 copy-on-write stun against a full capture's stun, every page touched, median of {parse.GetValue(cowRuns)}");
    Console.WriteLine();
    Console.WriteLine("| memory | pages | copy-on-write stun ms | full-capture stun ms |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var c in cows)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {c.MemoryMb} MiB | {c.Pages:N0} | {c.CowStunMs:0.000} | {c.FullStunMs:0.0} |"));
    return 0;
});

var diffPages = new Option<int[]>("--pages")
{
    Description = "candidate pages per pass for the write workloads (256, 1 MiB a copy, stay in the L3 cache; 8192, 32 MiB a copy, mostly do not)",
    DefaultValueFactory = _ => [256, 8192],
    AllowMultipleArgumentsPerToken = true,
};
var diffWrites = new Option<int[]>("--writes")
{
    Description = "64-byte writes per page since it was last sent; 0 is a page rewritten whole (the refused case)",
    DefaultValueFactory = _ => [1, 4, 16, 64, 0],
    AllowMultipleArgumentsPerToken = true,
};
var diffInterval = new Option<int>("--interval") { Description = "WorkloadEngine operations between two checkpoints (guest of 8192 pages)", DefaultValueFactory = _ => 8192 };
var diffSeconds = new Option<double>("--seconds") { Description = "measured seconds per run and per side", DefaultValueFactory = _ => 0.5 };
var diffWarmup = new Option<double>("--warmup") { Description = "warm-up seconds per case and per side", DefaultValueFactory = _ => 0.5 };
var diffRuns = new Option<int>("--runs") { Description = "measured runs per case and per side; the median is reported", DefaultValueFactory = _ => 5 };
var diff = new Command("diff", "S23 page diffs: encode against the last sent copy + apply to the backup's copy (and each alone), GB/s of page bytes, against memcpy of the same pages; wire bytes against page bytes")
{
    diffPages, diffWrites, diffInterval, diffSeconds, diffWarmup, diffRuns,
};
diff.SetAction(parse =>
{
    var duration = TimeSpan.FromSeconds(parse.GetValue(diffSeconds));
    var warmup = TimeSpan.FromSeconds(parse.GetValue(diffWarmup));
    var runCount = parse.GetValue(diffRuns);
    var results = new List<DiffBenchmark.Result>();
    foreach (var pages in parse.GetValue(diffPages)!)
    {
        foreach (var writes in parse.GetValue(diffWrites)!)
        {
            results.Add(DiffBenchmark.RunWrites(pages, writes, duration, warmup, runCount, Console.Out));
        }
    }

    results.Add(DiffBenchmark.RunWorkloadInterval(8192, parse.GetValue(diffInterval), duration, warmup, runCount, Console.Out));
    var load = File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end" : "";

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"S23 page diffs, {Environment.ProcessorCount} cores{load}, {DateTime.UtcNow:yyyy-MM-dd}, .NET {Environment.Version}, Vector256 {(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "on" : "off")}; median of {runCount} runs of {duration.TotalSeconds:0.#} s per side after {warmup.TotalSeconds:0.#} s warm-up, the four sides (encode+apply, encode, apply, memcpy) alternating; GB = 10^9 bytes of page"));
    Console.WriteLine();
    Console.WriteLine("| workload | pages | wire bytes / page bytes | refused | encode+apply GB/s | memcpy GB/s | encode+apply / memcpy | encode alone GB/s | apply alone GB/s | allocated B/page |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r.Workload} | {r.Pages:#,0} | {r.DiffBytesPerPageByte:0.000} | {r.RefusedShare:0%} | {r.DiffGigabytesPerSecond:0.0} | {r.CopyGigabytesPerSecond:0.0} | {r.DiffGigabytesPerSecond / r.CopyGigabytesPerSecond:0.00} | {r.EncodeGigabytesPerSecond:0.0} | {r.ApplyGigabytesPerSecond:0.0} | {r.AllocatedBytesPerPage:0} |"));
    }

    return 0;
});

var kernelObjects = new Option<int[]>("--objects")
{
    Description = "IPC objects in the WPAR, a sixth of each kind (System V and POSIX queues, semaphores, shared memory)",
    DefaultValueFactory = _ => [1_000, 10_000, 100_000],
    AllowMultipleArgumentsPerToken = true,
};
var kernelPtys = new Option<int>("--ptys") { Description = "pty pairs in the WPAR", DefaultValueFactory = _ => 100 };
var kernelRuns = new Option<int>("--runs") { Description = "checkpoints and restarts measured per size; the median is reported", DefaultValueFactory = _ => 5 };
var kernel = new Command("kernel", "Guest kernel checkpoint (capture + encode) and restart (decode + validate + restore) of a WPAR with 100 pty pairs and 1,000 to 100,000 IPC objects")
{
    kernelObjects, kernelPtys, kernelRuns,
};
kernel.SetAction(parse =>
{
    var runCount = parse.GetValue(kernelRuns);
    var results = parse.GetValue(kernelObjects)!.Select(n => KernelBenchmark.Run(n, parse.GetValue(kernelPtys), runCount, Console.Out)).ToList();
    var load = File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end" : "";

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Guest kernel checkpoint, {Environment.ProcessorCount} cores{load}, {DateTime.UtcNow:yyyy-MM-dd}, .NET {Environment.Version}; {parse.GetValue(kernelPtys)} pty pairs and 2 streams besides the IPC objects; median of {runCount} runs after one warm-up; µs per object counts IPC objects and pty pairs"));
    Console.WriteLine();
    Console.WriteLine("| IPC objects | image bytes | capture ms | encode ms | checkpoint ms | µs/object | decode ms | restore ms | restart ms | µs/object |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {r.IpcObjects:#,0} | {r.ImageBytes:#,0} | {r.CaptureMs:0.0} | {r.EncodeMs:0.0} | {r.CheckpointMs:0.0} | {r.CheckpointMicrosPerObject:0.00} | {r.DecodeMs:0.0} | {r.RestoreMs:0.0} | {r.RestartMs:0.0} | {r.RestartMicrosPerObject:0.00} |"));
    }
    return 0;
});

var kills = new Option<int>("--kills") { Description = "kills per standby mode, never of the singletons' host", DefaultValueFactory = _ => 10 };
var singletonKills = new Option<int>("--singleton-kills") { Description = "kills of the singletons' host per mode, reported apart", DefaultValueFactory = _ => 3 };
var modes = new Option<string[]>("--modes")
{
    Description = "standby modes to measure: cold, hot",
    DefaultValueFactory = _ => ["cold", "hot"],
    AllowMultipleArgumentsPerToken = true,
};
var keepData = new Option<bool>("--keep") { Description = "keep the nodes' data directories and logs (always kept when a round fails)" };
var extraHocon = new Option<string[]>("--hocon")
{
    Description = "extra lines for the nodes' --config file, e.g. \"vios.availability.startup-grace = 2s\"",
    DefaultValueFactory = _ => [],
    AllowMultipleArgumentsPerToken = true,
};
var recovery = new Command("recovery", "SIGKILL the node a partition runs on; time until it runs on another node (cold and hot standby) and committed epochs lost")
{
    kills, singletonKills, modes, keepData, extraHocon,
};
recovery.SetAction(async parse =>
{
    var all = new List<RecoveryBenchmark.Kill>();
    foreach (var mode in parse.GetValue(modes)!.Select(m => Enum.Parse<RecoveryBenchmark.Standby>(m, ignoreCase: true)))
    {
        Console.WriteLine($"{mode.ToString().ToLowerInvariant()} standby:");
        all.AddRange(await RecoveryBenchmark.RunAsync(mode,
            new RecoveryBenchmark.Options(parse.GetValue(kills), parse.GetValue(singletonKills), parse.GetValue(keepData), parse.GetValue(extraHocon)!), Console.Out));
    }
    var load = File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end" : "";

    Console.WriteLine();
    var settings = parse.GetValue(extraHocon)! is { Length: > 0 } extra ? $"; with {string.Join(", ", extra)}" : "";
    Console.WriteLine($"Recovery after SIGKILL, {Environment.ProcessorCount} cores{load}, {DateTime.UtcNow:yyyy-MM-dd}, .NET {Environment.Version}; lighthouse + 3 vios node processes on SQLite, 16 MB partition at 20,000 writes/s{settings} (seconds from the kill to `lpar show` running on another node)");
    Console.WriteLine();
    Console.WriteLine("| mode | kills | not back in 60 s | p50 s | max s | epochs lost (max) | image |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    foreach (var group in all.GroupBy(k => (k.Mode, k.SingletonHost)))
    {
        var back = group.Where(k => k.RecoverySeconds is not null).ToList();
        var label = (group.Key.Mode == RecoveryBenchmark.Standby.Cold ? "cold standby (checkpoints every 200 ms)" : "hot standby (replica, epochs every 100 ms)")
            + (group.Key.SingletonHost ? ", **singleton host killed**" : "");
        var lost = back.Where(k => k.LostEpochs is not null).Select(k => k.LostEpochs!.Value).DefaultIfEmpty(-1).Max();
        var unknownLost = back.Count(k => k.LostEpochs is null);
        var images = string.Join(", ", group.GroupBy(k => k.Image ?? "none").Select(i => $"{i.Key} x{i.Count()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {group.Count()} | {group.Count() - back.Count} | {Median(back.Select(k => k.RecoverySeconds!.Value)):0.00} | {(back.Count == 0 ? double.NaN : back.Max(k => k.RecoverySeconds!.Value)):0.00} | {(lost < 0 ? "?" : lost.ToString(CultureInfo.InvariantCulture))}{(unknownLost > 0 ? $" ({unknownLost} unknown)" : "")} | {images} |"));
    }
    Console.WriteLine("| baseline: Akka.NET defaults, the cluster downing the node alone (bench/README.md \"Downing\", akka-defaults: downed p50, removed max) | 5 | | 26.0 | 28.6 | | |");
    Console.WriteLine("| baseline: vSphere HA declares a host dead | | | 15 | | | |");

    Console.WriteLine();
    Console.WriteLine("Where the time goes (HA manager's own timestamps; same machine clock)");
    Console.WriteLine();
    Console.WriteLine("| mode | failure recorded p50 s | failure recorded max s | restart p50 s | restart max s | restored epoch - committed epoch (min..max) |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var group in all.Where(k => k.RecoverySeconds is not null).GroupBy(k => (k.Mode, k.SingletonHost)))
    {
        var label = group.Key.Mode.ToString().ToLowerInvariant() + (group.Key.SingletonHost ? ", singleton host killed" : "");
        var ahead = group.Where(k => k.Restored is not null && k.Committed is not null).Select(k => k.Restored!.Value - k.Committed!.Value).DefaultIfEmpty().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {Median(group.Select(k => k.DetectedSeconds!.Value)):0.00} | {group.Max(k => k.DetectedSeconds!.Value):0.00} | {Median(group.Select(k => k.RestartSeconds!.Value)):0.00} | {group.Max(k => k.RestartSeconds!.Value):0.00} | {ahead.Min()}..{ahead.Max()} |"));
    }

    Console.WriteLine();
    Console.WriteLine("The control plane during the failovers (`lpar show` of the partition and `ha status`, polled on a survivor from the kill until it ran again; target: every answer within 1 s)");
    Console.WriteLine();
    Console.WriteLine("| mode | polls | slowest answer ms | not answered within 1 s |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var group in all.GroupBy(k => (k.Mode, k.SingletonHost)))
    {
        var label = group.Key.Mode.ToString().ToLowerInvariant() + (group.Key.SingletonHost ? ", singleton host killed" : "");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {group.Sum(k => k.Polls.Count)} | {group.Max(k => k.Polls.Slowest.TotalMilliseconds):0} | {group.Sum(k => k.Polls.Unanswered)} |"));
    }
    return all.Any(k => k.RecoverySeconds is null) ? 1 : 0;
});

var heartbeatNodes = new Option<int>("--nodes") { Description = "vios nodes", DefaultValueFactory = _ => 4 };
var guestsPerNode = new Option<int>("--guests-per-node") { Description = "simulated partitions (guest agents) per node", DefaultValueFactory = _ => 250 };
var heartbeatSeconds = new Option<double>("--seconds") { Description = "measured seconds per scheme", DefaultValueFactory = _ => 10.0 };
var heartbeats = new Command("heartbeats", "S16 aggregated heartbeats against one heartbeat per guest: node-to-node messages and bytes per second, 1,000 partitions on 4 nodes")
{
    heartbeatNodes, guestsPerNode, heartbeatSeconds,
};
heartbeats.SetAction(async parse =>
{
    var (nodes, perNode) = (parse.GetValue(heartbeatNodes), parse.GetValue(guestsPerNode));
    var (results, interval, model) = await HeartbeatBenchmark.RunAsync(nodes, perNode, TimeSpan.FromSeconds(parse.GetValue(heartbeatSeconds)), Console.Out);
    var load = File.Exists("/proc/loadavg") ? $", load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end" : "";
    string Label(HeartbeatBenchmark.Scheme scheme) => scheme switch
    {
        HeartbeatBenchmark.Scheme.Aggregated => "S16: one aggregated heartbeat per node pair and interval",
        HeartbeatBenchmark.Scheme.PerGuestToStandby => "one heartbeat per guest, to its standby's node",
        HeartbeatBenchmark.Scheme.PerGuestToEveryNode => "one heartbeat per guest, to every other node",
        _ => "no guests (the S16 masters' own exchange)",
    };
    var aggregated = results.First(r => r.Scheme == HeartbeatBenchmark.Scheme.Aggregated);

    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Heartbeats, {nodes * perNode:N0} partitions on {nodes} vios nodes ({perNode} guest agents each), interval {interval.TotalMilliseconds:0} ms, {Environment.ProcessorCount} cores{load}, {DateTime.UtcNow:yyyy-MM-dd}, .NET {Environment.Version}; {parse.GetValue(heartbeatSeconds):0} s per scheme, one after the other on the same in-process cluster"));
    Console.WriteLine();
    Console.WriteLine("| scheme | node-to-node messages/s | received/s | payload B/message | payload B/s | wire B/s (est.) | vs S16 (messages) | local guest heartbeats/s | process CPU (cores) |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {Label(r.Scheme)} | {r.MessagesPerSecond:#,0.0} | {r.Delivered / r.Seconds:#,0.0} | {r.PayloadBytesPerMessage:#,0} | {r.PayloadBytesPerSecond:#,0} | {r.WireBytesPerSecond:#,0} | {r.MessagesPerSecond / aggregated.MessagesPerSecond:0.0}x | {r.LocalGuestHeartbeats / r.Seconds:#,0} | {r.CpuCores:0.00} |"));
    }
    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Pure model (HeartbeatNetwork, same placement): {model:0.0} node-to-node messages/s for S16."));
    return 0;
});

var chaosMinutes = new Option<double>("--minutes") { Description = "minutes of faults", DefaultValueFactory = _ => 20 };
var chaosSeed = new Option<int>("--seed") { Description = "the fault schedule's seed (the same seed, the same faults)", DefaultValueFactory = _ => 12 };
var chaosNodes = new Option<int>("--nodes") { Description = "vios node processes (at least 3)", DefaultValueFactory = _ => 4 };
var chaosKeep = new Option<bool>("--keep") { Description = "keep the nodes' data and logs (always kept when a violation was found)" };
var chaosDb = new Option<string>("--db") { Description = "sqlite, or postgres: the soak starts its own PostgreSQL 15 server and restarts it as a fault", DefaultValueFactory = _ => "sqlite" };
chaosDb.AcceptOnlyFromAmong("sqlite", "postgres");
var chaos = new Command("chaos", "issue 12's soak: seeded SIGKILLs, SIGSTOP pauses, leaves and lighthouse kills; checkers for two copies, recovery targets, lost epochs, second writers")
{
    chaosMinutes, chaosSeed, chaosNodes, chaosKeep, chaosDb,
};
chaos.SetAction(async parse =>
{
    var options = new Vios.Bench.Chaos.ChaosOptions(TimeSpan.FromMinutes(parse.GetValue(chaosMinutes)), parse.GetValue(chaosSeed), parse.GetValue(chaosNodes))
    {
        KeepData = parse.GetValue(chaosKeep),
        Postgres = parse.GetValue(chaosDb) == "postgres",
    };
    var report = await Vios.Bench.Chaos.ChaosSoak.RunAsync(options, Console.Out);
    Console.WriteLine();
    Vios.Bench.Chaos.ChaosSoak.Print(report, Console.Out);
    return report.Violations.Count == 0 ? 0 : 1;
});

var root = new RootCommand("Vios.Actors benchmarks (figures go to bench/README.md)") { downing, protocol, codec, shadow, diff, checkpoint, recovery, heartbeats, kernel, chaos };
return await root.Parse(args).InvokeAsync();

static string Size(int bytes) => bytes % 1024 == 0 ? $"{bytes / 1024} KiB" : $"{bytes} B";

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
