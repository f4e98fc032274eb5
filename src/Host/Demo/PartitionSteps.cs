using System.Diagnostics;
using Akka.Actor;
using Spectre.Console;
using Vios.Actors.Partitions;
using Vios.Host.Node;

namespace Vios.Host.Demo;

/// <summary>
/// Partitions in the demo: three LPARs defined through the partition manager and placed by the three
/// policies (S13), started on their nodes with real guest memory, each running a workload that
/// context-switches between its processes, then their state and shadow-cache (S18) hit rates.
/// </summary>
public sealed class PartitionsStep : IDemoStep
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RegistrationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the workloads run before the table is printed.</summary>
    public static readonly TimeSpan WorkloadTime = TimeSpan.FromSeconds(1.5);

    private static readonly (CreateLpar Create, int Rate, int Processes)[] Partitions =
    [
        // Rates a loaded 2-core machine sustains next to four ActorSystems and the test suite.
        (new CreateLpar("web", 2, 256, PlacementPolicy.Locality, ["eth"], null), 40_000, 8),
        (new CreateLpar("db", 4, 1024, PlacementPolicy.Spread, ["fc"], null), 20_000, 16),
        (new CreateLpar("batch", 2, 512, PlacementPolicy.Balanced, [], null), 60_000, 4),
    ];

    public string Title => "Create partitions by placement policy, start them and run their workloads";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var nodes = context.Cluster.ViosNodes;
        var manager = nodes[0].PartitionManager!;
        await AwaitFirmwareAsync(manager, nodes.Count, cancellationToken);

        for (var i = 0; i < Partitions.Length; i++)
        {
            var (create, rate, processes) = Partitions[i];
            // Through a different node each time: any node's proxy reaches the one manager.
            var through = nodes[i % nodes.Count];
            var definition = await AskAsync(through, create) switch
            {
                LparCreated created => created.Definition,
                LparRefused { Kind: LparRefusal.AlreadyExists } =>
                    (await AskAsync<LparList>(through, ListLpars.Instance)).Lpars.Single(l => l.Definition.Name == create.Name).Definition,
                var other => throw Unexpected(other),
            };
            context.Console.MarkupLineInterpolated(
                $"    {definition.Name}: {definition.Vcpus} vCPUs, {definition.MemoryMb} MB, {Lower(definition.Policy)} → [bold]{definition.Node}[/] {string.Join(" ", definition.Allocation.Domains.Order(StringComparer.Ordinal))}");
            await ExpectStatusAsync(through, new StartLpar(create.Name));
            await ExpectStatusAsync(through, new RunWorkload(create.Name, rate, 0.9, processes, Seed: 42));
        }

        await Task.Delay(WorkloadTime, cancellationToken);

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("LPAR", "node", "state", "guest writes", "context switches", "shadow hits", "misses", "hit rate", "invalidations", "dirty pages");
        foreach (var (create, _, _) in Partitions)
        {
            var status = await ExpectStatusAsync(nodes[^1], new ShowLpar(create.Name));
            var shadow = status.Shadow!;
            table.AddRow(status.Name, status.Node, Lower(status.State), $"{status.Workload?.Writes:N0}", $"{status.Workload?.ContextSwitches:N0}",
                $"{shadow.Hits:N0}", $"{shadow.Misses:N0}", $"{shadow.HitRate * 100:0.00}%", $"{shadow.Invalidations:N0}", $"{status.DirtyPages:N0}");
        }
        context.Console.Write(table);
        context.Console.MarkupLine("    [grey]Each context switch loads a page-table base; a hit reuses the cached shadow table instead of rebuilding it (bench shadow: cache on vs off).[/]");
    }

    private static async Task AwaitFirmwareAsync(IActorRef manager, int nodes, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var list = await manager.Ask<LparList>(ListLpars.Instance, AskTimeout, cancellationToken);
            if (list.Nodes.Count >= nodes) return;
            if (waited.Elapsed > RegistrationTimeout)
                throw new TimeoutException($"only {list.Nodes.Count} of {nodes} vios nodes registered their resources with the partition manager");
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private static async Task<LparStatus> ExpectStatusAsync(ViosNode through, ILparCommand command)
    {
        var reply = await AskAsync(through, command);
        return reply as LparStatus ?? throw Unexpected(reply);
    }

    private static Task<object> AskAsync(ViosNode through, object message) => AskAsync<object>(through, message);

    private static Task<T> AskAsync<T>(ViosNode through, object message) => through.PartitionManager!.Ask<T>(message, AskTimeout);

    private static TimeoutException Unexpected(object reply) => new(reply is LparRefused refused
        ? $"the partition manager refused: {refused.Reason}"
        : $"unexpected reply from the partition manager: {reply}");

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}
