using System.Net;
using System.Net.Sockets;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Bench.Chaos;

/// <summary>
/// The soak's cluster: lighthouses on fixed loopback ports (so one started again is found where it
/// was, and every node lists all of them as seeds) and vios nodes as real `vios node` processes
/// sharing one cluster-wide journal: SQLite files in one shared directory, or the soak's own
/// PostgreSQL server. Nodes keep their data directory and name across restarts.
/// </summary>
public sealed class ChaosCluster(string root, int lighthouses, TextWriter log, ChaosPostgres? database = null) : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly Dictionary<string, Node> _vios = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private readonly Node?[] _lighthouses = new Node?[lighthouses];
    private readonly int[] _lighthousePorts = new int[lighthouses];
    private string _config = "";

    /// <summary>The vios nodes by name, in the order first started.</summary>
    public IReadOnlyList<string> Names => _names;

    public string SharedDirectory => Path.Combine(root, "shared");

    public string Seeds => string.Join(',', _lighthousePorts.Select(p => $"127.0.0.1:{p}"));

    /// <summary>The ops endpoints of the vios nodes whose process runs and is not paused.</summary>
    public IReadOnlyList<(string Name, string Ops)> Live =>
        _vios.Where(n => n.Value.Process is { } p && !p.Exited.IsCompleted && !n.Value.Paused).Select(n => (n.Key, n.Value.Ops)).ToList();

    /// <summary>Vios nodes whose process has exited (downed by the cluster, or crashed) and that nobody has started again.</summary>
    public IReadOnlyList<string> Exited => _names.Where(n => !IsRunning(n)).ToList();

    public bool IsPaused(string name) => _vios.TryGetValue(name, out var node) && node.Paused;

    public bool IsRunning(string name) => _vios.TryGetValue(name, out var node) && node.Process is { } p && !p.Exited.IsCompleted;

    public string OpsOf(string name) => _vios[name].Ops;

    public async Task StartAsync(string config)
    {
        Directory.CreateDirectory(root);
        _config = Path.Combine(root, "chaos.hocon");
        await File.WriteAllTextAsync(_config, config);
        for (var i = 0; i < _lighthousePorts.Length; i++) _lighthousePorts[i] = FreePort();
        for (var i = 0; i < _lighthouses.Length; i++) await StartLighthouseAsync(i);
    }

    /// <summary>Starts lighthouse <paramref name="index"/> on its port; the first seeds itself only if no other lighthouse answers.</summary>
    public async Task StartLighthouseAsync(int index)
    {
        // Gone for good before another takes its port.
        if (_lighthouses[index]?.Process is { } previous) await previous.DisposeAsync();
        var process = ViosProcess.Start(["node", "--role", "lighthouse", "--port", _lighthousePorts[index].ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--seeds", Seeds, "--ops-port", "0", "--data", Path.Combine(root, $"lighthouse{index + 1}"), "--config", _config, "--log-level", "warning"]);
        var (_, ops) = await process.WaitForStartAsync(StartTimeout);
        _lighthouses[index] = new Node(process, ops);
    }

    public void KillLighthouse(int index) => _lighthouses[index]?.Process?.Kill();

    /// <summary>The cluster address lighthouse <paramref name="index"/> listens at (its port is fixed).</summary>
    public string LighthouseAddress(int index) => $"akka.tcp://vios@127.0.0.1:{_lighthousePorts[index].ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>Lighthouses whose process has exited.</summary>
    public IReadOnlyList<int> ExitedLighthouses =>
        Enumerable.Range(0, _lighthouses.Length).Where(i => _lighthouses[i]?.Process is { } p && p.Exited.IsCompleted).ToList();

    public string LighthouseOps(int index) => _lighthouses[index]?.Ops ?? throw new InvalidOperationException($"lighthouse {index + 1} is not started");

    /// <summary>Starts (or starts again, on its data directory and with its name) a vios node and waits for its ready line.</summary>
    public async Task StartViosAsync(string name)
    {
        if (_vios.TryGetValue(name, out var old) && old.Process is { } previous) await previous.DisposeAsync();
        var process = ViosProcess.Start(["node", "--seeds", Seeds, "--port", "0", "--ops-port", "0",
            "--data", Path.Combine(root, name), "--shared-data", SharedDirectory, "--name", name,
            "--config", _config, "--log-level", "warning",
            .. database is null ? Array.Empty<string>() : ["--db", "postgres", "--db-connection", database.ConnectionString]]);
        var (_, ops) = await process.WaitForStartAsync(StartTimeout);
        _vios[name] = new Node(process, ops);
        if (!_names.Contains(name)) _names.Add(name);
    }

    public void Kill(string name) => _vios[name].Process?.Kill();

    public void Pause(string name)
    {
        _vios[name].Process?.Stop();
        _vios[name].Paused = true;
    }

    public void Resume(string name)
    {
        _vios[name].Process?.Continue();
        _vios[name].Paused = false;
    }

    public void Terminate(string name) => _vios[name].Process?.Terminate();

    /// <summary>Waits until the node's process has exited; false if it still runs after <paramref name="timeout"/>.</summary>
    public async Task<bool> AwaitExitAsync(string name, TimeSpan timeout)
    {
        if (_vios[name].Process is not { } process) return true;
        var exited = await Task.WhenAny(process.Exited, Task.Delay(timeout));
        return exited == process.Exited;
    }

    /// <summary>
    /// The rows of the cluster-wide journals (partitions' images in one, the singletons' streams in the
    /// control plane's) and who wrote each. On PostgreSQL both are the same table.
    /// </summary>
    public async Task<IReadOnlyList<JournalRow>> ReadJournalAsync()
    {
        if (database is not null) return await ReadJournalAsync(new NpgsqlConnection(database.ConnectionString));
        var rows = new List<JournalRow>();
        foreach (var file in new[] { "cluster-journal.db", DatabaseSettings.ControlJournalFile }.Select(f => Path.Combine(SharedDirectory, f)).Where(File.Exists))
            rows.AddRange(await ReadJournalAsync(new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False;Default Timeout=5")));
        return rows;
    }

    private static async Task<IReadOnlyList<JournalRow>> ReadJournalAsync(DbConnection connection)
    {
        await using var _ = connection;
        var rows = new List<JournalRow>();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT persistence_id, sequence_number, writer_uuid FROM journal WHERE writer_uuid IS NOT NULL";
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(new JournalRow(reader.GetString(0), reader.GetInt64(1), reader.GetString(2)));
        return rows;
    }

    public string LogFile(string name) => Path.Combine(root, name, "logs", "vios-node.log");

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _vios.Values)
            if (node.Process is { } process) await process.DisposeAsync();
        foreach (var lighthouse in _lighthouses)
            if (lighthouse?.Process is { } process) await process.DisposeAsync();
        log.WriteLine($"  stopped {_vios.Count} vios node(s) and {_lighthouses.Length} lighthouse(s)");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Node(ViosProcess process, string ops)
    {
        public ViosProcess? Process { get; } = process;
        public string Ops { get; } = ops;
        public bool Paused { get; set; }
    }
}
