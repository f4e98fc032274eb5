using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Spectre.Console;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;

namespace Vios.Host.Demo;

/// <summary>
/// The demo's last act (S5, S16, S17): one vios node dies abruptly, its ActorSystem terminated
/// without leaving. Before that, its partitions get a fresh image, and one of them a hot standby.
/// The other nodes' heartbeat masters find it silent and fence it, and the HA manager brings its
/// partitions back elsewhere; the step prints where each came back, from which image, and how long
/// it took from the stop.
/// </summary>
public sealed class FailoverStep : IDemoStep
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(60);

    public string Title => "Stop a vios node abruptly; its partitions come back on other nodes";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var console = context.Console;
        var nodes = context.Cluster.ViosNodes;
        var list = await Ask<LparList>(nodes[0].PartitionManager!, ListLpars.Instance);

        // The victim: the node with the most running partitions, other than the oldest vios node,
        // which hosts the cluster singletons (losing it is slower, and the demo is about the partitions).
        var oldest = nodes[0].Cluster.State.Members.Where(m => m.HasRole("vios") && m.Status == MemberStatus.Up)
            .OrderBy(m => m, Member.AgeOrdering).First().Address;
        var victim = nodes.Where(n => n.SelfAddress != oldest)
            .OrderByDescending(n => list.Lpars.Count(l => l.Definition.Node == n.Name && l.State == LparState.Running))
            .First();
        var survivor = nodes.First(n => n != victim);
        var manager = survivor.PartitionManager!;
        var ha = survivor.HaManager!;
        var lpars = list.Lpars.Where(l => l.Definition.Node == victim.Name && l.State == LparState.Running)
            .Select(l => l.Definition.Name).Order(StringComparer.Ordinal).ToList();
        if (lpars.Count == 0)
        {
            console.MarkupLineInterpolated($"    no partition runs on {victim.Name}; nothing to fail over");
            return;
        }

        // The first of them needs full performance during a failover: a hot replica on another node (S17).
        var hot = lpars[0];
        var chosen = await Ask<StandbyChosen>(ha, new SetAvailabilityRequirement(hot, TimeSpan.FromSeconds(3), FullPerformance: true));
        console.MarkupLineInterpolated($"    {hot}: {Lower(chosen.Mode)} standby, {chosen.Reason}");
        // The first replicated epoch carries every page the guest has written; wait until a few are verified.
        var replicaNode = nodes.Single(n => n.Name == chosen.ReplicaNode);
        await AwaitAsync(async () => await replicaNode.Firmware!.Ask<object>(new GetReplicaStatus(hot), AskTimeout) is ReplicaStatus { VerifiedEpochs: >= 3 },
            "the hot replica to apply its first epochs", cancellationToken);
        // The others restart from a fresh full image, its memory checksum recorded at the stun.
        foreach (var cold in lpars.Skip(1))
        {
            var taken = await Ask<CheckpointTaken>(manager, new TakeCheckpoint(cold, CheckpointMode.Full, null));
            console.MarkupLineInterpolated($"    {cold}: cold standby, image epoch {taken.Epoch} taken, checksum {taken.MemoryChecksum:x16}");
        }

        console.MarkupLineInterpolated($"    [bold red]stopping {victim.Name} abruptly[/] (its ActorSystem terminated without leaving the cluster)");
        var stoppedAt = DateTimeOffset.UtcNow;
        await victim.KillAsync();

        var slowest = TimeSpan.Zero;
        foreach (var lpar in lpars)
        {
            FailureEntry? failure = null;
            await AwaitAsync(async () =>
            {
                var record = (await Ask<HaStatus>(ha, GetHaStatus.Instance)).Records.FirstOrDefault(r => r.Lpar == lpar);
                failure = record?.Failures.LastOrDefault(f => f.At >= stoppedAt && f.Completed);
                return failure is not null;
            }, $"{lpar} to come back", cancellationToken);
            var took = failure!.CompletedAt!.Value - stoppedAt;
            var image = failure.Image switch
            {
                FailoverImage.Replica when failure.Detail?.StartsWith("promoted", StringComparison.Ordinal) == true => "hot replica",
                FailoverImage.Replica => "consistency image (replica not ready)",
                FailoverImage.Boot => "boot image",
                _ => "consistency image",
            };
            slowest = took > slowest ? took : slowest;
            console.MarkupLineInterpolated($"    [green]{lpar}[/] back on [bold]{failure.TargetNode}[/] from its {image}, {took.TotalSeconds:0.00} s after the stop");
            console.MarkupLineInterpolated($"      {failure.Detail}");
        }
        // Leaving while a downed member is still listed waits out the exiting timeout: let it go first.
        await context.Cluster.AwaitRemovedAsync(victim.SelfAddress, RecoveryTimeout);
        console.MarkupLineInterpolated($"    {lpars.Count} partition(s) running again within {slowest.TotalSeconds:0.00} s of {victim.Name}'s stop; `vios ctl ha failures NAME` tells the story");
    }

    private static async Task AwaitAsync(Func<Task<bool>> condition, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > RecoveryTimeout) throw new TimeoutException($"gave up waiting for {what} after {RecoveryTimeout.TotalSeconds:0} s");
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static async Task<T> Ask<T>(IActorRef to, object message)
    {
        var reply = await to.Ask<object>(message, AskTimeout);
        return reply switch
        {
            T typed => typed,
            LparRefused refused => throw new TimeoutException($"refused: {refused.Reason}"),
            HaRefused refused => throw new TimeoutException($"refused: {refused.Reason}"),
            _ => throw new TimeoutException($"unexpected reply {reply}"),
        };
    }
}
