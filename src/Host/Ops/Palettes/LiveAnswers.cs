using Akka.Actor;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Host.Ops.Palettes;

/// <summary>A live source gave no answer within the budget; <paramref name="Reason"/> says which and how long.</summary>
internal sealed record NoLiveAnswer(string Reason);

/// <summary>Where an answer came from, for the operator and for <c>--json</c> (<c>source</c>, <c>stale</c>, <c>asOf</c>).</summary>
public sealed record AnswerOrigin(string Source, bool Stale, DateTimeOffset? AsOf, double? AgeSeconds, string? Reason)
{
    public const string ViewSource = "control view";

    public static AnswerOrigin Live(string source) => new(source, false, null, null, null);

    public static AnswerOrigin FromView(SourceAge age, DateTimeOffset now, string? liveProblem) =>
        new(ViewSource, true, age.AsOf, Math.Round(age.AgeSeconds, 1), age.Describe(now, liveProblem));

    /// <summary>The line a text answer from the view ends with; none for a live answer.</summary>
    public IEnumerable<string> Lines() => Stale ? [$"answered from this node's control view: {Reason}"] : [];
}

/// <summary>What a read of one partition got: the live reply, or what the view knows, or nothing.</summary>
internal sealed record PartitionRead(object? Live, PartitionKnown? Viewed, string? LiveProblem, string? Error, ControlPlaneView View, DateTimeOffset At);

/// <summary>
/// Issue 12, the control plane never goes blind: every read asks its live source within the node's
/// live-answer budget, and when the source does not answer in time, or the partition's node is
/// unreachable, downed or fenced as this node sees it, it answers at once from the node's control view.
/// </summary>
internal static class LiveAnswers
{
    /// <summary>The local control view answers in microseconds; more than this means the node itself is in trouble.</summary>
    private static readonly TimeSpan LocalViewTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>A live source is given at least this much, so that a slow start does not skip it altogether.</summary>
    private static readonly TimeSpan MinimumLiveWait = TimeSpan.FromMilliseconds(100);

    /// <summary>What is left of the node's live-answer budget for this command, counted from its start.</summary>
    public static TimeSpan Budget(CommandContext context)
    {
        var left = context.Node.Settings.Ops.LiveAnswerBudget - System.Diagnostics.Stopwatch.GetElapsedTime(context.Started);
        return left > MinimumLiveWait ? left : MinimumLiveWait;
    }

    /// <summary>
    /// Why the source that published <paramref name="age"/> is not worth asking: its node is impaired as
    /// this node sees it (the singleton is moving; its proxy would only buffer). Null when it may be asked.
    /// </summary>
    public static string? PublisherImpaired(SourceAge? age, DateTimeOffset now) =>
        age is { Publisher: { Impaired: true } publisher } ? $"the {age.Source} was not asked: {publisher.Describe(now)}" : null;

    /// <summary>
    /// For a command to a singleton: why it is not sent now, when the node that last published the
    /// singleton's state is impaired (the singleton is moving; its proxy would buffer the command
    /// until the handover). Null when it may be sent.
    /// </summary>
    public static string? SingletonMoving(SourceAge? published) =>
        published is { Publisher: { Impaired: true } publisher }
            ? $"not sent: the {published.Source} is moving to another node ({publisher.Describe(Now)}); it runs again on a live node within seconds, try again then"
            : null;

    public static DateTimeOffset Now => DateTimeOffset.UtcNow;

    public static async Task<ControlPlaneView> ViewAsync(CommandContext context)
    {
        if (context.Node.ControlView is not { } view) return ControlPlaneView.Empty;
        try
        {
            return await view.Ask<ControlPlaneView>(GetControlView.Instance, LocalViewTimeout, context.Cancellation);
        }
        catch (AskTimeoutException)
        {
            return ControlPlaneView.Empty;
        }
    }

    /// <summary>Asks <paramref name="target"/> and waits at most <paramref name="within"/>; no answer is a <see cref="NoLiveAnswer"/>.</summary>
    public static async Task<object> AskWithinAsync(CommandContext context, IActorRef? target, object message, TimeSpan within, string source)
    {
        if (target is null) return new NoLiveAnswer($"this node has no {source} proxy: it is a lighthouse; ask a vios node");
        if (within <= TimeSpan.Zero) return new NoLiveAnswer($"the {source} was not asked: the answer's budget was spent");
        try
        {
            return await target.Ask<object>(message, within, context.Cancellation);
        }
        catch (AskTimeoutException)
        {
            return new NoLiveAnswer($"the {source} did not answer within {within.TotalMilliseconds:0} ms");
        }
    }

    /// <summary>
    /// A read of one partition: from the view at once when its node is impaired, else from the
    /// partition manager within the budget, falling back to the view when it does not answer or
    /// reports the node unavailable.
    /// </summary>
    public static async Task<PartitionRead> ReadPartitionAsync(CommandContext context, ILparCommand command)
    {
        var view = await ViewAsync(context);
        var now = Now;
        var known = view.Partition(command.Name, now);
        if (known is PartitionKnown { NodeImpaired: true } impaired)
            return new PartitionRead(null, impaired, $"{impaired.Node.Node} was not asked", null, view, now);
        if (known is PartitionKnown { List: var age } && PublisherImpaired(age, now) is { } moving)
            return new PartitionRead(null, (PartitionKnown)known, moving, null, view, now);
        var reply = await AskWithinAsync(context, context.Node.PartitionManager, command, Budget(context), ControlPlaneView.PartitionManagerSource);
        var problem = reply switch
        {
            // The manager passes the command on: a busy node or its journal is as likely as the manager itself.
            NoLiveAnswer none when known is PartitionKnown { Node.Node: var node } =>
                $"{none.Reason.Replace("the partition manager did not answer", $"neither the partition manager nor {node} answered", StringComparison.Ordinal)}",
            NoLiveAnswer none => none.Reason,
            LparNodeUnavailable unavailable => unavailable.Reason,
            _ => null,
        };
        if (problem is null) return new PartitionRead(reply, null, null, null, view, now);
        // Look again: the view may have heard of the node or the failover while the manager was asked.
        view = await ViewAsync(context);
        now = Now;
        return view.Partition(command.Name, now) switch
        {
            PartitionKnown again when reply is LparNodeUnavailable u && again.Definition.Node == u.Node && !again.NodeImpaired =>
                new PartitionRead(null, again with { LastKnownState = u.LastKnownState }, problem, null, view, now),
            PartitionKnown again => new PartitionRead(null, again, problem, null, view, now),
            PartitionUnknown when reply is LparNodeUnavailable u => new PartitionRead(null, null, problem, u.Reason, view, now),
            PartitionUnknown unknown => new PartitionRead(null, null, problem, $"{problem}, and {unknown.Reason}", view, now),
            _ => throw new InvalidOperationException("a partition answer is known or unknown"),
        };
    }

    /// <summary>
    /// For a command that changes a partition: fails at once when its node is impaired as this node
    /// sees it, instead of waiting for a node that will not answer. Null when it may be sent.
    /// </summary>
    public static async Task<CommandOutcome?> RefuseOnImpairedNodeAsync(CommandContext context, string lpar, string? node = null)
    {
        var view = await ViewAsync(context);
        var now = Now;
        if (node is not null)
        {
            var reach = view.Node(node);
            return reach.Impaired ? CommandOutcome.Failed($"not sent: {reach.Describe(now)}") : null;
        }
        return view.Partition(lpar, now) is PartitionKnown { NodeImpaired: true } known
            ? CommandOutcome.Failed($"not sent: {known.Summary(now)}")
            : null;
    }

    /// <summary>A read the view cannot answer in full (checkpoint, WPAR counters): what is known, as the one error line.</summary>
    public static CommandOutcome Unanswered(PartitionRead read, string what)
    {
        if (read.Viewed is not { } known) return CommandOutcome.Failed($"{what}: {read.Error}");
        var origin = AnswerOrigin.FromView(known.List, read.At, read.LiveProblem);
        return CommandOutcome.Failed($"{what}: no live answer; {known.Summary(read.At)} ({origin.Reason})");
    }
}
