using Spectre.Console;
using Vios.Host.Node;

namespace Vios.Host.Demo;

public sealed class StartLighthouseStep : IDemoStep
{
    public string Title => "Start the lighthouse (seed node)";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var lighthouse = await context.Cluster.StartLighthouseAsync();
        context.Console.MarkupLineInterpolated($"    lighthouse {lighthouse.Name} at {lighthouse.SelfAddress}");
    }
}

public sealed class StartViosNodesStep(int count) : IDemoStep
{
    public string Title => $"Start {count} vios nodes, seeded by the lighthouse";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var nodes = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => context.Cluster.StartViosNodeAsync(awaitUp: false)));
        foreach (var node in nodes)
            context.Console.MarkupLineInterpolated($"    vios node {node.Name} at {node.SelfAddress}, journal under {node.DataDirectory}");
    }
}

public sealed class AwaitConvergenceStep : IDemoStep
{
    public string Title => "Wait until every node sees every node Up";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        await context.Cluster.AwaitConvergenceAsync();
        context.Console.MarkupLineInterpolated($"    {context.Cluster.RunningNodes.Count} members Up and reachable on every node");
    }
}

/// <summary>The readable summary: members, roles, leader, where the data is, how to reach each node.</summary>
public sealed class ClusterSummaryStep : IDemoStep
{
    public string Title => "Cluster summary";

    public Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var observer = context.Cluster.Lighthouse;
        var state = observer.Cluster.State;
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("Node", "Roles", "Address", "Status", "Ops endpoint");
        foreach (var node in context.Cluster.RunningNodes)
        {
            var member = state.Members.FirstOrDefault(m => m.Address == node.SelfAddress);
            table.AddRow(
                Markup.Escape(node.Name),
                Markup.Escape(string.Join(",", member?.Roles ?? [])),
                Markup.Escape(node.SelfAddress.ToString()),
                Markup.Escape(member?.Status.ToString().ToLowerInvariant() ?? "absent"),
                Markup.Escape(node.OpsEndpoint.ToString()));
        }
        context.Console.Write(table);
        context.Console.MarkupLineInterpolated($"    Leader: {state.Leader?.ToString() ?? "none"}");
        context.Console.MarkupLineInterpolated($"    Data: {context.DataDirectory} (SQLite journal.db and snapshots.db per vios node, logs/ per node)");
        var endpoint = context.Cluster.ViosNodes.FirstOrDefault()?.OpsEndpoint ?? observer.OpsEndpoint;
        context.Console.MarkupLineInterpolated($"    While it runs: vios ctl --endpoint {endpoint} cluster show");
        return Task.CompletedTask;
    }
}

/// <summary>Every vios node leaves gracefully, then the lighthouse; nobody is downed.</summary>
public sealed class LeaveGracefullyStep : IDemoStep
{
    public string Title => "Leave the cluster gracefully";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var nodes = context.Cluster.ViosNodes;
        var removal = nodes.Select(n => context.Cluster.Lighthouse.AwaitAsync(
            ClusterWaits.Removed(n.SelfAddress), LocalCluster.ConvergenceTimeout, $"{n.Name} removed")).ToList();
        await context.Cluster.StopViosNodesAsync();
        await Task.WhenAll(removal);
        foreach (var node in nodes)
            context.Console.MarkupLineInterpolated($"    {node.Name} left and was removed");
        var lighthouse = context.Cluster.Lighthouse;
        await lighthouse.StopAsync();
        context.Console.MarkupLineInterpolated($"    {lighthouse.Name} stopped");
    }
}
