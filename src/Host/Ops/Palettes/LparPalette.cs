using System.Globalization;
using System.Text.Json.Serialization;
using Akka.Actor;
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
        if (context.Arg("policy") is { } policyText && !Enum.TryParse(policyText, ignoreCase: true, out policy))
            return CommandOutcome.BadUsage($"--policy '{policyText}' is not one of locality, spread, balanced");
        var adapters = (context.Arg("adapters") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        var reply = await PartitionManagerClient.AskAsync(context, new CreateLpar(context.Arg("name")!, vcpus, memoryMb, policy, adapters, context.Arg("node")), AskTimeout);
        if (reply is not LparCreated created) return PartitionManagerClient.Refused(reply);
        var view = LparView.From(created.Definition);
        await context.WriteAsync(view, LparOpsJsonContext.Default.LparView, v =>
            [$"created {v.Name} on {v.Node} ({v.Vcpus} vCPUs, {v.MemoryMb} MB, {v.Policy}) in {string.Join(", ", v.Domains)}"]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ListAsync(CommandContext context)
    {
        var reply = await PartitionManagerClient.AskAsync(context, ListLpars.Instance, AskTimeout);
        if (reply is not LparList list) return PartitionManagerClient.Refused(reply);
        var view = new LparListView(
            list.Lpars.Select(s => LparView.From(s.Definition) with { State = s.NodeOnline ? PartitionManagerClient.Lower(s.State) : "unknown (node offline)" }).ToList(),
            list.Nodes.Select(n => new NodeResourcesView(n.Node, n.Cpus.Count, n.Memory.Sum(m => m.SizeMb), n.Adapters.Select(a => a.Kind).ToList())).ToList());
        await context.WriteAsync(view, LparOpsJsonContext.Default.LparListView, ListLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ShowAsync(CommandContext context)
    {
        var reply = await PartitionManagerClient.AskAsync(context, new ShowLpar(context.Arg("name")!), AskTimeout);
        if (reply is not LparStatus status) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(status, LparOpsJsonContext.Default.LparStatus, StatusLines);
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
        yield return $"nodes with resources: {(view.Nodes.Count == 0 ? "none" : string.Join(", ", view.Nodes.Select(n => $"{n.Node} ({n.Cpus} CPUs, {n.MemoryMb} MB)")))}";
    }

    public static IEnumerable<string> StatusLines(LparStatus s)
    {
        yield return $"lpar {s.Name} on {s.Node}: {PartitionManagerClient.Lower(s.State)}{(s.Note is null ? "" : $" ({s.Note})")}";
        yield return $"  {s.Vcpus} vCPUs, {s.MemoryMb} MB, policy {PartitionManagerClient.Lower(s.Policy)}";
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
    public static LparView From(LparDefinition d) => new(d.Name, "defined", d.Node, d.Vcpus, d.MemoryMb, d.Policy.ToString().ToLowerInvariant(),
        d.Allocation.Domains.Order(StringComparer.Ordinal).ToList(), d.Allocation.Adapters.Select(a => $"{a.Kind}@{a.Position}").ToList());
}

public sealed record NodeResourcesView(string Node, int Cpus, long MemoryMb, IReadOnlyList<string> Adapters);

public sealed record LparListView(IReadOnlyList<LparView> Lpars, IReadOnlyList<NodeResourcesView> Nodes);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(LparStatus))]
[JsonSerializable(typeof(LparView))]
[JsonSerializable(typeof(LparListView))]
internal sealed partial class LparOpsJsonContext : JsonSerializerContext;
