using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Vios.Host.Ops;
using Vios.Persistence.Database;

namespace Vios.Host.Node;

/// <summary>
/// Composes a node's HOCON, later layers winning: <c>vios.hocon</c>, then the persistence file for
/// <c>--db</c>, then the defaults derived from <c>--data</c>, then <c>--config FILE</c>, then the
/// Lighthouse environment variables (<c>CLUSTER_IP</c>, <c>CLUSTER_PORT</c>, <c>CLUSTER_SEEDS</c>),
/// then the command-line flags.
/// </summary>
public static class NodeConfigBuilder
{
    public const string SystemName = "vios";
    public const string DefaultDataDirectory = "vios-data";

    /// <summary>Port a lighthouse listens on unless told otherwise, as petabridge/lighthouse does.</summary>
    public const int LighthouseDefaultPort = 4053;

    public static Config Build(NodeOptions options)
    {
        var baseLayer = LoadFile(Path.Combine(options.HoconDirectory, "vios.hocon"), "hocon/vios.hocon");
        var persistenceLayer = LoadFile(
            Path.Combine(options.HoconDirectory, DatabaseSettings.HoconFileName(options.Database)),
            $"hocon/{DatabaseSettings.HoconFileName(options.Database)}");
        var userLayer = options.ConfigFile is null ? Config.Empty : LoadFile(options.ConfigFile, "--config");

        var dataDirectory = Path.GetFullPath(
            options.DataDirectory
            ?? NonEmpty(userLayer.GetString("vios.node.data-directory", ""))
            ?? DefaultDataDirectory);
        var sharedDirectory = Path.GetFullPath(
            options.SharedDirectory
            ?? NonEmpty(userLayer.GetString("vios.node.shared-directory", ""))
            ?? DefaultSharedDirectory(dataDirectory));
        var derived = DerivedDefaults(options, dataDirectory, sharedDirectory);

        return FlagLayer(options, dataDirectory, sharedDirectory)
            .WithFallback(EnvironmentLayer(options.Environment))
            .WithFallback(userLayer)
            .WithFallback(derived)
            .WithFallback(persistenceLayer)
            .WithFallback(baseLayer)
            .WithFallback(SqlPersistence.DefaultConfiguration);
    }

    /// <summary>
    /// Where cluster-wide state lives on SQLite unless <c>--shared-data</c> says: <c>shared</c> beside
    /// the data directory, so the nodes of one machine started as the README starts them
    /// (<c>--data ./data/vios1</c>, <c>--data ./data/vios2</c>) share <c>./data/shared</c> and one
    /// cluster-wide journal. A default inside each data directory gave every node its own journal,
    /// and a singleton that moved recovered an empty state.
    /// </summary>
    public static string DefaultSharedDirectory(string dataDirectory)
    {
        var data = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDirectory));
        return Path.GetDirectoryName(data) is { Length: > 0 } parent ? Path.Combine(parent, SharedDirectoryName) : Path.Combine(data, SharedDirectoryName);
    }

    public const string SharedDirectoryName = "shared";

    /// <summary>Reads a seed as a full address (akka.tcp://vios@host:port) or as host:port.</summary>
    public static Address ParseSeed(string seed)
    {
        var text = seed.Trim();
        if (!text.Contains("://", StringComparison.Ordinal)) text = $"akka.tcp://{SystemName}@{text}";
        Address address;
        try
        {
            address = Address.Parse(text);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            throw new NodeStartupException($"seed '{seed}' is not an address (expected host:port or akka.tcp://vios@host:port)", e);
        }
        if (address.Host is null || address.Port is null or <= 0)
            throw new NodeStartupException($"seed '{seed}' has no host and port");
        if (address.System != SystemName)
            throw new NodeStartupException($"seed '{seed}' names actor system '{address.System}'; vios nodes form the system '{SystemName}'");
        return address;
    }

    private static Config DerivedDefaults(NodeOptions options, string dataDirectory, string sharedDirectory)
    {
        var layer = ConfigurationFactory.ParseString($$"""
            vios.node.data-directory = {{Quote(dataDirectory)}}
            vios.node.shared-directory = {{Quote(sharedDirectory)}}
            vios.log.file = {{Quote(Path.Combine(dataDirectory, "logs", "vios-node.log"))}}
            akka.remote.dot-netty.tcp.port = {{(options.Role == NodeRole.Lighthouse ? LighthouseDefaultPort : 0)}}
            """);
        return options.Database == DatabaseKind.Sqlite
            ? layer.WithFallback(DatabaseSettings.SqliteUnder(dataDirectory).ToConfig())
                .WithFallback(DatabaseSettings.SqliteShared(sharedDirectory).ToClusterConfig())
                .WithFallback(DatabaseSettings.SqliteControl(sharedDirectory).ToControlConfig())
            : layer;
    }

    private static Config EnvironmentLayer(IReadOnlyDictionary<string, string?> environment)
    {
        var lines = new List<string>();
        if (NonEmpty(environment.GetValueOrDefault("CLUSTER_IP")) is { } ip)
        {
            lines.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(ip)}");
            lines.Add($"akka.remote.dot-netty.tcp.public-hostname = {Quote(ip)}");
        }
        if (NonEmpty(environment.GetValueOrDefault("CLUSTER_PORT")) is { } port)
            lines.Add($"akka.remote.dot-netty.tcp.port = {ParsePort(port, "CLUSTER_PORT")}");
        if (NonEmpty(environment.GetValueOrDefault("CLUSTER_SEEDS")) is { } seeds)
            lines.Add($"akka.cluster.seed-nodes = {SeedList(seeds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}");
        return ConfigurationFactory.ParseString(string.Join('\n', lines));
    }

    private static Config FlagLayer(NodeOptions options, string dataDirectory, string sharedDirectory)
    {
        var lines = new List<string>
        {
            $"akka.cluster.roles = [{(options.Role == NodeRole.Lighthouse ? "lighthouse" : "vios")}]",
            $"vios.node.data-directory = {Quote(dataDirectory)}",
            $"vios.node.shared-directory = {Quote(sharedDirectory)}",
        };
        if (options.Host is { } host)
        {
            lines.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(host)}");
            lines.Add($"akka.remote.dot-netty.tcp.public-hostname = {Quote(host)}");
        }
        if (options.Port is { } port) lines.Add($"akka.remote.dot-netty.tcp.port = {CheckPort(port, "--port")}");
        if (options.Seeds is { Count: > 0 } seeds) lines.Add($"akka.cluster.seed-nodes = {SeedList(seeds)}");
        if (options.OpsHost is { } opsHost) lines.Add($"vios.ops.host = {Quote(opsHost)}");
        if (options.OpsPort is { } opsPort) lines.Add($"vios.ops.port = {CheckPort(opsPort, "--ops-port")}");
        var (token, tokenProblem) = OpsTokenSource.Resolve(options.OpsToken, options.OpsTokenFile,
            options.Environment.GetValueOrDefault(OpsProtocol.TokenVariable), "--ops-token", "--ops-token-file");
        if (tokenProblem is not null) throw new NodeStartupException(tokenProblem);
        if (token is not null) lines.Add($"vios.ops.token = {Quote(token)}");
        if (options.Name is { } name) lines.Add($"vios.node.name = {Quote(name)}");
        if (options.LogLevel is { } level) lines.Add($"vios.log.console-level = {Quote(level)}");
        var flags = ConfigurationFactory.ParseString(string.Join('\n', lines));
        if (options.DatabaseConnection is not { } connection) return flags;
        var database = new DatabaseSettings(options.Database, connection, connection);
        // One connection for everything: a PostgreSQL database holds node and cluster-wide state side by side.
        return flags.WithFallback(database.ToConfig()).WithFallback(database.ToClusterConfig()).WithFallback(database.ToControlConfig());
    }

    private static string SeedList(IEnumerable<string> seeds) =>
        "[" + string.Join(", ", seeds.Select(s => Quote(ParseSeed(s).ToString()))) + "]";

    private static Config LoadFile(string path, string what)
    {
        if (!File.Exists(path)) throw new NodeStartupException($"{what}: file not found: {path}");
        var text = File.ReadAllText(path);
        if (HoconStructure.FindError(text) is { } structureError)
            throw new NodeStartupException($"{what}: {path} is not valid HOCON: {structureError}");
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new NodeStartupException($"{what}: {path} is not valid HOCON: {e.Message.Split('\n')[0]}", e);
        }
    }

    private static int ParsePort(string text, string what) =>
        int.TryParse(text, out var port) ? CheckPort(port, what) : throw new NodeStartupException($"{what} '{text}' is not a port number");

    private static int CheckPort(int port, string what) =>
        port is >= 0 and <= 65535 ? port : throw new NodeStartupException($"{what} {port} is outside 0..65535");

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
