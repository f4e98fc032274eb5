using System.Diagnostics;
using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Host.Tests.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Partitions;

/// <summary>
/// S22 between two vios nodes of the shared cluster: a replicated partition is a fault-tolerant pair
/// whose secondary's lag steers the primary's CPU share. The secondary is slowed per page applied
/// (<see cref="SlowReplica"/>, sent across nodes to the backup's firmware), so a slower primary
/// really lightens its work. Setpoints are the shipped ones (<c>vios.availability.ft-pair</c>).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FaultTolerantPairSpecs(ClusterFixture cluster) : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private const int IntervalMs = 20;
    private const int WritesPerSecond = 20_000;

    /// <summary>
    /// 200 µs a page: the secondary applies 5,000 pages a second, a quarter of what the primary dirties
    /// at full speed (its writes are spread over its 2,048 pages), and at most 0.4 s for a whole epoch
    /// of them, well inside the primary's 2 s acknowledgement timeout.
    /// </summary>
    private static readonly TimeSpan SlowApply = TimeSpan.FromMicroseconds(200);

    private static string NewName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    [Fact]
    public async Task A_slowed_secondary_lowers_the_primary_and_keeps_the_lag_bounded_and_without_the_slowdown_the_primary_returns_to_full_speed()
    {
        var (primary, backup) = (cluster.Cluster.ViosNodes[2], cluster.Cluster.ViosNodes[0]);
        var setpoints = primary.Partitions!.Checkpoint.FaultTolerantPair;
        var name = NewName("ftpair");
        await PairAsync(primary, backup, name);

        await SlowAsync(primary, backup, name, SlowApply);

        // The lag grows until the controller lowers the primary, which then settles where the secondary keeps up.
        await AwaitAssertAsync(async () =>
        {
            var pair = (await StatsAsync(primary, name)).Pair!;
            Assert.True(pair.Lowered > 0 && pair.PrimaryRate < 0.6, $"lag {pair.Lag}, rate {pair.PrimaryRate}, lowered {pair.Lowered}");
        }, Wait, TimeSpan.FromMilliseconds(100));
        await AwaitAssertAsync(async () => Assert.InRange((await StatsAsync(primary, name)).Pair!.Lag, 0, setpoints.LowerAboveLag),
            Wait, TimeSpan.FromMilliseconds(50));
        var settled = await SampleAsync(primary, name, TimeSpan.FromSeconds(3));
        Assert.True(settled.Samples.Count >= 20, $"{settled.Samples.Count} samples in 3 s");

        // After convergence the lag swings between the setpoints; what overshoots lower-above-lag is
        // the pipeline's epochs captured before the last lowering, bounded by as much again.
        Assert.All(settled.Samples, s => Assert.InRange(s.Lag, 0, 2 * setpoints.LowerAboveLag));
        Assert.All(settled.Samples, s => Assert.InRange(s.PrimaryRate, setpoints.MinRate, 1.0));
        Assert.True(settled.Samples.Average(s => s.PrimaryRate) < 0.6, $"the primary ran at {settled.Samples.Average(s => s.PrimaryRate):0.00} on average");
        Assert.True(settled.WritesPerSecond < 0.6 * WritesPerSecond, $"the primary's guest wrote {settled.WritesPerSecond:N0} pages a second");
        var shown = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "stats", name);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains(shown.StdoutLines, line => System.Text.RegularExpressions.Regex.IsMatch(line,
            @"^fault-tolerant pair \(S22\): lag \d+ epochs?, primary CPU [\d.]+%; rate lowered [1-9][\d,]*, raised [\d,]+, held [\d,]+$"));

        await SlowAsync(primary, backup, name, TimeSpan.Zero);

        await AwaitAssertAsync(async () =>
        {
            var pair = (await StatsAsync(primary, name)).Pair!;
            Assert.True(pair.PrimaryRate == 1.0 && pair.Lag < setpoints.LowerAboveLag, $"lag {pair.Lag}, rate {pair.PrimaryRate}");
        }, Wait, TimeSpan.FromMilliseconds(100));
        var stopped = await primary.PartitionManager!.Ask<CheckpointStats>(new StopCheckpointing(name), Wait);
        Assert.Equal(0, stopped.FailedEpochs);
        Assert.Null(stopped.Note);
        Assert.Equal((0L, 1.0), (stopped.Pair!.Lag, stopped.Pair.PrimaryRate));
        Assert.True(stopped.Pair.Lowered > 0 && stopped.Pair.Raised > 0, $"lowered {stopped.Pair.Lowered}, raised {stopped.Pair.Raised}");
        await primary.PartitionManager.Ask<LparStatus>(new StopLpar(name), Wait);
    }

    [Fact]
    public async Task Stopping_a_pair_whose_primary_was_lowered_gives_the_primary_all_of_its_cpu_back()
    {
        var (primary, backup) = (cluster.Cluster.ViosNodes[1], cluster.Cluster.ViosNodes[2]);
        var name = NewName("ftstop");
        await PairAsync(primary, backup, name);
        await SlowAsync(primary, backup, name, SlowApply);
        await AwaitAssertAsync(async () => Assert.True((await StatsAsync(primary, name)).Pair!.PrimaryRate < 0.6), Wait, TimeSpan.FromMilliseconds(100));

        var stopped = await primary.PartitionManager!.Ask<CheckpointStats>(new StopCheckpointing(name), Wait);

        Assert.Equal("manual", stopped.Mode);
        Assert.Equal((0L, 1.0), (stopped.Pair!.Lag, stopped.Pair.PrimaryRate));
        // The guest runs at its whole rate again: over a second or more, close to 20,000 writes a second.
        var (start, clock) = (await WritesAsync(primary, name), Stopwatch.StartNew());
        await AwaitAssertAsync(async () =>
        {
            var writes = await WritesAsync(primary, name) - start;
            var elapsed = clock.Elapsed.TotalSeconds;
            Assert.True(elapsed >= 1 && writes / elapsed > 0.8 * WritesPerSecond, $"{writes:N0} writes in {elapsed:0.00} s");
        }, Wait, TimeSpan.FromMilliseconds(250));
        await primary.PartitionManager.Ask<LparStatus>(new StopLpar(name), Wait);
    }

    /// <summary>An 8 MB partition writing all over its memory on <paramref name="primary"/>, replicated to <paramref name="backup"/> and keeping up.</summary>
    private async Task PairAsync(ViosNode primary, ViosNode backup, string name)
    {
        await AwaitAssertAsync(async () =>
            Assert.IsType<LparCreated>(await primary.PartitionManager!.Ask<object>(new CreateLpar(name, 1, 8, PlacementPolicy.Locality, [], primary.Name), Wait)),
            Wait, TimeSpan.FromMilliseconds(250));
        await primary.PartitionManager!.Ask<LparStatus>(new StartLpar(name), Wait);
        await primary.PartitionManager.Ask<LparStatus>(new RunWorkload(name, WritesPerSecond, Skew: 0.1, Processes: 4, Seed: 22), Wait);
        // The backup's firmware may still be registering with the manager in a cluster that has just started.
        await AwaitAssertAsync(async () =>
        {
            var started = await primary.PartitionManager.Ask<object>(new ReplicateCheckpoints(name, backup.Name, IntervalMs, Verify: false, null), Wait);
            Assert.True(started is CheckpointStats, (started as LparRefused)?.Reason);
        }, Wait, TimeSpan.FromMilliseconds(250));
        await AwaitAssertAsync(async () =>
        {
            var stats = await StatsAsync(primary, name);
            Assert.True(stats.Epochs >= 20 && stats.Pair is { PrimaryRate: 1.0 }, $"{stats.Epochs} epochs, rate {stats.Pair?.PrimaryRate}");
        }, Wait, TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Sends <see cref="SlowReplica"/> from the primary's node to the backup's firmware, across the wire.</summary>
    private static async Task SlowAsync(ViosNode primary, ViosNode backup, string name, TimeSpan perPage)
    {
        var firmware = primary.System.ActorSelection(new RootActorPath(backup.SelfAddress) / "user" / PartitionFirmwareActor.Name);
        var slowed = await firmware.Ask<object>(new SlowReplica(name, perPage), Wait);
        Assert.Equal(new ReplicaSlowed(name, backup.Name, perPage), slowed);
    }

    private static Task<CheckpointStats> StatsAsync(ViosNode primary, string name) =>
        primary.PartitionManager!.Ask<CheckpointStats>(new GetCheckpointStats(name), Wait);

    private static async Task<long> WritesAsync(ViosNode primary, string name) =>
        (await primary.PartitionManager!.Ask<LparStatus>(new ShowLpar(name), Wait)).Workload!.Writes;

    /// <summary>The pair's counters every 50 ms for <paramref name="duration"/>, and the guest's writes a second over it.</summary>
    private static async Task<(List<FaultTolerantPairStats> Samples, double WritesPerSecond)> SampleAsync(ViosNode primary, string name, TimeSpan duration)
    {
        var (start, clock) = (await WritesAsync(primary, name), Stopwatch.StartNew());
        // The samples are paced by an actor's timer: a measurement window, not a wait for something to happen.
        var sampler = primary.System.ActorOf(Props.Create(() => new Sampler(primary.PartitionManager!, name, TimeSpan.FromMilliseconds(50), duration)));
        var samples = await sampler.Ask<List<FaultTolerantPairStats>>(Sampler.Collect.Instance, duration + Wait);
        var writes = await WritesAsync(primary, name) - start;
        return (samples, writes / clock.Elapsed.TotalSeconds);
    }

    /// <summary>Asks for the pair's counters on a timer until the window closes, then answers with them.</summary>
    private sealed class Sampler : ReceiveActor, IWithTimers
    {
        private readonly List<FaultTolerantPairStats> _samples = [];
        private readonly TimeSpan _every;
        private readonly TimeSpan _window;
        private IActorRef? _replyTo;
        private bool _closed;

        public Sampler(IActorRef manager, string name, TimeSpan every, TimeSpan window)
        {
            (_every, _window) = (every, window);
            Receive<Collect>(_ =>
            {
                _replyTo = Sender;
                Timers.StartPeriodicTimer("sample", Tick.Instance, TimeSpan.Zero, _every);
                Timers.StartSingleTimer("close", Close.Instance, _window);
            });
            Receive<Tick>(_ => manager.Tell(new GetCheckpointStats(name)));
            Receive<CheckpointStats>(stats =>
            {
                if (!_closed && stats.Pair is { } pair) _samples.Add(pair);
            });
            Receive<Close>(_ =>
            {
                _closed = true;
                Timers.CancelAll();
                _replyTo!.Tell(_samples);
                Context.Stop(Self);
            });
        }

        public ITimerScheduler Timers { get; set; } = null!;

        public sealed record Collect
        {
            public static Collect Instance { get; } = new();
        }

        private sealed record Tick
        {
            public static Tick Instance { get; } = new();
        }

        private sealed record Close
        {
            public static Close Instance { get; } = new();
        }
    }
}
