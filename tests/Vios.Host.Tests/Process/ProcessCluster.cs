using System.Text.Json;
using Vios.Testing;

namespace Vios.Host.Tests.Process;

/// <summary>
/// A lighthouse and vios nodes as real `vios node` processes on loopback, driven with `vios ctl`
/// processes, as an operator would. A `vios ctl cluster tail` on the lighthouse reports every
/// membership change, so the specs wait on what the cluster says instead of polling it.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan CtlTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _directory = new("vios-proc");
    private readonly List<ViosProcess> _processes = [];

    private readonly IReadOnlyList<string> _nodeArguments;

    private ProcessCluster(IReadOnlyList<string> nodeArguments) => _nodeArguments = nodeArguments;

    public NodeProcess Lighthouse { get; private set; } = null!;
    public ViosProcess Tail { get; private set; } = null!;

    /// <param name="nodeArguments">Added to every vios node's command line (database, --config).</param>
    public static async Task<ProcessCluster> StartAsync(IReadOnlyList<string>? nodeArguments = null)
    {
        var cluster = new ProcessCluster(nodeArguments ?? []);
        try
        {
            cluster.Lighthouse = await cluster.StartNodeAsync(["--role", "lighthouse"], "lighthouse");
            cluster.Tail = cluster.Track(ViosProcess.Start(["ctl", "--endpoint", cluster.Lighthouse.Ops, "cluster", "tail"]));
            await cluster.AwaitUpAsync(cluster.Lighthouse.Address);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <param name="name">The node's name (<c>--name</c>); by default the one stored in its data directory.</param>
    /// <param name="arguments">Added to this node's command line after the cluster's own.</param>
    /// <param name="awaitUp">Whether to wait until the lighthouse reports the node up.</param>
    public async Task<NodeProcess> StartViosNodeAsync(string dataName, string? name = null, IReadOnlyList<string>? arguments = null, bool awaitUp = true)
    {
        // The vios nodes of this machine share cluster-wide state (the singletons' journal): by
        // default in "shared" beside their data directories, all of which are in this cluster's directory.
        string[] naming = name is null ? [] : ["--name", name];
        var node = await StartNodeAsync(["--seeds", Lighthouse.Address, .. naming, .. _nodeArguments, .. arguments ?? []], dataName);
        if (awaitUp) await AwaitUpAsync(node.Address);
        return node;
    }

    /// <summary>Waits until the lighthouse's tail reports <paramref name="address"/> up.</summary>
    public Task AwaitUpAsync(string address) =>
        Tail.WaitForLineAsync(l => l.Contains($"{address} | [") && (l.Contains("member-up |") || l.StartsWith($"{address} | [") && l.Contains("] | up |")),
            StartTimeout, $"{address} up");

    /// <summary>Waits until the lighthouse's tail reports <paramref name="address"/> removed.</summary>
    public Task AwaitRemovedAsync(string address, TimeSpan timeout) =>
        Tail.WaitForLineAsync(l => l.Contains($"member-removed | {address} |"), timeout, $"{address} removed");

    public static async Task<(int ExitCode, string Output, string Error)> CtlAsync(string endpoint, params string[] command) =>
        await ViosProcess.RunAsync(["ctl", "--endpoint", endpoint, .. command], CtlTimeout);

    /// <summary>`vios ctl --json cluster show` against <paramref name="endpoint"/>: address → status.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> MembersAsync(string endpoint)
    {
        var (exitCode, output, error) = await CtlAsync(endpoint, "--json", "cluster", "show");
        Assert.True(exitCode == 0, $"cluster show failed ({exitCode}): {error}");
        using var document = JsonDocument.Parse(output);
        return document.RootElement.GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.GetProperty("address").GetString()!, m => m.GetProperty("status").GetString()!);
    }

    public string DataDirectory(string name) => _directory.Sub(name);

    /// <summary>Writes a HOCON file in the cluster's directory, for <c>--config</c>.</summary>
    public string WriteConfig(string name, string hocon)
    {
        var path = Path.Combine(Directory.CreateDirectory(_directory.Sub("config")).FullName, name);
        File.WriteAllText(path, hocon);
        return path;
    }

    private async Task<NodeProcess> StartNodeAsync(IEnumerable<string> arguments, string dataName)
    {
        var process = Track(ViosProcess.Start(
            ["node", "--port", "0", "--ops-port", "0", "--data", _directory.Sub(dataName), "--log-level", "warning", .. arguments]));
        var (address, ops) = await process.WaitForStartAsync(StartTimeout);
        return new NodeProcess(process, address, ops, dataName);
    }

    private ViosProcess Track(ViosProcess process)
    {
        lock (_processes) _processes.Add(process);
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes) await process.DisposeAsync();
        _directory.Dispose();
    }
}

public sealed record NodeProcess(ViosProcess Process, string Address, string Ops, string DataName);
