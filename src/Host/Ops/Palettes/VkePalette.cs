using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Vios.Actors.Cluster;
using Vios.Actors.Cluster.Daemons;
using Vios.Actors.Protocol;

namespace Vios.Host.Ops.Palettes;

/// <summary>The <c>vke</c> palette (S1): send through this node's VKE as a daemon would, and read every VKE's counters.</summary>
public static class VkePalette
{
    private static readonly TimeSpan ViewTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    private static readonly OptionSpec Daemon = new("daemon", null, "the receiving daemon (echo, stats, ...)", "DAEMON");
    private static readonly OptionSpec Payload = new("payload", null, "the payload, as text", "TEXT");
    private static readonly OptionSpec Response = new("response", null, "require a response and wait for it");
    private static readonly OptionSpec Timeout = new("timeout", null, "response timeout in milliseconds (default 5000)", "MS");

    public static OpsPalette Palette { get; } = new("vke", "the VIOS message protocol through this node's VKE",
    [
        new(new CommandSpec("send", "send a message to one node's daemon")
        {
            Options = [new OptionSpec("node", null, "the receiving node: host:port, its address, or its node id", "NODE"), Daemon, Payload, Response, Timeout],
        }, SendAsync),
        new(new CommandSpec("broadcast", "send a message to that daemon on every vios node that is up")
        {
            Options = [Daemon, Payload, Response, Timeout],
        }, BroadcastAsync),
        new(new CommandSpec("stats", "every VKE's counters, collected with a broadcast to the stats daemons"), StatsAsync),
    ]);

    private static async Task<CommandOutcome> SendAsync(CommandContext context)
    {
        if (Required(context, "node", "daemon", "payload") is { } missing) return missing;
        if (Vke(context) is not { } vke) return NoVke;
        if (ParseTimeout(context) is not { } timeout) return CommandOutcome.BadUsage("--timeout needs a number of milliseconds from 1 to 3600000");

        var view = await vke.Ask<KClusterView>(GetKClusterView.Instance, ViewTimeout, context.Cancellation);
        if (view.Find(context.Arg("node")!) is not { } node)
            return CommandOutcome.Failed($"'{context.Arg("node")}' is not a vios node that is up; known: {string.Join(", ", view.Nodes.Select(n => n.Address))}");

        var responseRequired = context.Args.ContainsKey("response");
        var payload = Encoding.UTF8.GetBytes(context.Arg("payload")!);
        var outcome = await OneShotSender.SendAsync(context.Node.System, vke,
            (self, daemon) => Frames.Send(self, node.NodeId, daemon, context.Arg("daemon")!, payload, responseRequired, responseRequired ? timeout : null),
            timeout + ViewTimeout);
        return await ReportAsync(context, outcome, context.Arg("daemon")!);
    }

    private static async Task<CommandOutcome> BroadcastAsync(CommandContext context)
    {
        if (Required(context, "daemon", "payload") is { } missing) return missing;
        if (Vke(context) is not { } vke) return NoVke;
        if (ParseTimeout(context) is not { } timeout) return CommandOutcome.BadUsage("--timeout needs a number of milliseconds from 1 to 3600000");

        var responseRequired = context.Args.ContainsKey("response");
        var payload = Encoding.UTF8.GetBytes(context.Arg("payload")!);
        var outcome = await OneShotSender.SendAsync(context.Node.System, vke,
            (self, daemon) => Frames.Broadcast(self, daemon, context.Arg("daemon")!, payload, responseRequired, responseRequired ? timeout : null),
            timeout + ViewTimeout);
        return await ReportAsync(context, outcome, context.Arg("daemon")!);
    }

    private static async Task<CommandOutcome> StatsAsync(CommandContext context)
    {
        if (Vke(context) is not { } vke) return NoVke;
        // Issue 12: a node that does not answer within what is left of the live-answer budget is listed as missing, not waited for.
        // The wire carries whole milliseconds.
        var budget = TimeSpan.FromMilliseconds(Math.Floor(LiveAnswers.Budget(context).TotalMilliseconds));
        var outcome = await OneShotSender.SendAsync(context.Node.System, vke,
            (self, daemon) => Frames.Broadcast(self, daemon, StatsDaemon.Id, ReadOnlyMemory<byte>.Empty, responseRequired: true, budget),
            budget + ViewTimeout);
        if (outcome.Reply is not ResponsesCollected collected) return Refused(outcome.Reply);

        var stats = collected.Responses.Where(r => !r.IsError)
            .Select(r => JsonSerializer.Deserialize(r.Payload, VkeJsonContext.Default.VkeStats)!)
            .OrderBy(s => s.Node.Address)
            .ToList();
        var view = new VkeStatsView(stats, collected.Missing.Select(m => m.Address).ToList());
        await context.WriteAsync(view, VkeOpsJsonContext.Default.VkeStatsView, v => v.Lines());
        return view.Missing.Count == 0 ? CommandOutcome.Success : CommandOutcome.Failed($"no counters from {string.Join(", ", view.Missing)}");
    }

    private static async Task<CommandOutcome> ReportAsync(CommandContext context, SendOutcome outcome, string daemon)
    {
        switch (outcome.Reply)
        {
            case PacketSent sent:
                await context.WriteAsync(new VkeSendView($"{sent.MessageId:x}", daemon, sent.Targets.Count, Rounded(outcome.RoundTrip), [], []),
                    VkeOpsJsonContext.Default.VkeSendView, v => v.Lines());
                return CommandOutcome.Success;
            case ResponsesCollected collected:
                var view = new VkeSendView($"{collected.MessageId:x}", daemon, collected.Responses.Count + collected.Missing.Count,
                    Rounded(outcome.RoundTrip),
                    collected.Responses.Select(r => new VkeResponseView(r.Node.Address, r.IsError ? "error" : "response", Encoding.UTF8.GetString(r.Payload))).ToList(),
                    collected.Missing.Select(m => m.Address).ToList());
                await context.WriteAsync(view, VkeOpsJsonContext.Default.VkeSendView, v => v.Lines());
                return view.Missing.Count == 0 && view.Responses.All(r => r.Kind == "response")
                    ? CommandOutcome.Success
                    : CommandOutcome.Failed($"{view.Responses.Count(r => r.Kind == "response")} of {view.Nodes} nodes answered");
            default:
                return Refused(outcome.Reply);
        }
    }

    private static CommandOutcome Refused(object reply) => reply switch
    {
        PacketRefused refused => CommandOutcome.Failed($"the VKE refused the packet: {refused.Reason}"),
        DaemonRefused refused => CommandOutcome.Failed($"the VKE refused the sending daemon: {refused.Reason}"),
        _ => CommandOutcome.Failed($"unexpected reply {reply.GetType().Name}"),
    };

    private static CommandOutcome NoVke { get; } = CommandOutcome.Failed("this node has no VKE: it is a lighthouse; ask a vios node");

    private static IActorRef? Vke(CommandContext context) => context.Node.Vke;

    private static CommandOutcome? Required(CommandContext context, params string[] options) =>
        options.FirstOrDefault(o => string.IsNullOrEmpty(context.Arg(o))) is { } missing
            ? CommandOutcome.BadUsage($"'{missing}' is required: --{missing} {missing.ToUpperInvariant()}")
            : null;

    private static TimeSpan? ParseTimeout(CommandContext context) =>
        context.Arg("timeout") is not { } text ? DefaultTimeout
        : int.TryParse(text, out var ms) && ms is >= 1 and <= 3_600_000 ? TimeSpan.FromMilliseconds(ms)
        : null;

    private static double Rounded(TimeSpan time) => Math.Round(time.TotalMilliseconds, 2);
}

public sealed record VkeResponseView(string Node, string Kind, string Payload);

/// <summary>One send or broadcast: who answered, with what, who did not, and the round trip.</summary>
public sealed record VkeSendView(
    string MessageId, string Daemon, int Nodes, double RoundTripMs, IReadOnlyList<VkeResponseView> Responses, IReadOnlyList<string> Missing)
{
    public IEnumerable<string> Lines()
    {
        yield return Responses.Count == 0 && Missing.Count == 0
            ? $"sent {MessageId} to {Daemon} on {Nodes} {(Nodes == 1 ? "node" : "nodes")}"
            : $"{MessageId} to {Daemon}: {Responses.Count} of {Nodes} answered in {RoundTripMs:0.##} ms";
        foreach (var response in Responses) yield return $"{response.Node} | {response.Kind} | {response.Payload}";
        foreach (var node in Missing) yield return $"{node} | missing |";
    }
}

/// <summary>Each VKE's counters, one line per node, and the nodes whose stats daemon did not answer.</summary>
public sealed record VkeStatsView(IReadOnlyList<VkeStats> Nodes, IReadOnlyList<string> Missing)
{
    public IEnumerable<string> Lines()
    {
        yield return "node | id | sent | received | broadcasts | matched | timed out | malformed | unknown daemon";
        foreach (var s in Nodes)
            yield return $"{s.Node.Address} | {s.Node.NodeId:x} | {s.Sent} | {s.Received} | {s.Broadcasts} | {s.ResponsesMatched} | {s.TimedOut} | {s.Malformed} | {s.UnknownDaemon}";
        foreach (var node in Missing) yield return $"{node} | missing |";
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(VkeSendView))]
[JsonSerializable(typeof(VkeStatsView))]
internal sealed partial class VkeOpsJsonContext : JsonSerializerContext;
