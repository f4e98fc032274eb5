using Akka.Actor;
using Spectre.Console;
using Vios.Actors.Kernel;
using Vios.Actors.Partitions;
using Vios.Host.Node;

namespace Vios.Host.Demo;

/// <summary>
/// Guest kernel state in the demo (S6, S7, S9, S10, S11): a WPAR with a pty login, a System V queue
/// holding messages, a POSIX semaphore and a stream with two modules is created in <c>web</c> and
/// migrated to <c>web-copy</c> on another node. What the WPAR sees is printed once, identical before
/// and after, beside the kernel's real ids before and after, which changed.
/// </summary>
public sealed class WparMigrationStep : IDemoStep
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    public string Title => "Migrate a WPAR's ptys, IPC objects and streams to a partition on another node";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var through = context.Cluster.ViosNodes[0];
        var console = context.Console;
        // web runs, and web-copy (restored by the checkpoint step) runs on another node.
        await Ask<WparShown>(through, new CreateWpar("web", "demo", Demo: true));
        var migrated = await Ask<WparMigrated>(through, new MigrateWpar("web", "demo", "web-copy"));
        console.MarkupLineInterpolated(
            $"    WPAR demo: web on {migrated.FromNode} → web-copy on {migrated.ToNode}, image {migrated.ImageBytes:N0} bytes; view from inside identical: {(migrated.Identical ? "yes" : "NO")}");
        var after = migrated.RealIdsAfter.ToDictionary(i => (i.Kind, i.Virtual), i => i.Real);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("seen from inside (before = after)").AddColumn("real ids before → after");
        var ids = migrated.RealIdsBefore.Select(i => $"{i.Kind} {i.Virtual}: {i.Real} → {after.GetValueOrDefault((i.Kind, i.Virtual))}").ToList();
        for (var row = 0; row < Math.Max(migrated.ViewBefore.Count, ids.Count); row++)
            table.AddRow(Markup.Escape(row < migrated.ViewBefore.Count ? migrated.ViewBefore[row] : ""), Markup.Escape(row < ids.Count ? ids[row] : ""));
        console.Write(table);
        var changed = migrated.RealIdsBefore.Count(i => after.GetValueOrDefault((i.Kind, i.Virtual)) != i.Real);
        console.MarkupLineInterpolated($"    {changed} of {migrated.RealIdsBefore.Count} real ids changed; the WPAR's own ids did not (S7, S9)");
        if (!migrated.Identical) throw new TimeoutException("the WPAR sees something different after the migration");
    }

    private static async Task<T> Ask<T>(ViosNode through, object message)
    {
        var reply = await through.PartitionManager!.Ask<object>(message, AskTimeout);
        return reply is T typed
            ? typed
            : throw new TimeoutException(reply is LparRefused refused ? $"refused: {refused.Reason}" : $"unexpected reply {reply}");
    }
}
