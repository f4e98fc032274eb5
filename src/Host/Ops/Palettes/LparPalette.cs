using System.Globalization;
using System.Text.Json.Serialization;
using Akka.Actor;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// The <c>lpar</c> palette: define, place (S13), start and stop partitions through the partition
/// manager singleton, run their workloads, and read their state, resources and shadow-cache (S18) counters.
/// </summary>
public static class LparPalette
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    private static readonly ArgumentSpec Name = new("name", "NAME", "the partition");

    public static OpsPalette Palette { get; } = new("lpar", "logical partitions: placement, lifecycle, memory and workload",
    [
        new(new CommandSpec("create", "define a partition and place it by policy")
        {
            Arguments = [Name],
            Options =
            [
                new OptionSpec("memory-mb", null, "guest memory in MB (1 to 65536)", "N"),
                new OptionSpec("vcpus", null, "virtual CPUs", "N"),
                new OptionSpec("policy", null, "locality (one position domain, default), spread or balanced", "P"),
                new OptionSpec("node", null, "place it on this vios node", "NODE"),
                new OptionSpec("adapters", null, "I/O adapters it gets, by kind, comma separated (e.g. eth,fc)", "KINDS"),
            ],
        }, CreateAsync),
        new(new CommandSpec("list", "every partition with its state, node and placement"), ListAsync),
        new(new CommandSpec("local", "the partitions this node's firmware hosts and their states, as this node sees them"), LocalAsync),
        new(new CommandSpec("show", "a partition's state, resources and positions, shadow cache and dirty pages") { Arguments = [Name] }, ShowAsync),
        new(new CommandSpec("start", "activate a partition: allocate its memory, start its vCPUs") { Arguments = [Name] },
            c => ForwardAsync(c, new StartLpar(c.Arg("name")!))),
        new(new CommandSpec("stop", "shut a partition down and release its memory") { Arguments = [Name] },
            c => ForwardAsync(c, new StopLpar(c.Arg("name")!))),
        new(new CommandSpec("delete", "remove a partition that is not running and free its resources") { Arguments = [Name] }, DeleteAsync),
        new(new CommandSpec("workload", "run a seeded guest workload in a running partition (rate 0 stops it)")
        {
            Arguments = [Name],
            Options =
            [
                new OptionSpec("rate", null, "guest page writes per second", "WRITES_PER_S"),
                new OptionSpec("skew", null, "share of writes to the hot tenth of the pages, 0 to 1 (default 0.9)", "S"),
                new OptionSpec("processes", null, "guest processes, each with its own page table (default 8)", "N"),
                new OptionSpec("seed", null, "workload seed (default: derived from the name)", "N"),
            ],
        }, WorkloadAsync),
    ]);

    private static async Task<CommandOutcome> CreateAsync(CommandContext context)
    {
        if (!int.TryParse(context.Arg("vcpus"), out var vcpus) || vcpus < 1)
            return CommandOutcome.BadUsage("--vcpus needs a number of virtual CPUs, at least 1");
        if (!long.TryParse(context.Arg("memory-mb"), out var memoryMb) || memoryMb < 1)
            return CommandOutcome.BadUsage("--memory-mb needs a memory size in MB, at least 1");
        var policy = PlacementPolicy.Locality;
        if (context.Arg("policy") is { } policyText && !EnumArgument.TryParse(policyText, out policy))
            return CommandOutcome.BadUsage(EnumArgument.NotOneOf<PlacementPolicy>("--policy", policyText));
        var adapters = (context.Arg("adapters") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (context.Arg("node") is { } pinned && await LiveAnswers.RefuseOnImpairedNodeAsync(context, context.Arg("name")!, pinned) is { } impaired)
            return impaired;

        var reply = await PartitionManagerClient.AskAsync(context, new CreateLpar(context.Arg("name")!, vcpus, memoryMb, policy, adapters, context.Arg("node")), AskTimeout);
        if (reply is not LparCreated created) return PartitionManagerClient.Refused(reply);
        var view = LparView.From(created.Definition);
        await context.WriteAsync(view, LparOpsJsonContext.Default.LparView, v =>
            [$"created {v.Name} on {v.Node} ({v.Vcpus} vCPUs, {v.MemoryMb} MB, {v.Policy}) in {string.Join(", ", v.Domains)}"]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ListAsync(CommandContext context)
    {
        var view = await LiveAnswers.ViewAsync(context);
        var moving = LiveAnswers.PublisherImpaired(view.PartitionsAge(LiveAnswers.Now), LiveAnswers.Now);
        var reply = moving is not null
            ? new NoLiveAnswer(moving)
            : await LiveAnswers.AskWithinAsync(context, context.Node.PartitionManager, ListLpars.Instance, LiveAnswers.Budget(context),
                ControlPlaneView.PartitionManagerSource);
        if (moving is null && reply is NoLiveAnswer) view = await LiveAnswers.ViewAsync(context);
        var now = LiveAnswers.Now;
        LparList list;
        AnswerOrigin origin;
        switch (reply)
        {
            case LparList live:
                (list, origin) = (live, AnswerOrigin.Live(ControlPlaneView.PartitionManagerSource));
                break;
            case NoLiveAnswer none when view.Partitions is { } last:
                (list, origin) = (last.Value, AnswerOrigin.FromView(view.PartitionsAge(now)!, now, none.Reason));
                break;
            case NoLiveAnswer none:
                return CommandOutcome.Failed($"{none.Reason}, and this node has not received a partition list yet");
            default:
                return PartitionManagerClient.Refused(reply);
        }
        await context.WriteAsync(ListView(list, origin, view, now), LparOpsJsonContext.Default.LparListView, ListLines);
        return CommandOutcome.Success;
    }

    /// <summary>The list, each partition's node as this node sees it beside the state its node last reported.</summary>
    internal static LparListView ListView(LparList list, AnswerOrigin origin, ControlPlaneView view, DateTimeOffset now) =>
        new(list.Lpars.Select(s =>
            {
                var reach = view.Node(s.Definition.Node);
                var state = !origin.Stale && !s.NodeOnline ? "unknown (node offline)" : PartitionManagerClient.Lower(s.State);
                return LparView.From(s.Definition) with { State = state, NodeCondition = reach.Impaired ? reach.Describe(now) : null };
            }).ToList(),
            list.Nodes.Select(n => new NodeResourcesView(n.Node, n.Cpus.Count, n.Memory.Sum(m => m.SizeMb), n.Adapters.Select(a => a.Kind).ToList())).ToList())
        {
            Source = origin.Source,
            Stale = origin.Stale,
            AsOf = origin.AsOf,
            AgeSeconds = origin.AgeSeconds,
            StaleReason = origin.Reason,
            Strays = list.Strays.Select(s => new StrayLparView(s.Name, PartitionManagerClient.Lower(s.State), s.Node, StrayNote(s.Verdict), s.Reason)).ToList(),
        };

    private static async Task<CommandOutcome> ShowAsync(CommandContext context)
    {
        var read = await LiveAnswers.ReadPartitionAsync(context, new ShowLpar(context.Arg("name")!));
        LparShowView view;
        if (read.Viewed is { } known) view = LparShowView.FromView(known, read.At, read.LiveProblem);
        else if (read.Error is { } error) return CommandOutcome.Failed(error);
        else if (read.Live is LparStatus status) view = LparShowView.Live(status, read.View.Node(status.Node), read.At);
        else return PartitionManagerClient.Refused(read.Live!);
        await context.WriteAsync(view, LparOpsJsonContext.Default.LparShowView, ShowLines);
        return CommandOutcome.Success;
    }

    /// <summary>This node's own view, from its firmware: answers even when the partition manager cannot.</summary>
    private static async Task<CommandOutcome> LocalAsync(CommandContext context)
    {
        if (context.Node.Firmware is not { } firmware)
            return CommandOutcome.Failed("this node hosts no partitions: it is a lighthouse; ask a vios node");
        HostedLpars hosted;
        var budget = LiveAnswers.Budget(context);
        try
        {
            hosted = await firmware.Ask<HostedLpars>(GetHostedLpars.Instance, budget, context.Cancellation);
        }
        catch (AskTimeoutException)
        {
            return CommandOutcome.Failed($"this node's firmware did not answer within {budget.TotalMilliseconds:0} ms");
        }
        var view = new HostedLparsView(hosted.Node, hosted.Lpars.Select(l => new HostedLparView(l.Name, PartitionManagerClient.Lower(l.State))).ToList());
        await context.WriteAsync(view, LparOpsJsonContext.Default.HostedLparsView, v => v.Lpars.Count == 0
            ? [$"{v.Node} hosts no partitions"]
            : [$"{v.Node} hosts {v.Lpars.Count} partition(s):", .. v.Lpars.Select(l => $"  {l.Name}: {l.State}")]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> DeleteAsync(CommandContext context)
    {
        var reply = await PartitionManagerClient.AskAsync(context, new DeleteLpar(context.Arg("name")!), AskTimeout);
        if (reply is not LparDeleted deleted) return PartitionManagerClient.Refused(reply);
        await context.WriteLineAsync($"deleted {deleted.Name}");
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> WorkloadAsync(CommandContext context)
    {
        if (!int.TryParse(context.Arg("rate"), out var rate) || rate < 0)
            return CommandOutcome.BadUsage("--rate needs guest page writes per second (0 stops the workload)");
        var skew = 0.9;
        if (context.Arg("skew") is { } skewText && (!double.TryParse(skewText, CultureInfo.InvariantCulture, out skew) || skew is < 0 or > 1))
            return CommandOutcome.BadUsage("--skew needs a share from 0 to 1");
        var processes = 8;
        if (context.Arg("processes") is { } processText && (!int.TryParse(processText, out processes) || processes < 1))
            return CommandOutcome.BadUsage("--processes needs a number of guest processes, at least 1");
        ulong? seed = null;
        if (context.Arg("seed") is { } seedText)
        {
            if (!ulong.TryParse(seedText, out var parsed)) return CommandOutcome.BadUsage("--seed needs a non-negative integer");
            seed = parsed;
        }
        return await ForwardAsync(context, new RunWorkload(context.Arg("name")!, rate, skew, processes, seed));
    }

    /// <summary>A command for one partition: the manager passes it to the partition's node, which answers with its status.</summary>
    private static async Task<CommandOutcome> ForwardAsync(CommandContext context, ILparCommand command)
    {
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, command.Name) is { } impaired) return impaired;
        var reply = await PartitionManagerClient.AskAsync(context, command, AskTimeout);
        if (reply is not LparStatus status) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(status, LparOpsJsonContext.Default.LparStatus, StatusLines);
        return CommandOutcome.Success;
    }

    private static IEnumerable<string> ListLines(LparListView view)
    {
        if (view.Lpars.Count == 0)
        {
            yield return "no partitions";
        }
        else
        {
            var rows = view.Lpars.Select(l => new[]
            {
                l.Name, l.State, l.Node, l.Vcpus.ToString(CultureInfo.InvariantCulture), $"{l.MemoryMb} MB", l.Policy, string.Join(" ", l.Domains),
            }).ToList();
            foreach (var line in Columns(["NAME", "STATE", "NODE", "VCPUS", "MEMORY", "POLICY", "DOMAINS"], rows)) yield return line;
        }
        if (view.Strays.Count > 0)
        {
            yield return "running outside the partition manager's record (left running; see the node's log):";
            foreach (var line in Columns(["NAME", "STATE", "NODE", "RECORD"], view.Strays.Select(s => new[] { s.Name, s.State, s.Node, s.Record }).ToList()))
                yield return "  " + line;
        }
        yield return $"nodes with resources: {(view.Nodes.Count == 0 ? "none" : string.Join(", ", view.Nodes.Select(n => $"{n.Node} ({n.Cpus} CPUs, {n.MemoryMb} MB)")))}";
        foreach (var impaired in view.Lpars.Where(l => l.NodeCondition is not null).Select(l => l.NodeCondition).Distinct()) yield return $"node {impaired}";
        if (view.Stale) yield return $"answered from this node's control view: {view.StaleReason}";
    }

    private static IEnumerable<string> ShowLines(LparShowView v)
    {
        var lines = StatusLines(v.Status).ToList();
        if (v.Stale) lines[0] = $"lpar {v.Name} on {v.Node}: {PartitionManagerClient.Lower(v.State)} (last known)";
        yield return lines[0];
        if (v.NodeCondition is { } condition) yield return $"  node {condition}";
        if (v.Failover is { } f) yield return $"  failover in progress: to {f.TargetNode} from its {f.Image}, planned at {f.PlannedAt.UtcDateTime:HH:mm:ss.fff}: {f.Reason}";
        foreach (var line in lines.Skip(1)) yield return line;
        if (v.Stale) yield return $"  answered from this node's control view: {v.StaleReason}";
    }

    private static string StrayNote(ReportedLparVerdict verdict) => verdict switch
    {
        ReportedLparVerdict.NotInRecord => "not in the manager's record",
        ReportedLparVerdict.PlacedElsewhere => "placed on another node",
        _ => verdict.ToString(),
    };

    public static IEnumerable<string> StatusLines(LparStatus s)
    {
        yield return $"lpar {s.Name} on {s.Node}: {PartitionManagerClient.Lower(s.State)}{(s.Note is null ? "" : $" ({s.Note})")}";
        yield return $"  {s.Vcpus} vCPUs, {s.MemoryMb} MB, policy {PartitionManagerClient.Lower(s.Policy)}{(s.OwnerEpoch > 0 ? $", owner epoch {s.OwnerEpoch}" : "")}";
        yield return "  resources (guest view, physical resource, position):";
        foreach (var line in Columns(null, s.Resources.Select(r => new[] { r.Guest, r.Physical, r.Position.ToString() }).ToList()))
            yield return "  " + line;
        if (s.Shadow is { } c)
        {
            yield return $"  shadow cache: {(c.Enabled ? $"on, {c.Cached}/{c.Capacity} tables" : "off (rebuild on every switch)")}; "
                + $"hits {c.Hits:N0}, misses {c.Misses:N0}, hit rate {c.HitRate * 100:0.0}%; rebuilt entries {c.RebuiltEntries:N0}; "
                + $"invalidations {c.Invalidations:N0}; evictions {c.Evictions:N0}";
            yield return $"  dirty pages since the last collection: {s.DirtyPages:N0}";
        }
        if (s.Workload is { } w)
            yield return $"  workload: {w.WritesPerSecond:N0} writes/s, skew {w.Skew.ToString(CultureInfo.InvariantCulture)}, {w.Processes} processes, seed {w.Seed}; "
                + $"{w.Writes:N0} writes, {w.ContextSwitches:N0} context switches, {w.TableEdits:N0} page-table edits, {w.GuestPageFaults:N0} guest page faults";
    }

    private static IEnumerable<string> Columns(string[]? header, IReadOnlyList<string[]> rows)
    {
        var all = header is null ? rows : [header, .. rows];
        if (all.Count == 0) yield break;
        var widths = Enumerable.Range(0, all[0].Length).Select(i => all.Max(r => r[i].Length) + 2).ToArray();
        foreach (var row in all) yield return string.Concat(row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd();
    }

}

/// <summary>A partition's definition and placement as <c>lpar create</c> and <c>lpar list</c> show it.</summary>
public sealed record LparView(string Name, string State, string Node, int Vcpus, long MemoryMb, string Policy, IReadOnlyList<string> Domains, IReadOnlyList<string> Adapters)
{
    /// <summary>Set when this node finds the partition's node unreachable, downed or held silent: how, and since when.</summary>
    public string? NodeCondition { get; init; }

    public static LparView From(LparDefinition d) => new(d.Name, "defined", d.Node, d.Vcpus, d.MemoryMb, d.Policy.ToString().ToLowerInvariant(),
        d.Allocation.Domains.Order(StringComparer.Ordinal).ToList(), d.Allocation.Adapters.Select(a => $"{a.Kind}@{a.Position}").ToList());
}

public sealed record NodeResourcesView(string Node, int Cpus, long MemoryMb, IReadOnlyList<string> Adapters);

/// <summary>What one node's firmware hosts (<c>lpar local</c>).</summary>
public sealed record HostedLparsView(string Node, IReadOnlyList<HostedLparView> Lpars);

public sealed record HostedLparView(string Name, string State);


public sealed record LparListView(IReadOnlyList<LparView> Lpars, IReadOnlyList<NodeResourcesView> Nodes)
{
    /// <summary><c>partition manager</c> for a live answer, <c>control view</c> for one from this node's view.</summary>
    public string Source { get; init; } = ControlPlaneView.PartitionManagerSource;

    public bool Stale { get; init; }

    /// <summary>When the list answered from the view was received.</summary>
    public DateTimeOffset? AsOf { get; init; }

    public double? AgeSeconds { get; init; }

    /// <summary>Why the answer is from the view and how old it is.</summary>
    public string? StaleReason { get; init; }

    /// <summary>Partitions a node runs that the manager's record does not place there.</summary>
    public IReadOnlyList<StrayLparView> Strays { get; init; } = [];
}

/// <summary>A partition running outside the manager's record: where, how, and what the record says (<c>Record</c>).</summary>
public sealed record StrayLparView(string Name, string State, string Node, string Record, string Reason);

/// <summary>A failover the HA manager has planned and not completed: where to, from which image.</summary>
public sealed record FailoverView(string TargetNode, string Image, DateTimeOffset PlannedAt, string Reason)
{
    public static FailoverView? From(Vios.Actors.Availability.RestartPlanned? plan) =>
        plan is null ? null : new FailoverView(plan.TargetNode, PartitionKnown.ImageName(plan.Image), plan.At, plan.Reason);
}

/// <summary>
/// What <c>lpar show</c> prints: the partition's status (from its node, or its last known state from
/// this node's control view), its node's condition as this node sees it, the failover in progress, and
/// where the answer came from. The same fields, live or not.
/// </summary>
public sealed record LparShowView(
    string Name,
    string Node,
    LparState State,
    int Vcpus,
    long MemoryMb,
    PlacementPolicy Policy,
    IReadOnlyList<GuestResource> Resources,
    ShadowCacheCounters? Shadow,
    long DirtyPages,
    LparWorkloadStatus? Workload,
    string? Note,
    string Source,
    bool Stale,
    DateTimeOffset? AsOf,
    double? AgeSeconds,
    string? StaleReason,
    string? NodeCondition,
    DateTimeOffset? UnreachableSince,
    FailoverView? Failover)
{
    /// <summary>The ownership epoch (fencing token): of the copy that answered, or of the definition when answered from the view.</summary>
    public long OwnerEpoch { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public LparStatus Status => new(Name, Node, State, Vcpus, MemoryMb, Policy, Resources, Shadow, DirtyPages, Workload, Note) { OwnerEpoch = OwnerEpoch };

    public static LparShowView Live(LparStatus s, NodeReach node, DateTimeOffset now) =>
        new(s.Name, s.Node, s.State, s.Vcpus, s.MemoryMb, s.Policy, s.Resources, s.Shadow, s.DirtyPages, s.Workload, s.Note,
            ControlPlaneView.PartitionManagerSource, false, null, null, null, node.Impaired ? node.Describe(now) : null, node.UnreachableSince, null)
        {
            OwnerEpoch = s.OwnerEpoch,
        };

    public static LparShowView FromView(PartitionKnown known, DateTimeOffset now, string? liveProblem)
    {
        var d = known.Definition;
        var origin = AnswerOrigin.FromView(known.List, now, liveProblem);
        return new LparShowView(d.Name, d.Node, known.LastKnownState, d.Vcpus, d.MemoryMb, d.Policy, d.Allocation.GuestView(), null, 0, null, null,
            origin.Source, true, origin.AsOf, origin.AgeSeconds, origin.Reason,
            known.NodeImpaired ? known.Node.Describe(now) : null, known.Node.UnreachableSince, FailoverView.From(known.Failover))
        {
            OwnerEpoch = d.OwnerEpoch,
        };
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(LparStatus))]
[JsonSerializable(typeof(LparView))]
[JsonSerializable(typeof(LparListView))]
[JsonSerializable(typeof(LparShowView))]
[JsonSerializable(typeof(StrayLparView))]
[JsonSerializable(typeof(HostedLparsView))]
internal sealed partial class LparOpsJsonContext : JsonSerializerContext;
