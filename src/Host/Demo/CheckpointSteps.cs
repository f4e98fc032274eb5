using Akka.Actor;
using Spectre.Console;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;

namespace Vios.Host.Demo;

/// <summary>
/// Checkpoints in the demo: a full image and deltas of <c>web</c>, a copy-on-write checkpoint of
/// <c>db</c> (S24), a second of <c>batch</c> replicated to another node every 10 ms (S23), and
/// <c>web</c>'s latest image restored into a fresh partition on another node, byte for byte.
/// </summary>
public sealed class CheckpointsStep : IDemoStep
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long <c>batch</c> runs replicated.</summary>
    public static readonly TimeSpan ReplicationTime = TimeSpan.FromSeconds(1);

    public string Title => "Checkpoint the partitions, replicate one, restore one on another node";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var nodes = context.Cluster.ViosNodes;
        var through = nodes[0];
        var console = context.Console;
        var list = await Ask<LparList>(through, ListLpars.Instance);
        string NodeOf(string lpar) => list.Lpars.Single(l => l.Definition.Name == lpar).Definition.Node;

        var web = new List<CheckpointTaken>
        {
            await Ask<CheckpointTaken>(through, new TakeCheckpoint("web", CheckpointMode.Full, null)),
            await Ask<CheckpointTaken>(through, new TakeCheckpoint("web", CheckpointMode.Incremental, null)),
            await Ask<CheckpointTaken>(through, new TakeCheckpoint("web", CheckpointMode.Incremental, null)),
        };
        console.MarkupLineInterpolated($"    web: {string.Join("; ", web.Select(t => $"epoch {t.Epoch} {t.Kind.ToString().ToLowerInvariant()} {t.Pages:N0} pages, stun {t.StunMicroseconds / 1000.0:0.00} ms"))}");

        var cow = await Ask<CheckpointTaken>(through, new TakeCheckpoint("db", CheckpointMode.Cow, null));
        console.MarkupLineInterpolated($"    db: copy-on-write epoch {cow.Epoch}, stun {cow.StunMicroseconds / 1000.0:0.000} ms, then {cow.Pages:N0} pages saved while the guest ran (S24)");

        var backup = nodes.First(n => n.Name != NodeOf("batch")).Name;
        await Ask<CheckpointStats>(through, new ReplicateCheckpoints("batch", backup, 10, Verify: false, null));
        // The first epoch sends every page the guest has written; the window starts after it.
        var first = await Ask<CheckpointStats>(through, new GetCheckpointStats("batch"));
        for (var waited = 0; first.Epochs < 2 && waited < 300; waited++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            first = await Ask<CheckpointStats>(through, new GetCheckpointStats("batch"));
        }
        await Task.Delay(ReplicationTime, cancellationToken);
        var last = await Ask<CheckpointStats>(through, new StopCheckpointing("batch"));
        var (epochs, dirty, sent) = (last.Epochs - first.Epochs, last.DirtyBytes - first.DirtyBytes, last.BytesSent - first.BytesSent);
        console.MarkupLineInterpolated(
            $"    batch → replica on {backup}: {epochs:N0} epochs in {ReplicationTime.TotalSeconds:0.0} s, stun p99 {last.StunP99Microseconds / 1000:0.00} ms, {sent / 1e6:0.0} MB sent for {dirty / 1e6:0.0} MB dirty ({(sent == 0 ? 0 : (double)dirty / sent):0.0}:1), diff hit rate {last.DiffHitRate * 100:0}% (S23)");

        // A fresh partition of web's size on another node, brought up from web's latest image.
        var target = nodes.First(n => n.Name != NodeOf("web")).Name;
        var copy = await Ask<object>(through, new CreateLpar("web-copy", 2, 256, PlacementPolicy.Locality, [], target));
        if (copy is LparRefused { Kind: not LparRefusal.AlreadyExists, Reason: var reason })
            throw new TimeoutException($"the partition manager refused web-copy: {reason}");
        var restored = await Ask<CheckpointRestored>(through, new RestoreCheckpoint("web-copy", "web", null));
        var verdict = restored.Verified == true ? "[green]equal to web's memory at the stun[/]" : "[red]NOT equal to web's memory at the stun[/]";
        console.MarkupLine(
            $"    web restored into web-copy on {restored.Node} from epoch {restored.Epoch} ({restored.EpochsApplied} images): checksum {restored.MemoryChecksum:x16}, {verdict}");
        if (restored.Verified != true) throw new TimeoutException("the restored image differs from the memory at the stun");
    }

    private static async Task<T> Ask<T>(ViosNode through, object message)
    {
        var reply = await through.PartitionManager!.Ask<object>(message, AskTimeout);
        return reply is T typed
            ? typed
            : throw new TimeoutException(reply is LparRefused refused ? $"refused: {refused.Reason}" : $"unexpected reply {reply}");
    }
}
