using System.Globalization;
using System.Text.Json.Serialization;
using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// The <c>ha</c> palette: each partition's standby mode, failover nodes, last image and recent
/// failures (S5, S17), one partition's failure history, its availability requirement, and a drill
/// that silences a guest's heartbeat agent (S16).
/// </summary>
public static class HaPalette
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    private static readonly ArgumentSpec Name = new("name", "NAME", "the partition");

    public static OpsPalette Palette { get; } = new("ha", "availability: standby modes, failures and failover requirements",
    [
        new(new CommandSpec("status", "each partition's standby mode, nodes, last image and failures within the window"), StatusAsync),
        new(new CommandSpec("failures", "a partition's failures: when, where, which image it came back from and how long it took") { Arguments = [Name] },
            FailuresAsync),
        new(new CommandSpec("policy", "set a partition's availability requirement; the HA manager picks hot or cold standby for it")
        {
            Arguments = [Name],
            Options =
            [
                new OptionSpec("max-recovery", null, "the longest a failover may take, in seconds", "S"),
                new OptionSpec("full-performance", null, "the partition must run at full performance during failover (a hot replica)"),
            ],
        }, PolicyAsync),
        new(new CommandSpec("silence", "drill: the partition's guest agent stops heartbeating, as a hung guest would (--resume starts it again)")
        {
            Arguments = [Name],
            Options = [new OptionSpec("resume", null, "heartbeat again")],
        }, SilenceAsync),
    ]);

    private static async Task<object> AskHaAsync(CommandContext context, object message)
    {
        if (context.Node.HaManager is not { } ha)
            return new HaRefused("", "this node has no HA manager proxy: it is a lighthouse; ask a vios node");
        var view = await LiveAnswers.ViewAsync(context);
        if (LiveAnswers.SingletonMoving(view.AvailabilityAge(LiveAnswers.Now)) is { } moving) return new HaRefused("", moving);
        try
        {
            return await ha.Ask<object>(message, AskTimeout, context.Cancellation);
        }
        catch (AskTimeoutException)
        {
            return new HaRefused("", $"the HA manager did not answer within {AskTimeout.TotalSeconds:0} s (is the cluster up, with a vios node?)");
        }
    }

    /// <summary>Asks a singleton within the budget, unless the view finds its node impaired: then its proxy would only buffer.</summary>
    private static Task<object> Ask(CommandContext context, SourceAge? published, IActorRef? target, object message, string source) =>
        LiveAnswers.PublisherImpaired(published, LiveAnswers.Now) is { } moving
            ? Task.FromResult<object>(new NoLiveAnswer(moving))
            : LiveAnswers.AskWithinAsync(context, target, message, LiveAnswers.Budget(context), source);

    private static CommandOutcome Refused(object reply) => reply is HaRefused refused
        ? CommandOutcome.Failed(refused.Reason)
        : PartitionManagerClient.Refused(reply);

    private static async Task<CommandOutcome> StatusAsync(CommandContext context)
    {
        // Both sources at once, within one budget for the whole answer; what does not answer in time comes from the view.
        var deadline = DateTimeOffset.UtcNow + LiveAnswers.Budget(context);
        var before = await LiveAnswers.ViewAsync(context);
        var haReply = Ask(context, before.AvailabilityAge(LiveAnswers.Now), context.Node.HaManager, GetHaStatus.Instance, ControlPlaneView.HaManagerSource);
        var listReply = Ask(context, before.PartitionsAge(LiveAnswers.Now), context.Node.PartitionManager, ListLpars.Instance, ControlPlaneView.PartitionManagerSource);
        var (reply, listed) = (await haReply, await listReply);
        var known = await LiveAnswers.ViewAsync(context);
        var now = LiveAnswers.Now;
        HaStatus status;
        AnswerOrigin origin;
        switch (reply)
        {
            case HaStatus live:
                (status, origin) = (live, AnswerOrigin.Live(ControlPlaneView.HaManagerSource));
                break;
            case NoLiveAnswer none when known.Availability is { } last:
                (status, origin) = (last.Value, AnswerOrigin.FromView(known.AvailabilityAge(now)!, now, none.Reason));
                break;
            case NoLiveAnswer none:
                return CommandOutcome.Failed($"{none.Reason}, and this node has not received an HA status yet");
            default:
                return Refused(reply);
        }
        var list = listed as LparList ?? known.Partitions?.Value;
        var images = await Task.WhenAll(status.Records.Select(r => LastImageAsync(context, r, r.Standby?.Mode ?? StandbyMode.Cold, list, deadline, known)));
        var rows = new List<HaLparView>();
        foreach (var (record, lastImage) in status.Records.Zip(images))
        {
            var summary = list?.Lpars.FirstOrDefault(l => l.Definition.Name == record.Lpar);
            var mode = record.Standby?.Mode ?? StandbyMode.Cold;
            var node = summary?.Definition.Node ?? record.Node;
            var reach = known.Node(node);
            rows.Add(new HaLparView(
                record.Lpar,
                node,
                summary is null ? "unknown" : PartitionManagerClient.Lower(summary.State),
                PartitionManagerClient.Lower(mode),
                record.Standby?.ReplicaNode,
                record.ConsistencyNode,
                record.BootNode,
                record.Requirement?.MaxRecovery.TotalSeconds,
                record.Requirement?.FullPerformance ?? false,
                record.Standby?.Reason,
                lastImage,
                record.Failures.Count(f => now - f.At <= status.Window))
            {
                NodeCondition = reach.Impaired ? reach.Describe(now) : null,
                Failover = FailoverView.From(status.Pending.FirstOrDefault(p => p.Lpar == record.Lpar)),
            });
        }
        var view = new HaStatusView(rows, status.Pending.Select(p => $"{p.Lpar} → {p.TargetNode} from its {PartitionKnown.ImageName(p.Image)}: {p.Reason}").ToList(),
            status.SilentNodes, status.Estimates?.ColdRestart.TotalSeconds, status.Estimates?.HotPromotion.TotalSeconds, status.Window.TotalMinutes)
        {
            Source = origin.Source,
            Stale = origin.Stale,
            AsOf = origin.AsOf,
            AgeSeconds = origin.AgeSeconds,
            StaleReason = origin.Reason,
        };
        await context.WriteAsync(view, HaOpsJsonContext.Default.HaStatusView, StatusLines);
        return CommandOutcome.Success;
    }

    /// <summary>
    /// A hot partition's replica epoch, or a cold one's latest committed image, asked within what is
    /// left of the answer's budget; a partition whose node is impaired is not asked.
    /// </summary>
    private static async Task<string> LastImageAsync(CommandContext context, AvailabilityRecord record, StandbyMode mode, LparList? list, DateTimeOffset deadline,
        ControlPlaneView known)
    {
        if (mode == StandbyMode.Hot && record.Standby?.ReplicaNode is { } node && list?.NodeAddresses.GetValueOrDefault(node) is { } address)
        {
            if (known.Node(node).Impaired) return $"replica on {node}, which is unreachable";
            var selection = context.Node.System.ActorSelection($"{address}/user/{PartitionFirmwareActor.Name}");
            try
            {
                var left = deadline - DateTimeOffset.UtcNow;
                if (left > TimeSpan.Zero && await selection.Ask<object>(new GetReplicaStatus(record.Lpar), left, context.Cancellation) is ReplicaStatus replica)
                    return $"replica epoch {replica.AppliedEpoch} on {node}";
            }
            catch (AskTimeoutException)
            {
            }
            return $"replica on {node} not answering";
        }
        if (known.Partition(record.Lpar, DateTimeOffset.UtcNow) is PartitionKnown { NodeImpaired: true } impaired)
            return $"not asked: {impaired.Node.Describe(DateTimeOffset.UtcNow)}";
        if (LiveAnswers.PublisherImpaired(known.PartitionsAge(DateTimeOffset.UtcNow), DateTimeOffset.UtcNow) is not null)
            return "not asked: the partition manager is moving to another node";
        var images = await LiveAnswers.AskWithinAsync(context, context.Node.PartitionManager, new ListCheckpoints(record.Lpar), deadline - DateTimeOffset.UtcNow,
            ControlPlaneView.PartitionManagerSource);
        return images switch
        {
            CheckpointList { Epochs.Count: > 0 } checkpoints =>
                $"epoch {checkpoints.Epochs[^1].Epoch} at {checkpoints.Epochs[^1].At.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}",
            CheckpointList => "boot image only",
            _ => "not known in time",
        };
    }

    private static IEnumerable<string> StatusLines(HaStatusView view)
    {
        if (view.Lpars.Count == 0) yield return "no partitions have availability records yet";
        foreach (var l in view.Lpars)
        {
            var standby = l.Mode == "hot" ? $"hot, replica on {l.ReplicaNode}" : "cold";
            yield return $"{l.Lpar} on {l.Node} ({l.State}): {standby}; consistency image node {l.ConsistencyNode}, boot image node {l.BootNode}; last image: {l.LastImage}; "
                + $"{l.FailuresInWindow} failure(s) in the last {view.WindowMinutes:0.#} min";
            if (l.NodeCondition is { } condition) yield return $"  node {condition}";
            if (l.MaxRecoverySeconds is { } max)
                yield return $"  requirement: back within {max:0.#} s{(l.FullPerformance ? ", full performance during failover" : "")}; {l.Reason}";
        }
        foreach (var pending in view.Pending) yield return $"restarting: {pending}";
        foreach (var silent in view.SilentNodes) yield return $"silent node: {silent}";
        if (view.EstimatedColdSeconds is { } cold && view.EstimatedHotSeconds is { } hot)
            yield return $"recovery estimates: cold {cold:0.0} s, hot {hot:0.0} s";
        if (view.Stale) yield return $"answered from this node's control view: {view.StaleReason}";
    }

    private static async Task<CommandOutcome> FailuresAsync(CommandContext context)
    {
        var name = context.Arg("name")!;
        var before = await LiveAnswers.ViewAsync(context);
        var reply = await Ask(context, before.AvailabilityAge(LiveAnswers.Now), context.Node.HaManager, new GetFailures(name), ControlPlaneView.HaManagerSource);
        var known = await LiveAnswers.ViewAsync(context);
        var now = LiveAnswers.Now;
        HaFailuresView view;
        switch (reply)
        {
            case AvailabilityRecord live:
                view = HaFailuresView.From(live, AnswerOrigin.Live(ControlPlaneView.HaManagerSource), known, now);
                break;
            case NoLiveAnswer none when known.Availability is { } last:
                if (last.Value.Records.FirstOrDefault(r => r.Lpar == name) is not { } record)
                    return CommandOutcome.Failed($"{none.Reason}, and '{name}' has no availability record in the HA status of {last.At.UtcDateTime:HH:mm:ss.fff}");
                view = HaFailuresView.From(record, AnswerOrigin.FromView(known.AvailabilityAge(now)!, now, none.Reason), known, now);
                break;
            case NoLiveAnswer none:
                return CommandOutcome.Failed($"{none.Reason}, and this node has not received an HA status yet");
            default:
                return Refused(reply);
        }
        await context.WriteAsync(view, HaOpsJsonContext.Default.HaFailuresView, FailureLines);
        return CommandOutcome.Success;
    }

    private static IEnumerable<string> FailureLines(HaFailuresView view)
    {
        foreach (var line in FailureLines(view.Record)) yield return line;
        if (view.NodeCondition is { } condition) yield return $"  node {condition}";
        if (view.Stale) yield return $"answered from this node's control view: {view.StaleReason}";
    }

    private static IEnumerable<string> FailureLines(AvailabilityRecord record)
    {
        if (record.Failures.Count == 0)
        {
            yield return $"{record.Lpar} on {record.Node}: no failures";
            yield break;
        }
        yield return $"{record.Lpar} on {record.Node}: {record.Failures.Count} failure(s)";
        foreach (var f in record.Failures)
        {
            yield return $"  {f.At.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)} on {f.FailedNode}: {f.Cause}";
            if (f.TargetNode is null)
            {
                yield return "    not restarted (no live node could take it)";
                continue;
            }
            var image = f.Image switch { FailoverImage.Boot => "boot image", FailoverImage.Replica => "hot replica", _ => "consistency image" };
            var outcome = f is { Completed: true, CompletedAt: { } done }
                ? $"running again after {(done - f.At).TotalSeconds:0.00} s, {f.Detail}"
                : "restart under way";
            yield return $"    → {f.TargetNode} from its {image}: {outcome}";
            yield return $"    why: {f.Reason}";
        }
    }

    private static async Task<CommandOutcome> PolicyAsync(CommandContext context)
    {
        if (context.Arg("max-recovery") is not { } text) return CommandOutcome.BadUsage("'max-recovery' is required: --max-recovery S");
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || double.IsNaN(seconds) || seconds > 86_400)
            return CommandOutcome.BadUsage($"--max-recovery '{text}' is not a number of seconds");
        var requirement = new SetAvailabilityRequirement(context.Arg("name")!, TimeSpan.FromSeconds(seconds), context.Args.ContainsKey("full-performance"));
        var reply = await AskHaAsync(context, requirement);
        if (reply is not StandbyChosen chosen) return Refused(reply);
        await context.WriteAsync(chosen, HaOpsJsonContext.Default.StandbyChosen, c =>
        [
            $"{c.Lpar}: {PartitionManagerClient.Lower(c.Mode)} standby{(c.ReplicaNode is { } n ? $" with its replica on {n}" : "")}"
            + (c.RequirementMet ? "" : " (the requirement cannot be met)"),
            $"  {c.Reason}",
        ]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> SilenceAsync(CommandContext context)
    {
        var silent = !context.Args.ContainsKey("resume");
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, context.Arg("name")!) is { } impaired) return impaired;
        var reply = await PartitionManagerClient.AskAsync(context, new SilenceGuestAgent(context.Arg("name")!, silent), AskTimeout);
        if (reply is not GuestAgentState state) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(state, HaOpsJsonContext.Default.GuestAgentState, s =>
        [
            s.Silent
                ? $"{s.Name} on {s.Node}: its guest agent no longer heartbeats; the HA manager will treat it as failed"
                : $"{s.Name} on {s.Node}: its guest agent heartbeats again",
        ]);
        return CommandOutcome.Success;
    }
}

/// <summary>One partition in <c>ha status</c>.</summary>
public sealed record HaLparView(
    string Lpar,
    string Node,
    string State,
    string Mode,
    string? ReplicaNode,
    string ConsistencyNode,
    string BootNode,
    double? MaxRecoverySeconds,
    bool FullPerformance,
    string? Reason,
    string LastImage,
    int FailuresInWindow)
{
    /// <summary>Set when this node finds the partition's node unreachable, downed or held silent.</summary>
    public string? NodeCondition { get; init; }

    /// <summary>The failover in progress, if the HA manager has planned one and not completed it.</summary>
    public FailoverView? Failover { get; init; }
}

/// <summary>What <c>ha status</c> shows.</summary>
public sealed record HaStatusView(
    IReadOnlyList<HaLparView> Lpars,
    IReadOnlyList<string> Pending,
    IReadOnlyList<string> SilentNodes,
    double? EstimatedColdSeconds,
    double? EstimatedHotSeconds,
    double WindowMinutes)
{
    /// <summary><c>HA manager</c> for a live answer, <c>control view</c> for one from this node's view.</summary>
    public string Source { get; init; } = ControlPlaneView.HaManagerSource;

    public bool Stale { get; init; }

    public DateTimeOffset? AsOf { get; init; }

    public double? AgeSeconds { get; init; }

    public string? StaleReason { get; init; }
}

/// <summary>What <c>ha failures</c> prints: the availability record's fields, its node's condition, and where the answer came from.</summary>
public sealed record HaFailuresView(
    string Lpar,
    string Node,
    string ConsistencyNode,
    string BootNode,
    IReadOnlyList<FailureEntry> Failures,
    SetAvailabilityRequirement? Requirement,
    StandbyChosen? Standby,
    string? NodeCondition,
    string Source,
    bool Stale,
    DateTimeOffset? AsOf,
    double? AgeSeconds,
    string? StaleReason)
{
    [JsonIgnore]
    public AvailabilityRecord Record => new(Lpar, Node, ConsistencyNode, BootNode, Failures) { Requirement = Requirement, Standby = Standby };

    public static HaFailuresView From(AvailabilityRecord r, AnswerOrigin origin, ControlPlaneView known, DateTimeOffset now)
    {
        var reach = known.Node(r.Node);
        return new(r.Lpar, r.Node, r.ConsistencyNode, r.BootNode, r.Failures, r.Requirement, r.Standby, reach.Impaired ? reach.Describe(now) : null,
            origin.Source, origin.Stale, origin.AsOf, origin.AgeSeconds, origin.Reason);
    }
}

/// <summary>Enum values as operators type them: <c>hot</c>, <c>consistency</c>.</summary>
internal sealed class LowerCaseEnumConverter<T>() : JsonStringEnumConverter<T>(System.Text.Json.JsonNamingPolicy.CamelCase)
    where T : struct, Enum;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    Converters = [typeof(LowerCaseEnumConverter<StandbyMode>), typeof(LowerCaseEnumConverter<FailoverImage>)])]
[JsonSerializable(typeof(HaStatusView))]
[JsonSerializable(typeof(AvailabilityRecord))]
[JsonSerializable(typeof(HaFailuresView))]
[JsonSerializable(typeof(StandbyChosen))]
[JsonSerializable(typeof(GuestAgentState))]
internal sealed partial class HaOpsJsonContext : JsonSerializerContext;
