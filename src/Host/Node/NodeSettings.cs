using System.Net;
using Akka.Configuration;
using Vios.Actors;

namespace Vios.Host.Node;

/// <summary>
/// The ops endpoint a node serves to `vios ctl`.
/// </summary>
public sealed record OpsSettings(string Host, int Port, string? Token)
{
    public static readonly TimeSpan DefaultLiveAnswerBudget = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a read waits for its live source (a singleton, a partition's node) before it answers
    /// from the node's control view (issue 12: every command answers within a second).
    /// </summary>
    public TimeSpan LiveAnswerBudget { get; init; } = DefaultLiveAnswerBudget;

    /// <summary>Bound to anything but loopback, the endpoint only answers requests that carry the token.</summary>
    public bool RequiresToken => !IsLoopback(Host);

    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}

/// <summary>Typed view of the <c>vios { ... }</c> section, read once when the node starts.</summary>
public sealed record NodeSettings(
    NodeRole Role,
    string DataDirectory,
    string? ConfiguredName,
    OpsSettings Ops,
    string ConsoleLogLevel,
    string LogFile,
    IReadOnlyList<string> SeedNodes)
{
    /// <summary><c>vios.node.identity-announce-retry</c>: how long a cluster identity announcement waits for its answer before it is sent again.</summary>
    public TimeSpan IdentityAnnounceRetry { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary><c>vios.node.shared-directory</c>: where cluster-wide state lives on SQLite.</summary>
    public string SharedDirectory { get; init; } = "";

    /// <summary><c>vios.node.kill-downed-local-processes</c>: <c>auto</c>, <c>on</c> or <c>off</c> (see <see cref="LocalProcessFence"/>).</summary>
    public string KillDownedLocalProcesses { get; init; } = "auto";

    public static NodeSettings FromConfig(Config config)
    {
        var roles = config.GetStringList("akka.cluster.roles");
        var role = roles.Contains("lighthouse") ? NodeRole.Lighthouse : NodeRole.Vios;
        var token = config.GetString("vios.ops.token", "");
        var ops = new OpsSettings(
            config.GetString("vios.ops.host", "127.0.0.1"),
            config.GetInt("vios.ops.port", 9110),
            string.IsNullOrEmpty(token) ? null : token)
        {
            LiveAnswerBudget = config.Duration("vios.ops.live-answer-budget", OpsSettings.DefaultLiveAnswerBudget),
        };
        var name = config.GetString("vios.node.name", "");
        return new NodeSettings(
            role,
            config.GetString("vios.node.data-directory"),
            string.IsNullOrWhiteSpace(name) ? null : name,
            ops,
            config.GetString("vios.log.console-level", "INFO"),
            config.GetString("vios.log.file", ""),
            config.GetStringList("akka.cluster.seed-nodes").ToList())
        {
            IdentityAnnounceRetry = config.Duration("vios.node.identity-announce-retry", TimeSpan.FromSeconds(1)),
            SharedDirectory = config.GetString("vios.node.shared-directory", ""),
            KillDownedLocalProcesses = config.GetString("vios.node.kill-downed-local-processes", "auto") is var kill && kill is "auto" or "on" or "off"
                ? kill
                : throw new ConfigurationException($"vios.node.kill-downed-local-processes must be auto, on or off; got '{kill}'"),
        };
    }
}
