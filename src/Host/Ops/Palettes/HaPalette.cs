using System.Globalization;
using System.Text.Json.Serialization;
using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
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
        try
        {
            return await ha.Ask<object>(message, AskTimeout, context.Cancellation);
        }
        catch (AskTimeoutException)
        {
            return new HaRefused("", $"the HA manager did not answer within {AskTimeout.TotalSeconds:0} s (is the cluster up, with a vios node?)");
        }
    }

    private static CommandOutcome Refused(object reply) => reply is HaRefused refused
        ? CommandOutcome.Failed(refused.Reason)
        : PartitionManagerClient.Refused(reply);

    private static async Task<CommandOutcome> StatusAsync(CommandContext context)
    {
        var reply = await AskHaAsync(context, GetHaStatus.Instance);
        if (reply is not HaStatus status) return Refused(reply);
        var list = await PartitionManagerClient.AskAsync(context, ListLpars.Instance, AskTimeout) as LparList;
        var now = DateTimeOffset.UtcNow;
        var rows = new List<HaLparView>();
        foreach (var record in status.Records)
        {
            var summary = list?.Lpars.FirstOrDefault(l => l.Definition.Name == record.Lpar);
            var mode = record.Standby?.Mode ?? StandbyMode.Cold;
            rows.Add(new HaLparView(
                record.Lpar,
                summary?.Definition.Node ?? record.Node,
                summary is null ? "unknown" : PartitionManagerClient.Lower(summary.State),
                PartitionManagerClient.Lower(mode),
                record.Standby?.ReplicaNode,
                record.ConsistencyNode,
                record.BootNode,
                record.Requirement?.MaxRecovery.TotalSeconds,
                record.Requirement?.FullPerformance ?? false,
                record.Standby?.Reason,
                await LastImageAsync(context, record, mode, list),
                record.Failures.Count(f => now - f.At <= status.Window)));
        }
        var view = new HaStatusView(rows, status.Pending.Select(p => $"{p.Lpar} → {p.TargetNode}: {p.Reason}").ToList(), status.SilentNodes,
            status.Estimates?.ColdRestart.TotalSeconds, status.Estimates?.HotPromotion.TotalSeconds, status.Window.TotalMinutes);
        await context.WriteAsync(view, HaOpsJsonContext.Default.HaStatusView, StatusLines);
        return CommandOutcome.Success;
    }

    /// <summary>A hot partition's replica epoch, or a cold one's latest committed image.</summary>
    private static async Task<string> LastImageAsync(CommandContext context, AvailabilityRecord record, StandbyMode mode, LparList? list)
    {
        if (mode == StandbyMode.Hot && record.Standby?.ReplicaNode is { } node && list?.NodeAddresses.GetValueOrDefault(node) is { } address)
        {
            try
            {
                var reply = await context.Node.System.ActorSelection($"{address}/user/{PartitionFirmwareActor.Name}")
                    .Ask<object>(new GetReplicaStatus(record.Lpar), AskTimeout, context.Cancellation);
                if (reply is ReplicaStatus replica) return $"replica epoch {replica.AppliedEpoch} on {node}";
            }
            catch (AskTimeoutException)
            {
                return $"replica on {node} not answering";
            }
        }
        var images = await PartitionManagerClient.AskAsync(context, new ListCheckpoints(record.Lpar), AskTimeout);
        return images is CheckpointList { Epochs.Count: > 0 } checkpoints
            ? $"epoch {checkpoints.Epochs[^1].Epoch} at {checkpoints.Epochs[^1].At.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}"
            : "boot image only";
    }

    private static IEnumerable<string> StatusLines(HaStatusView view)
    {
        if (view.Lpars.Count == 0) yield return "no partitions have availability records yet";
        foreach (var l in view.Lpars)
        {
            var standby = l.Mode == "hot" ? $"hot, replica on {l.ReplicaNode}" : "cold";
            yield return $"{l.Lpar} on {l.Node} ({l.State}): {standby}; consistency image node {l.ConsistencyNode}, boot image node {l.BootNode}; last image: {l.LastImage}; "
                + $"{l.FailuresInWindow} failure(s) in the last {view.WindowMinutes:0.#} min";
            if (l.MaxRecoverySeconds is { } max)
                yield return $"  requirement: back within {max:0.#} s{(l.FullPerformance ? ", full performance during failover" : "")}; {l.Reason}";
        }
        foreach (var pending in view.Pending) yield return $"restarting: {pending}";
        foreach (var silent in view.SilentNodes) yield return $"silent node: {silent}";
        if (view.EstimatedColdSeconds is { } cold && view.EstimatedHotSeconds is { } hot)
            yield return $"recovery estimates: cold {cold:0.0} s, hot {hot:0.0} s";
    }

    private static async Task<CommandOutcome> FailuresAsync(CommandContext context)
    {
        var reply = await AskHaAsync(context, new GetFailures(context.Arg("name")!));
        if (reply is not AvailabilityRecord record) return Refused(reply);
        await context.WriteAsync(record, HaOpsJsonContext.Default.AvailabilityRecord, FailureLines);
        return CommandOutcome.Success;
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
    int FailuresInWindow);

/// <summary>What <c>ha status</c> shows.</summary>
public sealed record HaStatusView(
    IReadOnlyList<HaLparView> Lpars,
    IReadOnlyList<string> Pending,
    IReadOnlyList<string> SilentNodes,
    double? EstimatedColdSeconds,
    double? EstimatedHotSeconds,
    double WindowMinutes);

/// <summary>Enum values as operators type them: <c>hot</c>, <c>consistency</c>.</summary>
internal sealed class LowerCaseEnumConverter<T>() : JsonStringEnumConverter<T>(System.Text.Json.JsonNamingPolicy.CamelCase)
    where T : struct, Enum;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    Converters = [typeof(LowerCaseEnumConverter<StandbyMode>), typeof(LowerCaseEnumConverter<FailoverImage>)])]
[JsonSerializable(typeof(HaStatusView))]
[JsonSerializable(typeof(AvailabilityRecord))]
[JsonSerializable(typeof(StandbyChosen))]
[JsonSerializable(typeof(GuestAgentState))]
internal sealed partial class HaOpsJsonContext : JsonSerializerContext;
