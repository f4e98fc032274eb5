using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Vios.Persistence.Database;

public enum DatabaseKind
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Where the journal and snapshot store live, read once from the composed HOCON
/// (<c>akka.persistence.journal.sql</c> and <c>akka.persistence.snapshot-store.sql</c>).
/// </summary>
public sealed record DatabaseSettings(DatabaseKind Kind, string JournalConnection, string SnapshotConnection)
{
    public const string JournalPath = "akka.persistence.journal.sql";
    public const string SnapshotPath = "akka.persistence.snapshot-store.sql";
    public const string QueryPath = "akka.persistence.query.journal.sql";

    /// <summary>
    /// The plugins of cluster-wide state (the singletons: partition manager, HA manager; partition
    /// images): one database that every vios node reaches, so a singleton that moves recovers there.
    /// </summary>
    public const string ClusterJournalPath = "vios.persistence.cluster.journal";
    public const string ClusterSnapshotPath = "vios.persistence.cluster.snapshot-store";

    /// <summary>
    /// The control plane's plugins (partition manager, HA manager): cluster-wide like the images'
    /// but their own, so a large image never holds a manager's write.
    /// </summary>
    public const string ControlJournalPath = "vios.persistence.control.journal";
    public const string ControlSnapshotPath = "vios.persistence.control.snapshot-store";

    public const string ControlJournalFile = "control-journal.db";
    public const string ControlSnapshotFile = "control-snapshots.db";

    public static string HoconFileName(DatabaseKind kind) => kind switch
    {
        DatabaseKind.Sqlite => "persistence.sqlite.hocon",
        DatabaseKind.Postgres => "persistence.postgres.hocon",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>The embedded default: one SQLite file for the journal, another for snapshots.</summary>
    public static DatabaseSettings SqliteUnder(string dataDirectory)
    {
        var directory = Path.GetFullPath(dataDirectory);
        return new DatabaseSettings(
            DatabaseKind.Sqlite,
            SqliteConnection(Path.Combine(directory, "journal.db")),
            SqliteConnection(Path.Combine(directory, "snapshots.db")));
    }

    /// <summary>
    /// Cluster-wide state on SQLite: files in the directory every vios node of this machine shares
    /// (<c>--shared-data</c>). Nodes on several machines share a PostgreSQL database instead.
    /// </summary>
    public static DatabaseSettings SqliteShared(string sharedDirectory)
    {
        var directory = Path.GetFullPath(sharedDirectory);
        return new DatabaseSettings(
            DatabaseKind.Sqlite,
            SqliteConnection(Path.Combine(directory, "cluster-journal.db")),
            SqliteConnection(Path.Combine(directory, "cluster-snapshots.db")));
    }

    /// <summary>The control plane's SQLite files, beside the cluster-wide ones in the shared directory: their own write lock.</summary>
    public static DatabaseSettings SqliteControl(string sharedDirectory)
    {
        var directory = Path.GetFullPath(sharedDirectory);
        return new DatabaseSettings(
            DatabaseKind.Sqlite,
            SqliteConnection(Path.Combine(directory, ControlJournalFile)),
            SqliteConnection(Path.Combine(directory, ControlSnapshotFile)));
    }

    /// <summary>Connection string for a SQLite file; waits for the write lock instead of failing with SQLITE_BUSY.</summary>
    public static string SqliteConnection(string file) =>
        $"Data Source={file};Mode=ReadWriteCreate;Pooling=True;Default Timeout=30";

    public static DatabaseSettings FromConfig(Config config)
    {
        var provider = config.GetString($"{JournalPath}.provider-name", "");
        var kind = provider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase)
            ? DatabaseKind.Postgres
            : provider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase)
                ? DatabaseKind.Sqlite
                : throw new DatabaseUnavailableException(
                    $"unsupported journal provider-name '{provider}' (expected SQLite.MS or PostgreSQL.15)");
        var journal = config.GetString($"{JournalPath}.connection-string", "");
        var snapshots = config.GetString($"{SnapshotPath}.connection-string", "");
        if (string.IsNullOrWhiteSpace(journal))
            throw new DatabaseUnavailableException($"no connection string for the journal ({JournalPath}.connection-string)");
        return new DatabaseSettings(kind, journal, string.IsNullOrWhiteSpace(snapshots) ? journal : snapshots);
    }

    /// <summary>
    /// The database of cluster-wide state: the cluster plugins' connection strings, or else the node's
    /// own database (a PostgreSQL deployment gives one connection for both).
    /// </summary>
    public static DatabaseSettings ClusterFromConfig(Config config)
    {
        var node = FromConfig(config);
        var journal = config.GetString($"{ClusterJournalPath}.connection-string", "");
        var snapshots = config.GetString($"{ClusterSnapshotPath}.connection-string", "");
        return string.IsNullOrWhiteSpace(journal)
            ? node
            : new DatabaseSettings(node.Kind, journal, string.IsNullOrWhiteSpace(snapshots) ? journal : snapshots);
    }

    /// <summary>
    /// The database of the control plane: the control plugins' connection strings, or else beside the
    /// cluster-wide state: on SQLite its own files in the same directory (its own write lock), on
    /// PostgreSQL the same database (its own plugin, so its own write streams and connections).
    /// </summary>
    public static DatabaseSettings ControlFromConfig(Config config)
    {
        var cluster = ClusterFromConfig(config);
        var journal = config.GetString($"{ControlJournalPath}.connection-string", "");
        var snapshots = config.GetString($"{ControlSnapshotPath}.connection-string", "");
        if (!string.IsNullOrWhiteSpace(journal))
            return new DatabaseSettings(cluster.Kind, journal, string.IsNullOrWhiteSpace(snapshots) ? journal : snapshots);
        return cluster.Kind != DatabaseKind.Sqlite
            ? cluster
            : SqliteControl(Path.GetDirectoryName(Path.GetFullPath(new SqliteConnectionStringBuilder(cluster.JournalConnection).DataSource))!);
    }

    /// <summary>The HOCON layer that points the control plane's journal and snapshot store at this database.</summary>
    public Config ToControlConfig() => ConfigurationFactory.ParseString($"""
        {ControlJournalPath}.connection-string = {Quote(JournalConnection)}
        {ControlSnapshotPath}.connection-string = {Quote(SnapshotConnection)}
        """);

    /// <summary>The HOCON layer that points the cluster-wide journal and snapshot store at this database.</summary>
    public Config ToClusterConfig() => ConfigurationFactory.ParseString($"""
        {ClusterJournalPath}.connection-string = {Quote(JournalConnection)}
        {ClusterSnapshotPath}.connection-string = {Quote(SnapshotConnection)}
        """);

    /// <summary>The HOCON layer that points the journal, its read journal and the snapshot store at this database.</summary>
    public Config ToConfig() => ConfigurationFactory.ParseString($"""
        {JournalPath}.connection-string = {Quote(JournalConnection)}
        {QueryPath}.connection-string = {Quote(JournalConnection)}
        {SnapshotPath}.connection-string = {Quote(SnapshotConnection)}
        """);

    /// <summary>Where a database is, for log lines and errors: the SQLite file, or host:port/database.</summary>
    public static string Describe(DatabaseKind kind, string connectionString) => kind switch
    {
        DatabaseKind.Sqlite => $"sqlite {new SqliteConnectionStringBuilder(connectionString).DataSource}",
        _ => $"postgres {DescribePostgres(connectionString)}",
    };

    private static string DescribePostgres(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"{b.Host}:{b.Port}/{b.Database}";
        }
        catch (ArgumentException)
        {
            return DatabaseSettings.Redact(connectionString);
        }
    }

    /// <summary>Where the journal is, for log lines.</summary>
    public string Describe() => Describe(Kind, JournalConnection);

    /// <summary>A connection string without its password, for log lines and error messages.</summary>
    public static string Redact(string connectionString) =>
        string.Join(';', connectionString.Split(';')
            .Where(part => part.Length > 0)
            .Select(part => part.Split('=', 2) is [var key, _] && key.Trim().Equals("Password", StringComparison.OrdinalIgnoreCase)
                ? $"{key}=***"
                : part));

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}

/// <summary>The journal database cannot be reached or opened; the node must not start.</summary>
public sealed class DatabaseUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
