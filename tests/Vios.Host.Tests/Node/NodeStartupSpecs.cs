using System.Net;
using System.Net.Sockets;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>A node given something it cannot work with refuses to start, with one line saying why.</summary>
public sealed class NodeStartupSpecs : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new();

    private NodeOptions ViosOptions => new()
    {
        Port = 0,
        OpsPort = 0,
        DataDirectory = _directory.Sub("data"),
        Seeds = ["127.0.0.1:1"],
        LogLevel = "off",
        Environment = new Dictionary<string, string?>(),
    };

    [Fact]
    public async Task Unreachable_postgres_is_refused_naming_the_server()
    {
        var port = FreePort();
        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions with
        {
            Database = DatabaseKind.Postgres,
            DatabaseConnection = $"Host=127.0.0.1;Port={port};Database=vios;Username=vios;Password=secret",
        }));

        Assert.Contains($"127.0.0.1:{port}/vios", error.Message);
        Assert.DoesNotContain("secret", error.Message);
    }

    [Fact]
    public async Task A_journal_file_that_is_not_a_database_is_refused()
    {
        Directory.CreateDirectory(_directory.Sub("data"));
        var journal = Path.Combine(_directory.Sub("data"), "journal.db");
        await File.WriteAllBytesAsync(journal, Enumerable.Repeat((byte)0x5A, 8192).ToArray());

        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions));

        Assert.Contains("journal.db", error.Message);
        Assert.Contains("not a database", error.Message);
        Assert.Equal(Enumerable.Repeat((byte)0x5A, 8192), await File.ReadAllBytesAsync(journal));
    }

    [Fact]
    public async Task A_cluster_wide_journal_that_is_not_a_database_is_refused_and_left_as_it_was()
    {
        var shared = _directory.Sub("shared");
        Directory.CreateDirectory(shared);
        var journal = Path.Combine(shared, "cluster-journal.db");
        await File.WriteAllBytesAsync(journal, Enumerable.Repeat((byte)0x5A, 8192).ToArray());

        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions with { SharedDirectory = shared }));

        Assert.StartsWith("cannot open the cluster-wide journal database (sqlite ", error.Message);
        Assert.Contains("cluster-journal.db", error.Message);
        Assert.Equal(Enumerable.Repeat((byte)0x5A, 8192), await File.ReadAllBytesAsync(journal));
    }

    [Theory]
    [InlineData("vios.resources.domains = [ { position = \"cec1\", cpus = 4 } ]", "vios.resources.domains[0].position 'cec1' is not a position domain")]
    [InlineData("vios.resources.domains = [ { position = \"cec1/node0\", cpus = 0, memory = 1 GiB } ]", "vios.resources.domains advertise no CPUs")]
    [InlineData("vios.resources.domains = 4", "vios.resources.domains must be a list")]
    [InlineData("vios.partitions.shadow-cache-capacity = 0", "vios.partitions.shadow-cache-capacity must be at least 1")]
    public async Task Resources_or_partition_settings_that_make_no_sense_are_refused_naming_the_key(string hocon, string expected)
    {
        var config = Path.Combine(_directory.Path, "resources.hocon");
        await File.WriteAllTextAsync(config, hocon);

        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions with { ConfigFile = config }));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public async Task A_vios_node_without_seeds_is_refused()
    {
        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions with { Seeds = [] }));

        Assert.Contains("--seeds", error.Message);
    }

    [Fact]
    public async Task An_ops_endpoint_off_loopback_without_a_token_is_refused()
    {
        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions with { OpsHost = "0.0.0.0" }));

        Assert.Contains("--ops-token", error.Message);
    }

    [Fact]
    public async Task An_unknown_log_level_is_refused()
    {
        var error = await Assert.ThrowsAsync<NodeStartupException>(() => ViosNode.StartAsync(ViosOptions with { LogLevel = "loud" }));

        Assert.Contains("loud", error.Message);
    }

    [Fact]
    public async Task An_ops_port_in_use_is_refused_and_the_actor_system_is_shut_down()
    {
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((IPEndPoint)occupied.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<NodeStartupException>(() =>
            ViosNode.StartAsync(ViosOptions with { Role = NodeRole.Lighthouse, Seeds = null, OpsPort = port }));

        Assert.Contains(port.ToString(), error.Message);
    }

    [Fact]
    public async Task The_process_exits_1_with_one_line_when_the_database_is_down()
    {
        var result = await ViosProcess.RunAsync(
            ["node", "--seeds", "127.0.0.1:1", "--port", "0", "--ops-port", "0", "--data", _directory.Sub("p"),
             "--db", "postgres", "--db-connection", $"Host=127.0.0.1;Port={FreePort()};Database=vios;Username=vios"],
            ProcessTimeout);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("vios: node not started: cannot open the journal database (postgres 127.0.0.1:", line);
        Assert.DoesNotContain("   at ", result.StandardOutput + result.StandardError);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => _directory.Dispose();
}
