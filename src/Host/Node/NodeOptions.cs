using Vios.Persistence.Database;

namespace Vios.Host.Node;

public enum NodeRole
{
    /// <summary>Seed only: joins the cluster and keeps it reachable, hosts no domain actors.</summary>
    Lighthouse,

    /// <summary>A VIOS node: hosts daemons, partitions and the cluster singletons.</summary>
    Vios,
}

/// <summary>
/// What `vios node` was asked for on its command line. A null field was not given and leaves the
/// value to the layers below (environment, --config, the hocon/ files).
/// </summary>
public sealed record NodeOptions
{
    public NodeRole Role { get; init; } = NodeRole.Vios;
    public string? Host { get; init; }
    public int? Port { get; init; }
    public IReadOnlyList<string>? Seeds { get; init; }
    public string? DataDirectory { get; init; }

    /// <summary>
    /// The directory every vios node of this machine shares: cluster-wide state on SQLite
    /// (the singletons' journal). Null means <c>shared</c> beside the data directory
    /// (<see cref="NodeConfigBuilder.DefaultSharedDirectory"/>), which nodes under one parent share.
    /// </summary>
    public string? SharedDirectory { get; init; }
    public string? OpsHost { get; init; }
    public int? OpsPort { get; init; }
    public string? OpsToken { get; init; }

    /// <summary><c>--ops-token-file</c>: a file holding the token, so that it is not on the command line.</summary>
    public string? OpsTokenFile { get; init; }
    public string? ConfigFile { get; init; }
    public DatabaseKind Database { get; init; } = DatabaseKind.Sqlite;
    public string? DatabaseConnection { get; init; }
    public string? LogLevel { get; init; }
    public string? Name { get; init; }

    /// <summary>Where vios.hocon and persistence.*.hocon are read from; next to the binary by default.</summary>
    public string HoconDirectory { get; init; } = Path.Combine(AppContext.BaseDirectory, "hocon");

    /// <summary>The process environment; tests pass their own so they never depend on the machine's.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = ProcessEnvironment();

    public static IReadOnlyDictionary<string, string?> ProcessEnvironment() =>
        System.Environment.GetEnvironmentVariables()
            .Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
}

/// <summary>The node cannot start; <see cref="Exception.Message"/> is the one line the operator reads.</summary>
public sealed class NodeStartupException(string message, Exception? inner = null) : Exception(message, inner);
