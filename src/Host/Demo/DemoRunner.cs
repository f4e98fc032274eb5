using System.Diagnostics;
using Spectre.Console;
using Vios.Host.Node;

namespace Vios.Host.Demo;

public sealed record DemoOptions
{
    /// <summary>Where the nodes keep their data; null means a fresh temp directory, removed afterwards.</summary>
    public string? DataDirectory { get; init; }

    public int ViosNodes { get; init; } = 3;

    /// <summary>Keep the cluster running after the summary until Ctrl-C, to try `vios ctl` against it.</summary>
    public bool KeepRunning { get; init; }

    public string LogLevel { get; init; } = "warning";

    /// <summary>The whole demo, leaving included, must finish within this.</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Runs the demo's steps in order, timing each, and always shuts the cluster down.</summary>
public static class DemoRunner
{
    public static IReadOnlyList<IDemoStep> Steps(DemoOptions options) =>
    [
        new StartLighthouseStep(),
        new StartViosNodesStep(options.ViosNodes),
        new AwaitConvergenceStep(),
        new ClusterSummaryStep(),
        new VkeBroadcastEchoStep(),
        new PartitionsStep(),
        new CheckpointsStep(),
        new WparMigrationStep(),
        new FailoverStep(),
        .. options.KeepRunning ? [new WaitForCtrlCStep()] : Array.Empty<IDemoStep>(),
        new LeaveGracefullyStep(),
    ];

    public static async Task<int> RunAsync(DemoOptions options, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        var keepData = options.DataDirectory is not null;
        var dataDirectory = Path.GetFullPath(options.DataDirectory ?? Path.Combine(Path.GetTempPath(), $"vios-demo-{Guid.NewGuid():N}"[..19]));
        await using var cluster = LocalCluster.Create(new LocalClusterOptions
        {
            RootDirectory = dataDirectory,
            DeleteOnDispose = !keepData,
            LogLevel = options.LogLevel,
        });
        var context = new DemoContext(cluster, console, dataDirectory, keepData);
        var steps = Steps(options);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!options.KeepRunning) deadline.CancelAfter(options.Deadline);

        console.MarkupLineInterpolated($"[bold]Vios.Actors demo[/]: a lighthouse and {options.ViosNodes} vios nodes, data in {dataDirectory}");
        var total = Stopwatch.StartNew();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            console.MarkupLineInterpolated($"[blue][[{i + 1}/{steps.Count}]][/] {step.Title}");
            var watch = Stopwatch.StartNew();
            try
            {
                await step.RunAsync(context, deadline.Token).WaitAsync(deadline.Token);
            }
            catch (Exception e) when (e is NodeStartupException or TimeoutException or OperationCanceledException)
            {
                var reason = e is OperationCanceledException ? $"the demo did not finish within {options.Deadline.TotalSeconds:0} s" : e.Message;
                console.MarkupLineInterpolated($"[red]demo failed at step {i + 1} ({step.Title}):[/] {reason}");
                return 1;
            }
            console.MarkupLineInterpolated($"    [grey]done in {watch.Elapsed.TotalSeconds:0.0} s[/]");
        }
        console.MarkupLineInterpolated($"[green]Demo finished in {total.Elapsed.TotalSeconds:0.0} s.[/] {(keepData ? $"Data kept in {dataDirectory}" : "Temporary data removed.")}");
        return 0;
    }
}

/// <summary>With --keep-running: hold the cluster up until Ctrl-C so an operator can try `vios ctl`.</summary>
public sealed class WaitForCtrlCStep : IDemoStep
{
    public string Title => "Cluster running: try vios ctl against the endpoints above; Ctrl-C to leave";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var interrupted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGINT, signal =>
            {
                signal.Cancel = true;
                interrupted.TrySetResult();
            });
        await interrupted.Task.WaitAsync(cancellationToken);
    }
}
