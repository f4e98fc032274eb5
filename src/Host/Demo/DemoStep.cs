using Spectre.Console;
using Vios.Host.Node;

namespace Vios.Host.Demo;

/// <summary>What the demo's steps share: the local cluster they build and the console they report to.</summary>
public sealed class DemoContext(LocalCluster cluster, IAnsiConsole console, string dataDirectory, bool keepData)
{
    public LocalCluster Cluster { get; } = cluster;
    public IAnsiConsole Console { get; } = console;
    public string DataDirectory { get; } = dataDirectory;
    public bool KeepData { get; } = keepData;
}

/// <summary>
/// One step of `vios demo`. The demo is a list of steps run in order; later subsystems add theirs
/// (create partitions, checkpoint, fail a node over) to <see cref="DemoRunner.Steps"/>.
/// </summary>
public interface IDemoStep
{
    string Title { get; }

    Task RunAsync(DemoContext context, CancellationToken cancellationToken);
}
