using System.Text.Json.Serialization;
using Vios.Actors.Kernel;
using Vios.Actors.Partitions;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// The <c>wpar</c> palette: the workload partitions in a partition's guest kernel, what they see
/// (virtual ids) beside the kernel's real ids, and checkpoint, restart and migration of their kernel
/// state (S6, S7, S9, S10, S11). Commands reach the partition on its node through the partition manager.
/// </summary>
public static class WparPalette
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(60);

    private static readonly ArgumentSpec Lpar = new("lpar", "LPAR", "the partition");
    private static readonly ArgumentSpec Wpar = new("wpar", "WPAR", "the workload partition");

    public static OpsPalette Palette { get; } = new("wpar", "workload partitions in a partition's guest kernel: ptys, IPC, streams",
    [
        new(new CommandSpec("list", "the WPARs of a running partition") { Arguments = [Lpar] }, ListAsync),
        new(new CommandSpec("create", "create a WPAR in a running partition; --demo runs a session in it (a pty login, a System V queue, a POSIX semaphore, a stream)")
        {
            Arguments = [Lpar, Wpar],
            Options = [new OptionSpec("demo", null, "fill it with the scripted demo session")],
        }, c => ChangeAsync(c, new CreateWpar(c.Arg("lpar")!, c.Arg("wpar")!, c.Args.ContainsKey("demo")))),
        new(new CommandSpec("show", "a WPAR as its processes see it (processes, ptys, IPC objects, streams with their modules), with virtual and real ids")
        {
            Arguments = [Lpar, Wpar],
        }, c => ShowAsync(c, new ShowWpar(c.Arg("lpar")!, c.Arg("wpar")!))),
        new(new CommandSpec("checkpoint", "checkpoint a WPAR's kernel state into the cluster-wide journal") { Arguments = [Lpar, Wpar] }, CheckpointAsync),
        new(new CommandSpec("restart", "restart a WPAR from its last checkpoint in LPAR, which must run on NODE")
        {
            Arguments = [Lpar, Wpar],
            Options = [new OptionSpec("on-node", null, "the vios node LPAR runs on now", "NODE")],
        }, RestartAsync),
        new(new CommandSpec("migrate", "move a WPAR to another running partition: checkpoint, restart there, then remove it here")
        {
            Arguments = [Lpar, Wpar],
            Options = [new OptionSpec("to", null, "the target partition", "LPAR2")],
        }, MigrateAsync),
    ]);

    private static async Task<CommandOutcome> ListAsync(CommandContext context)
    {
        var read = await LiveAnswers.ReadPartitionAsync(context, new ListWpars(context.Arg("lpar")!));
        if (read.Live is null) return LiveAnswers.Unanswered(read, $"the WPARs of {context.Arg("lpar")}");
        if (read.Live is not WparList list) return PartitionManagerClient.Refused(read.Live);
        await context.WriteAsync(list, WparOpsJsonContext.Default.WparList, ListLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ShowAsync(CommandContext context, ILparCommand command)
    {
        var read = await LiveAnswers.ReadPartitionAsync(context, command);
        if (read.Live is null) return LiveAnswers.Unanswered(read, $"WPAR {context.Arg("wpar")} of {command.Name}");
        if (read.Live is not WparShown shown) return PartitionManagerClient.Refused(read.Live);
        await context.WriteAsync(shown, WparOpsJsonContext.Default.WparShown, ShowLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ChangeAsync(CommandContext context, ILparCommand command)
    {
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, command.Name) is { } impaired) return impaired;
        var reply = await PartitionManagerClient.AskAsync(context, command, AskTimeout);
        if (reply is not WparShown shown) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(shown, WparOpsJsonContext.Default.WparShown, ShowLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> CheckpointAsync(CommandContext context)
    {
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, context.Arg("lpar")!) is { } impaired) return impaired;
        var reply = await PartitionManagerClient.AskAsync(context, new CheckpointWpar(context.Arg("lpar")!, context.Arg("wpar")!), AskTimeout);
        if (reply is not WparCheckpointed c) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(c, WparOpsJsonContext.Default.WparCheckpointed, c =>
        [
            $"WPAR {c.Wpar} of {c.Name} on {c.Node}: image {c.ImageBytes:N0} bytes, checksum {c.Checksum:x16}, kept as {WparImageStoreActor.PersistenceIdOf(c.Name, c.Wpar)} #{c.SequenceNr}",
            $"  {c.Processes} process(es), {c.IpcObjects} IPC object(s), {c.Ptys} pty pair(s), {c.Streams} stream(s)",
        ]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> RestartAsync(CommandContext context)
    {
        if (string.IsNullOrEmpty(context.Arg("on-node"))) return CommandOutcome.BadUsage("'on-node' is required: --on-node NODE");
        return await ChangeAsync(context, new RestartWpar(context.Arg("lpar")!, context.Arg("wpar")!, context.Arg("on-node")!));
    }

    private static async Task<CommandOutcome> MigrateAsync(CommandContext context)
    {
        if (string.IsNullOrEmpty(context.Arg("to"))) return CommandOutcome.BadUsage("'to' is required: --to LPAR2");
        if ((await LiveAnswers.RefuseOnImpairedNodeAsync(context, context.Arg("lpar")!) ?? await LiveAnswers.RefuseOnImpairedNodeAsync(context, context.Arg("to")!)) is { } impaired)
            return impaired;
        var reply = await PartitionManagerClient.AskAsync(context, new MigrateWpar(context.Arg("lpar")!, context.Arg("wpar")!, context.Arg("to")!), AskTimeout);
        if (reply is not WparMigrated migrated) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(migrated, WparOpsJsonContext.Default.WparMigrated, MigratedLines);
        return migrated.Identical ? CommandOutcome.Success : CommandOutcome.Failed("the WPAR sees something different after the migration");
    }

    private static IEnumerable<string> ListLines(WparList list)
    {
        if (list.Wpars.Count == 0)
        {
            yield return $"{list.Name} on {list.Node} has no WPARs";
            yield break;
        }
        yield return $"{list.Name} on {list.Node}:";
        foreach (var w in list.Wpars)
            yield return $"  {w.Name,-16} {w.LiveProcesses} process(es), {w.SysVObjects} System V object(s), {w.PosixObjects} POSIX object(s), {w.Ptys} pty pair(s), {w.Streams} stream(s)";
    }

    public static IEnumerable<string> ShowLines(WparShown shown)
    {
        yield return $"WPAR {shown.Wpar} in {shown.Name} on {shown.Node}, as it sees itself:";
        foreach (var line in shown.View) yield return $"  {line}";
        yield return "virtual id -> real id on this node's kernel:";
        foreach (var id in shown.RealIds) yield return $"  {id}";
    }

    /// <summary>The view once (it is identical before and after) beside the real ids before and after.</summary>
    public static IEnumerable<string> MigratedLines(WparMigrated m)
    {
        yield return $"WPAR {m.Wpar}: {m.Name} on {m.FromNode} -> {m.ToLpar} on {m.ToNode}, image {m.ImageBytes:N0} bytes";
        yield return $"view from inside, identical: {(m.Identical ? "yes" : "NO")}";
        foreach (var line in m.ViewBefore) yield return $"  {line}";
        if (!m.Identical)
        {
            yield return "view after:";
            foreach (var line in m.ViewAfter) yield return $"  {line}";
        }
        yield return "real ids, before -> after:";
        var after = m.RealIdsAfter.ToDictionary(i => (i.Kind, i.Virtual), i => i.Real);
        foreach (var id in m.RealIdsBefore)
            yield return $"  {id.Kind} {id.Virtual}: {id.Real} -> {(after.TryGetValue((id.Kind, id.Virtual), out var real) ? real.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")}";
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(WparList))]
[JsonSerializable(typeof(WparShown))]
[JsonSerializable(typeof(WparCheckpointed))]
[JsonSerializable(typeof(WparMigrated))]
internal sealed partial class WparOpsJsonContext : JsonSerializerContext;
