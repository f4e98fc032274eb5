using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

public sealed class NodeConfigBuilderSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    private NodeOptions Options(IReadOnlyDictionary<string, string?>? environment = null) => new()
    {
        DataDirectory = _directory.Sub("data"),
        Environment = environment ?? new Dictionary<string, string?>(),
    };

    [Fact]
    public void Defaults_come_from_the_hocon_files_shipped_next_to_the_binary()
    {
        var config = NodeConfigBuilder.Build(Options());

        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal(1, config.GetInt("akka.persistence.journal.sql.parallelism"));
        Assert.Equal(9110, config.GetInt("vios.ops.port"));
        Assert.Equal(["vios"], config.GetStringList("akka.cluster.roles"));
    }

    [Fact]
    public void Sqlite_journal_and_snapshots_are_separate_files_under_the_data_directory()
    {
        var settings = DatabaseSettings.FromConfig(NodeConfigBuilder.Build(Options()));

        Assert.Contains(Path.Combine(_directory.Sub("data"), "journal.db"), settings.JournalConnection);
        Assert.Contains(Path.Combine(_directory.Sub("data"), "snapshots.db"), settings.SnapshotConnection);
    }

    [Fact]
    public void Postgres_selects_the_postgres_provider_and_the_given_connection()
    {
        var config = NodeConfigBuilder.Build(Options() with
        {
            Database = DatabaseKind.Postgres,
            DatabaseConnection = "Host=db;Database=vios;Username=u;Password=p",
        });

        Assert.Equal("PostgreSQL.15", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("Host=db;Database=vios;Username=u;Password=p", config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("Host=db;Database=vios;Username=u;Password=p", config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
    }

    [Fact]
    public void Lighthouse_environment_variables_set_address_port_and_seeds()
    {
        var config = NodeConfigBuilder.Build(Options(new Dictionary<string, string?>
        {
            ["CLUSTER_IP"] = "10.0.0.7",
            ["CLUSTER_PORT"] = "4100",
            ["CLUSTER_SEEDS"] = "10.0.0.1:4053, akka.tcp://vios@10.0.0.2:4053",
        }));

        Assert.Equal("10.0.0.7", config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(4100, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(["akka.tcp://vios@10.0.0.1:4053", "akka.tcp://vios@10.0.0.2:4053"], config.GetStringList("akka.cluster.seed-nodes"));
    }

    [Fact]
    public void Layers_win_in_order_flags_over_environment_over_config_file_over_hocon()
    {
        var file = _directory.Sub("extra.hocon");
        File.WriteAllText(file, """
            akka.remote.dot-netty.tcp.port = 5000
            akka.remote.dot-netty.tcp.hostname = "192.168.1.1"
            akka.cluster.split-brain-resolver.stable-after = 7s
            vios.ops.port = 9300
            """);
        var environment = new Dictionary<string, string?> { ["CLUSTER_PORT"] = "6000", ["CLUSTER_IP"] = "10.1.1.1" };

        var config = NodeConfigBuilder.Build(Options(environment) with { ConfigFile = file, Port = 7000 });

        Assert.Equal(7000, config.GetInt("akka.remote.dot-netty.tcp.port"));                              // flag
        Assert.Equal("10.1.1.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));                // environment
        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after")); // --config
        Assert.Equal(9300, config.GetInt("vios.ops.port"));                                               // --config
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy")); // vios.hocon
    }

    [Fact]
    public void Lighthouse_listens_on_4053_and_vios_nodes_on_any_free_port_by_default()
    {
        Assert.Equal(4053, NodeConfigBuilder.Build(Options() with { Role = NodeRole.Lighthouse }).GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(0, NodeConfigBuilder.Build(Options()).GetInt("akka.remote.dot-netty.tcp.port"));
    }

    [Theory]
    [InlineData("not an address")]
    [InlineData("akka.tcp://lighthouse@10.0.0.1:4053")]
    [InlineData("10.0.0.1")]
    public void A_bad_seed_is_refused_with_the_reason(string seed)
    {
        var error = Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options() with { Seeds = [seed] }));

        Assert.Contains(seed, error.Message);
    }

    [Fact]
    public void A_config_file_that_is_not_hocon_is_refused_naming_the_file()
    {
        var file = _directory.Sub("broken.hocon");
        File.WriteAllText(file, "akka { cluster { roles = [vios ");

        var error = Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options() with { ConfigFile = file }));

        Assert.Contains("broken.hocon", error.Message);
        Assert.Contains("not valid HOCON", error.Message);
    }

    [Fact]
    public void A_missing_config_file_is_refused_naming_the_file()
    {
        var error = Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options() with { ConfigFile = _directory.Sub("nope.hocon") }));

        Assert.Contains("nope.hocon", error.Message);
    }

    [Fact]
    public void A_port_out_of_range_is_refused()
    {
        Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options() with { Port = 70000 }));
        Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options(new Dictionary<string, string?> { ["CLUSTER_PORT"] = "http" })));
    }

    public void Dispose() => _directory.Dispose();
}

/// <summary>
/// The one-machine default: the vios nodes of the README (<c>--data ./data/vios1</c>,
/// <c>--data ./data/vios2</c>, no <c>--shared-data</c>) get one cluster-wide journal.
/// </summary>
public sealed class SharedDirectoryDefaultSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    private DatabaseSettings ClusterDatabaseOf(string dataDirectory, string? shared = null) =>
        DatabaseSettings.ClusterFromConfig(NodeConfigBuilder.Build(new NodeOptions
        {
            DataDirectory = dataDirectory,
            SharedDirectory = shared,
            Environment = new Dictionary<string, string?>(),
        }));

    [Fact]
    public void The_readme_layout_gives_every_vios_node_the_same_cluster_wide_journal()
    {
        var data = _directory.Sub("data");
        var vios1 = ClusterDatabaseOf(Path.Combine(data, "vios1"));
        var vios2 = ClusterDatabaseOf(Path.Combine(data, "vios2") + Path.DirectorySeparatorChar);

        Assert.Equal(vios1, vios2);
        Assert.Equal($"sqlite {Path.Combine(data, "shared", "cluster-journal.db")}", vios1.Describe());
        // The node's own journal stays its own.
        Assert.NotEqual(
            DatabaseSettings.FromConfig(NodeConfigBuilder.Build(new NodeOptions { DataDirectory = Path.Combine(data, "vios1"), Environment = new Dictionary<string, string?>() })),
            DatabaseSettings.FromConfig(NodeConfigBuilder.Build(new NodeOptions { DataDirectory = Path.Combine(data, "vios2"), Environment = new Dictionary<string, string?>() })));
    }

    [Fact]
    public void Shared_data_given_wins_over_the_default()
    {
        var shared = _directory.Sub("elsewhere");
        Assert.Equal($"sqlite {Path.Combine(shared, "cluster-journal.db")}", ClusterDatabaseOf(_directory.Sub("data/vios1"), shared).Describe());
    }

    [Fact]
    public void The_control_plane_journal_has_its_own_files_beside_the_cluster_wide_ones_on_sqlite()
    {
        var shared = _directory.Sub("elsewhere");
        var config = NodeConfigBuilder.Build(new NodeOptions
        {
            DataDirectory = _directory.Sub("data/vios1"),
            SharedDirectory = shared,
            Environment = new Dictionary<string, string?>(),
        });

        var control = DatabaseSettings.ControlFromConfig(config);

        // Its own write lock: a large image written to cluster-journal.db never holds a manager's write.
        Assert.Equal($"sqlite {Path.Combine(shared, "control-journal.db")}", control.Describe());
        Assert.Equal($"sqlite {Path.Combine(shared, "control-snapshots.db")}", DatabaseSettings.Describe(DatabaseKind.Sqlite, control.SnapshotConnection));
    }

    [Fact]
    public void The_control_plane_journal_is_the_cluster_wide_database_on_postgres()
    {
        const string connection = "Host=db;Port=5432;Database=vios;Username=vios;Password=secret";
        var config = NodeConfigBuilder.Build(new NodeOptions
        {
            DataDirectory = _directory.Sub("data/vios1"),
            Database = DatabaseKind.Postgres,
            DatabaseConnection = connection,
            Environment = new Dictionary<string, string?>(),
        });

        Assert.Equal(DatabaseSettings.ClusterFromConfig(config), DatabaseSettings.ControlFromConfig(config));
        Assert.Equal(connection, DatabaseSettings.ControlFromConfig(config).JournalConnection);
    }

    [Fact]
    public void A_data_directory_at_the_root_keeps_its_shared_directory_inside() =>
        Assert.Equal(Path.Combine(Path.GetPathRoot(Path.GetTempPath())!, "shared"), NodeConfigBuilder.DefaultSharedDirectory(Path.GetPathRoot(Path.GetTempPath())!));

    public void Dispose() => _directory.Dispose();
}
