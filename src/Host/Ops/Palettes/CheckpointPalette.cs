using System.Globalization;
using System.Text.Json.Serialization;
using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// The <c>checkpoint</c> palette: take, list and restore a partition's images (full, incremental,
/// copy-on-write), run epochs continuously, and read the counters. Commands reach the partition's
/// coordinator on its node through the partition manager.
/// </summary>
public static class CheckpointPalette
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(60);

    private static readonly ArgumentSpec Name = new("name", "NAME", "the partition");

    public static OpsPalette Palette { get; } = new("checkpoint", "checkpoints of partitions: images, restore, replication",
    [
        new(new CommandSpec("take", "checkpoint a running partition now; with --interval, every interval until `checkpoint stop`")
        {
            Arguments = [Name],
            Options =
            [
                new OptionSpec("mode", null, "full, incremental (the pages dirtied since the last epoch; default) or cow", "MODE"),
                new OptionSpec("interval", null, "take an epoch every MS milliseconds (10 or more), outputs held until each commits", "MS"),
                new OptionSpec("verify", null, "with --interval: record the memory checksum at every stun, so a restore proves itself"),
            ],
        }, TakeAsync),
        new(new CommandSpec("list", "the epochs in a partition's checkpoint journal, from its consistency image on") { Arguments = [Name] }, ListAsync),
        new(new CommandSpec("restore", "bring a stopped partition up from the latest image, or from epoch E (0 is the boot image)")
        {
            Arguments = [Name],
            Options =
            [
                new OptionSpec("epoch", null, "the epoch to restore", "E"),
                new OptionSpec("into", null, "restore NAME's image into this (stopped or new) partition instead, on its own node", "LPAR"),
            ],
        }, RestoreAsync),
        new(new CommandSpec("replicate", "checkpoint every interval to a replica on another node (S23); the primary commits on its acknowledgement")
        {
            Arguments = [Name],
            Options =
            [
                new OptionSpec("to", null, "the backup vios node", "NODE"),
                new OptionSpec("interval", null, "epoch interval in milliseconds (default 100, at least 10)", "MS"),
                new OptionSpec("verify", null, "send the memory checksum at each stun; the replica checks its copy against it"),
            ],
        }, ReplicateAsync),
        new(new CommandSpec("stop", "stop continuous checkpointing and replication; held outputs are released") { Arguments = [Name] },
            c => ChangeStatsAsync(c, new StopCheckpointing(c.Arg("name")!))),
        new(new CommandSpec("stats", "epochs, stun p50/p99, dirty bytes, bytes sent, diff hit rate, outputs held and released; for a replicated pair its lag, the primary's CPU share and the decisions that set it (S22)") { Arguments = [Name] },
            c => StatsAsync(c, new GetCheckpointStats(c.Arg("name")!))),
    ]);

    private static async Task<CommandOutcome> TakeAsync(CommandContext context)
    {
        var mode = CheckpointMode.Incremental;
        if (context.Arg("mode") is { } modeText && !EnumArgument.TryParse(modeText, out mode))
            return CommandOutcome.BadUsage(EnumArgument.NotOneOf<CheckpointMode>("--mode", modeText));
        int? interval = null;
        if (context.Arg("interval") is { } intervalText)
        {
            if (!int.TryParse(intervalText, out var ms) || ms < 1) return CommandOutcome.BadUsage("--interval needs a number of milliseconds");
            interval = ms;
        }
        var name = context.Arg("name")!;
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, name) is { } impaired) return impaired;
        if (!context.Json) await context.WriteLineAsync($"checkpointing {name} ({mode.ToString().ToLowerInvariant()})...");
        var reply = await PartitionManagerClient.AskAsync(context, new TakeCheckpoint(name, mode, interval) { Verify = context.Args.ContainsKey("verify") }, AskTimeout);
        if (reply is not CheckpointTaken taken) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(taken, CheckpointOpsJsonContext.Default.CheckpointTaken, t =>
        [
            t.Periodic
                ? $"{t.Name} on {t.Node}: an epoch every {interval} ms from epoch {t.Epoch} on; `checkpoint stats {t.Name}` follows them"
                : $"{t.Name} on {t.Node}: epoch {t.Epoch} committed, {PartitionManagerClient.Lower(t.Kind)}, {t.Pages:N0} pages ({t.Bytes / 1024.0 / 1024.0:0.0} MiB), stun {t.StunMicroseconds / 1000.0:0.000} ms"
                  + (t.MemoryChecksum is { } c ? $", memory checksum {c:x16}" : ""),
        ]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ReplicateAsync(CommandContext context)
    {
        if (string.IsNullOrEmpty(context.Arg("to"))) return CommandOutcome.BadUsage("'to' is required: --to NODE");
        var interval = 100;
        if (context.Arg("interval") is { } intervalText && (!int.TryParse(intervalText, out interval) || interval < 1))
            return CommandOutcome.BadUsage("--interval needs a number of milliseconds");
        var name = context.Arg("name")!;
        if ((await LiveAnswers.RefuseOnImpairedNodeAsync(context, name) ?? await LiveAnswers.RefuseOnImpairedNodeAsync(context, name, context.Arg("to"))) is { } impaired)
            return impaired;
        if (!context.Json) await context.WriteLineAsync($"starting a replica of {name} on {context.Arg("to")}...");
        var reply = await PartitionManagerClient.AskAsync(context, new ReplicateCheckpoints(name, context.Arg("to")!, interval, context.Args.ContainsKey("verify"), null), AskTimeout);
        if (reply is not CheckpointStats stats) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(stats, CheckpointOpsJsonContext.Default.CheckpointStats, StatsLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ListAsync(CommandContext context)
    {
        var read = await LiveAnswers.ReadPartitionAsync(context, new ListCheckpoints(context.Arg("name")!));
        if (read.Live is null) return LiveAnswers.Unanswered(read, $"the checkpoints of {context.Arg("name")}");
        if (read.Live is not CheckpointList list) return PartitionManagerClient.Refused(read.Live);
        await context.WriteAsync(list, CheckpointOpsJsonContext.Default.CheckpointList, ListLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> RestoreAsync(CommandContext context)
    {
        long? epoch = null;
        if (context.Arg("epoch") is { } epochText)
        {
            if (!long.TryParse(epochText, out var parsed) || parsed < 0) return CommandOutcome.BadUsage("--epoch needs an epoch number (0 is the boot image)");
            epoch = parsed;
        }
        var source = context.Arg("name")!;
        var target = context.Arg("into") ?? source;
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, target) is { } impaired) return impaired;
        if (!context.Json)
            await context.WriteLineAsync($"reading the images of {source}{(epoch is { } e ? $" up to epoch {e}" : "")} into {target}...");
        var reply = await PartitionManagerClient.AskAsync(context, new RestoreCheckpoint(target, source, epoch), AskTimeout);
        if (reply is not CheckpointRestored restored) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(restored, CheckpointOpsJsonContext.Default.CheckpointRestored, r =>
        [
            $"{r.Name} on {r.Node}: running from epoch {r.Epoch} of {r.Source} ({r.EpochsApplied} image{(r.EpochsApplied == 1 ? "" : "s")} applied), memory checksum {r.MemoryChecksum:x16}"
            + (r.Verified switch { true => ", equal to the checksum at the stun", false => ", NOT equal to the checksum at the stun", null => "" }),
        ]);
        return restored.Verified == false ? CommandOutcome.Failed("the restored memory differs from the memory at the stun") : CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> StatsAsync(CommandContext context, ILparCommand command)
    {
        var read = await LiveAnswers.ReadPartitionAsync(context, command);
        if (read.Live is null) return LiveAnswers.Unanswered(read, $"the checkpoint counters of {command.Name}");
        if (read.Live is not CheckpointStats stats) return PartitionManagerClient.Refused(read.Live);
        await context.WriteAsync(stats, CheckpointOpsJsonContext.Default.CheckpointStats, StatsLines);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> ChangeStatsAsync(CommandContext context, ILparCommand command)
    {
        if (await LiveAnswers.RefuseOnImpairedNodeAsync(context, command.Name) is { } impaired) return impaired;
        var reply = await PartitionManagerClient.AskAsync(context, command, AskTimeout);
        if (reply is not CheckpointStats stats) return PartitionManagerClient.Refused(reply);
        await context.WriteAsync(stats, CheckpointOpsJsonContext.Default.CheckpointStats, StatsLines);
        return CommandOutcome.Success;
    }

    public static IEnumerable<string> StatsLines(CheckpointStats s)
    {
        yield return $"checkpoints of {s.Name}: {s.Mode}";
        yield return $"  epochs {s.Epochs:N0}, failed {s.FailedEpochs:N0}; stun p50 {s.StunP50Microseconds / 1000:0.000} ms, p99 {s.StunP99Microseconds / 1000:0.000} ms";
        yield return $"  dirty bytes {s.DirtyBytes:N0}, bytes sent {s.BytesSent:N0}, diff hit rate {s.DiffHitRate * 100:0.0}%";
        yield return $"  outputs held {s.OutputsHeld:N0}, released {s.OutputsReleased:N0}";
        if (s.Pair is { } p)
            yield return $"  fault-tolerant pair (S22): lag {p.Lag:N0} epoch{(p.Lag == 1 ? "" : "s")}, primary CPU {p.PrimaryRate * 100:0.#}%; rate lowered {p.Lowered:N0}, raised {p.Raised:N0}, held {p.Held:N0}";
        if (s.LastFailure is not null) yield return $"  last failure: {s.LastFailure}";
        if (s.Note is not null) yield return $"  {s.Note}";
    }

    private static IEnumerable<string> ListLines(CheckpointList list)
    {
        if (list.Epochs.Count == 0)
        {
            yield return $"{list.Name} has no checkpoints";
            yield break;
        }
        yield return $"{list.Name}: consistency image epoch {list.ConsistencyEpoch}, {list.Epochs.Count - 1} delta(s) after it";
        foreach (var e in list.Epochs)
            yield return $"  epoch {e.Epoch,6}  {PartitionManagerClient.Lower(e.Kind),-5}  {e.Pages,8:N0} pages  {e.Bytes / 1024.0 / 1024.0,8:0.0} MiB  stun {e.StunMicroseconds / 1000.0,7:0.000} ms  {e.At.ToString("u", CultureInfo.InvariantCulture)}"
                + (e.MemoryChecksum is { } c ? $"  checksum {c:x16}" : "");
    }

}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(CheckpointTaken))]
[JsonSerializable(typeof(CheckpointList))]
[JsonSerializable(typeof(CheckpointRestored))]
[JsonSerializable(typeof(CheckpointStats))]
internal sealed partial class CheckpointOpsJsonContext : JsonSerializerContext;
