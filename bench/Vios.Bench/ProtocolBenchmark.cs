using System.Diagnostics;
using Akka.Actor;
using Vios.Actors.Cluster;
using Vios.Actors.Protocol;
using Vios.Host.Node;

namespace Vios.Bench;

/// <summary>
/// S1 throughput between separate ActorSystems over loopback TCP. Request/response round trips
/// through daemon, VKE, kcluster, VKE, daemon and back with response matching, against a plain
/// Akka request/response between the same two systems carrying the same bytes; then broadcasts
/// with responses to every vios node.
/// </summary>
public static class ProtocolBenchmark
{
    public sealed record Result(string Path, int Senders, double PerSecond, double P50Micros, double P99Micros);

    /// <param name="runs">Measured runs per case; the two round-trip paths alternate run by run and the median run is reported.</param>
    public static async Task<IReadOnlyList<Result>> RunAsync(
        int[] senderCounts, int[] broadcasters, int broadcastNodes, TimeSpan duration, int payloadBytes, int runs, TextWriter log)
    {
        var payload = new byte[payloadBytes];
        Random.Shared.NextBytes(payload);
        var results = new List<Result>();

        // Round trips: two vios nodes (and their lighthouse), as the issue specifies.
        await using (var pair = await StartClusterAsync(2))
        {
            var (a, b) = (pair.ViosNodes[0], pair.ViosNodes[1]);
            b.System.ActorOf(Props.Create(() => new PlainEcho()), "plain-echo");
            var plainTarget = await a.System.ActorSelection(new RootActorPath(b.SelfAddress) / "user" / "plain-echo").ResolveOne(TimeSpan.FromSeconds(10));
            var bNode = KClusterInterface.NodeIdOf(b.Cluster.SelfUniqueAddress);
            foreach (var senders in senderCounts)
            {
                // The two paths alternate run by run at each concurrency, so both see the machine's ups and downs.
                var plain = new List<Result>();
                var protocol = new List<Result>();
                for (var run = 0; run < runs; run++)
                {
                    plain.Add(await MeasureAsync(a, "plain Akka request/response", senders, duration, log,
                        (done, i) => Props.Create(() => new PlainPinger(plainTarget, payload, done))));
                    protocol.Add(await MeasureAsync(a, "S1 daemon-VKE-kcluster-VKE-daemon", senders, duration, log,
                        (done, i) => Props.Create(() => new ProtocolPinger(a.Vke!, $"bench-{senders}-{run}-{i}", (self, id) =>
                            Frames.Send(self, bNode, id, "echo", payload, responseRequired: true, TimeSpan.FromSeconds(10)), done))));
                }
                results.Add(MedianRun(plain));
                results.Add(MedianRun(protocol));
            }
        }

        await using (var cluster = await StartClusterAsync(broadcastNodes))
        {
            var a = cluster.ViosNodes[0];
            foreach (var senders in broadcasters)
            {
                var broadcast = new List<Result>();
                for (var run = 0; run < runs; run++)
                {
                    broadcast.Add(await MeasureAsync(a, $"S1 broadcast to {broadcastNodes} nodes", senders, duration, log,
                        (done, i) => Props.Create(() => new ProtocolPinger(a.Vke!, $"bcast-{senders}-{run}-{i}", (self, id) =>
                            Frames.Broadcast(self, id, "echo", payload, responseRequired: true, TimeSpan.FromSeconds(10)), done))));
                }
                results.Add(MedianRun(broadcast));
            }
        }
        return results;
    }

    private static Result MedianRun(List<Result> runs) => runs.OrderBy(r => r.PerSecond).ElementAt(runs.Count / 2);

    private static Task<LocalCluster> StartClusterAsync(int viosNodes) => LocalCluster.StartAsync(new LocalClusterOptions
    {
        RootDirectory = Path.Combine(Path.GetTempPath(), $"vios-bench-{Guid.NewGuid():N}"[..23]),
        DeleteOnDispose = true,
        LogLevel = "warning",
    }, viosNodes);

    /// <summary>Closed-loop senders on node <paramref name="a"/>: a 1 s warm-up, then the measured run, each with fresh senders.</summary>
    private static async Task<Result> MeasureAsync(ViosNode a, string path, int senders, TimeSpan length, TextWriter output, Func<Recorder, int, Props> props)
    {
        await RunOnceAsync(senders, TimeSpan.FromSeconds(1), props);
        var recorders = await RunOnceAsync(senders, length, props);
        var latencies = recorders.SelectMany(r => r.Latencies).Order().ToArray();
        var result = new Result(path, senders, latencies.Length / length.TotalSeconds,
            Percentile(latencies, 0.50), Percentile(latencies, 0.99));
        output.WriteLine($"  {path}, {senders} senders: {result.PerSecond:0} /s, p50 {result.P50Micros:0} µs, p99 {result.P99Micros:0} µs");
        return result;

        async Task<Recorder[]> RunOnceAsync(int count, TimeSpan runFor, Func<Recorder, int, Props> make)
        {
            var deadline = Stopwatch.GetTimestamp() + (long)(runFor.TotalSeconds * Stopwatch.Frequency);
            var recorders = Enumerable.Range(0, count).Select(_ => new Recorder(deadline)).ToArray();
            for (var i = 0; i < count; i++) a.System.ActorOf(make(recorders[i], i));
            await Task.WhenAll(recorders.Select(r => r.Finished));
            return recorders;
        }
    }

    private static double Percentile(long[] sortedTicks, double p) =>
        sortedTicks.Length == 0 ? double.NaN : sortedTicks[Math.Min(sortedTicks.Length - 1, (int)(p * sortedTicks.Length))] * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary>One closed-loop sender's latencies; it stops at the deadline.</summary>
    public sealed class Recorder(long deadline)
    {
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<long> Latencies { get; } = new(100_000);
        public Task Finished => _finished.Task;

        /// <summary>Records one round trip; false once the deadline has passed.</summary>
        public bool Record(long startedAt)
        {
            var now = Stopwatch.GetTimestamp();
            Latencies.Add(now - startedAt);
            if (now < deadline) return true;
            _finished.TrySetResult();
            return false;
        }

        public void Fail(string reason) => _finished.TrySetException(new InvalidOperationException(reason));
    }

    private sealed class PlainEcho : ReceiveActor
    {
        public PlainEcho() => Receive<VkePacket>(packet => Sender.Tell(packet));
    }

    /// <summary>The baseline: a plain remote tell and reply with the same bytes (our cheapest message).</summary>
    private sealed class PlainPinger : ReceiveActor
    {
        private long _startedAt;

        public PlainPinger(IActorRef target, byte[] payload, Recorder recorder)
        {
            var request = new VkePacket(payload);
            Receive<VkePacket>(_ =>
            {
                if (!recorder.Record(_startedAt))
                {
                    Context.Stop(Self);
                    return;
                }
                _startedAt = Stopwatch.GetTimestamp();
                target.Tell(request);
            });
            _startedAt = Stopwatch.GetTimestamp();
            target.Tell(request);
        }
    }

    /// <summary>A sending daemon in a closed loop: builds, encodes and submits a packet, waits for its responses.</summary>
    private sealed class ProtocolPinger : ReceiveActor
    {
        private long _startedAt;

        public ProtocolPinger(IActorRef vke, string daemonId, Func<ulong, string, ViosFrame> build, Recorder recorder)
        {
            ulong self = 0;
            var systemCalls = VkeSystemCalls.Get(Context.System);
            void Send()
            {
                _startedAt = Stopwatch.GetTimestamp();
                systemCalls.Submit(FrameCodec.Encode(build(self, daemonId)), null, Self);
            }

            Receive<DaemonRegistered>(registered =>
            {
                self = registered.NodeId;
                Send();
            });
            Receive<ResponsesCollected>(collected =>
            {
                if (collected.Missing.Count > 0 || collected.Responses.Any(r => r.IsError))
                {
                    recorder.Fail($"round trip {collected.MessageId:x} incomplete");
                    Context.Stop(Self);
                    return;
                }
                if (recorder.Record(_startedAt)) Send();
                else Context.Stop(Self);
            });
            Receive<PacketRefused>(refused =>
            {
                recorder.Fail(refused.Reason);
                Context.Stop(Self);
            });
            Receive<DaemonRefused>(refused => recorder.Fail(refused.Reason));
            vke.Tell(new RegisterDaemon(daemonId));
        }
    }
}
