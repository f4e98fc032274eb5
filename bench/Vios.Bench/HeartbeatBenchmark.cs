using System.Diagnostics;
using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Host.Node;

namespace Vios.Bench;

/// <summary>
/// S16 against one heartbeat per guest: node-to-node heartbeat messages and bytes per second for
/// 1,000 partitions on 4 vios nodes, measured on real ActorSystems (an in-process
/// <see cref="LocalCluster"/> over loopback TCP, our serializer). Each node runs its real
/// <see cref="HeartbeatActor"/> and 250 simulated guest agents, each an actor with its own timer at
/// the configured heartbeat interval, started at a random phase. The schemes run one after the
/// other on the same cluster:
/// <list type="bullet">
/// <item>S16 (aggregated): each agent sends <see cref="GuestAlive"/> to its own node's master; the
/// masters exchange one <see cref="AggregatedHeartbeat"/> per interval (their counters, read with
/// <see cref="GetHeartbeatStats"/>).</item>
/// <item>per guest, to its standby's node: each agent sends its <see cref="GuestAlive"/> across to a
/// receiver on the node its standby would be on (the other three nodes in turn).</item>
/// <item>per guest, to every other node: each agent sends it to all three other nodes.</item>
/// </list>
/// Bytes: each message's payload as our serializer writes it, and an estimate of what Akka.Remote
/// puts on the wire for it (its protobuf envelope with the recipient and sender paths, and the
/// 4-byte frame length; <see cref="WireBytes"/>).
/// </summary>
public static class HeartbeatBenchmark
{
    private const string ReceiverName = "guest-heartbeats";

    public enum Scheme
    {
        Off,
        Aggregated,
        PerGuestToStandby,
        PerGuestToEveryNode,
    }

    /// <param name="Messages">Node-to-node heartbeat messages sent in the measured window.</param>
    /// <param name="Delivered">Of those, received by the other side.</param>
    /// <param name="LocalGuestHeartbeats">Guest heartbeats to their own node's master (not node-to-node).</param>
    /// <param name="CpuCores">Processor time of the whole process (five ActorSystems) over wall time.</param>
    public sealed record Result(
        Scheme Scheme,
        double Seconds,
        long Messages,
        long Delivered,
        double PayloadBytesPerMessage,
        double WireBytesPerMessage,
        long LocalGuestHeartbeats,
        double CpuCores)
    {
        public double MessagesPerSecond => Messages / Seconds;
        public double PayloadBytesPerSecond => Messages * PayloadBytesPerMessage / Seconds;
        public double WireBytesPerSecond => Messages * WireBytesPerMessage / Seconds;
    }

    public static async Task<(IReadOnlyList<Result> Results, TimeSpan Interval, double ModelMessagesPerSecond)> RunAsync(
        int nodeCount, int guestsPerNode, TimeSpan measure, TextWriter log)
    {
        var root = Path.Combine(Path.GetTempPath(), $"vios-heartbeats-{Guid.NewGuid():N}"[..30]);
        await using var cluster = LocalCluster.Create(new LocalClusterOptions { RootDirectory = root, DeleteOnDispose = true, LogLevel = "warning" });
        await cluster.StartLighthouseAsync();
        for (var i = 1; i <= nodeCount; i++)
            await cluster.StartViosNodeAsync(awaitUp: false, customize: o => o with { Name = $"vios{i}" });
        await cluster.AwaitConvergenceAsync();
        var nodes = cluster.ViosNodes;
        var interval = AvailabilitySettings.FromConfig(nodes[0].System.Settings.Config).Heartbeat.Interval;
        log.WriteLine($"  {nodes.Count} vios nodes up; heartbeat interval {interval.TotalMilliseconds:0} ms");
        await AwaitAsync(async () => (await StatsAsync(nodes)).All(s => s.Peers.Count == nodeCount - 1), "every master hears its peers");

        var counters = new GuestCounters();
        foreach (var node in nodes) node.System.ActorOf(Props.Create(() => new GuestHeartbeatReceiver(counters)), ReceiverName);
        var receivers = new Dictionary<(int From, int To), IActorRef>();
        for (var from = 0; from < nodes.Count; from++)
        {
            for (var to = 0; to < nodes.Count; to++)
            {
                if (from == to) continue;
                receivers[(from, to)] = await nodes[from].System
                    .ActorSelection(new RootActorPath(nodes[to].SelfAddress) / "user" / ReceiverName)
                    .ResolveOne(TimeSpan.FromSeconds(10));
            }
        }

        var guests = new List<IActorRef>();
        var names = new List<string>();
        for (var n = 0; n < nodes.Count; n++)
        {
            var others = Enumerable.Range(0, nodes.Count).Where(o => o != n).Select(o => receivers[(n, o)]).ToList();
            for (var k = 0; k < guestsPerNode; k++)
            {
                var lpar = $"lpar-{n * guestsPerNode + k + 1:0000}";
                // Standbys spread over the other nodes in turn.
                var standby = others[k % others.Count];
                names.Add(lpar);
                guests.Add(nodes[n].System.ActorOf(Props.Create(() => new GuestAgent(lpar, nodes[n].Heartbeat!, standby, others, interval, counters)), lpar));
            }
        }

        // Warm-up: every scheme once, unmeasured, so no measured window pays for JIT compilation.
        var schemes = new[] { Scheme.Aggregated, Scheme.PerGuestToStandby, Scheme.PerGuestToEveryNode, Scheme.Off };
        foreach (var scheme in schemes) await UseAsync(scheme);

        var results = new List<Result>();
        foreach (var scheme in schemes)
        {
            await UseAsync(scheme);

            var before = await StatsAsync(nodes);
            var (sent, received) = (counters.Sent, counters.Received);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await Task.Delay(measure);
            var after = await StatsAsync(nodes);
            var (sentAfter, receivedAfter) = (counters.Sent, counters.Received);
            var seconds = clock.Elapsed.TotalSeconds;
            var cores = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / seconds;
            var local = after.Zip(before, (a, b) => a.Counters.GuestHeartbeatsReceived - b.Counters.GuestHeartbeatsReceived).Sum();

            Result result;
            if (scheme is Scheme.Aggregated or Scheme.Off)
            {
                // S16 only: the masters' aggregated heartbeats (in Off they list no guests).
                var messages = after.Zip(before, (a, b) => a.Counters.NodeMessagesSent - b.Counters.NodeMessagesSent).ToList();
                var delivered = after.Zip(before, (a, b) => a.Counters.PeerHeartbeatsReceived - b.Counters.PeerHeartbeatsReceived).Sum();
                var (payload, wire) = (0.0, 0.0);
                for (var n = 0; n < nodes.Count; n++)
                {
                    var (p, w) = AggregatedBytes(nodes[n], nodes[(n + 1) % nodes.Count], after[n]);
                    payload += p * messages[n];
                    wire += w * messages[n];
                }
                var total = messages.Sum();
                result = new Result(scheme, seconds, total, delivered, total == 0 ? 0 : payload / total, total == 0 ? 0 : wire / total, local, cores);
            }
            else
            {
                var (payload, wire) = GuestAliveBytes(nodes[0], nodes[1], names[0]);
                result = new Result(scheme, seconds, sentAfter - sent, receivedAfter - received, payload, wire, local, cores);
            }
            results.Add(result);
            log.WriteLine($"  {scheme}: {result.MessagesPerSecond:N0} node-to-node messages/s ({result.Delivered:N0} of {result.Messages:N0} delivered), "
                + $"{result.PayloadBytesPerSecond:N0} payload B/s, ~{result.WireBytesPerSecond:N0} wire B/s, {result.CpuCores:0.00} cores");
        }

        foreach (var guest in guests) guest.Tell(PoisonPill.Instance);
        return (results, interval, ModelMessagesPerSecond(nodeCount, guestsPerNode, interval));

        async Task UseAsync(Scheme scheme)
        {
            foreach (var guest in guests) guest.Tell(new UseScheme(scheme));
            if (scheme == Scheme.Aggregated)
                await AwaitAsync(async () => (await StatsAsync(nodes)).All(s => s.LiveGuests.Count == guestsPerNode), "every master lists its guests live");
            // Settle: every agent has beaten in the new scheme, and the masters have ticked with the new lists.
            await Task.Delay(interval * 4);
        }
    }

    /// <summary>What the pure model (<see cref="HeartbeatNetwork"/>) counts for the same placement: node-to-node messages per second.</summary>
    private static double ModelMessagesPerSecond(int nodeCount, int guestsPerNode, TimeSpan interval)
    {
        var nodes = Enumerable.Range(1, nodeCount).Select(i => $"vios{i}").ToList();
        var network = new HeartbeatNetwork(nodes, HeartbeatSettings.Default with { Interval = interval }, DateTimeOffset.UnixEpoch);
        for (var n = 0; n < nodeCount; n++)
            for (var k = 0; k < guestsPerNode; k++)
                network.Place($"lpar-{n * guestsPerNode + k + 1:0000}", nodes[n], nodes[(n + 1 + k % (nodeCount - 1)) % nodeCount]);
        const int intervals = 20;
        network.Advance(intervals);
        return network.NodeToNodeMessages / (intervals * interval.TotalSeconds);
    }

    private static async Task<IReadOnlyList<HeartbeatStats>> StatsAsync(IReadOnlyList<ViosNode> nodes) =>
        await Task.WhenAll(nodes.Select(n => n.Heartbeat!.Ask<HeartbeatStats>(GetHeartbeatStats.Instance, TimeSpan.FromSeconds(10))));

    private static async Task AwaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not within 60 s");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// One master's aggregated heartbeat as it goes to a peer: sent with <c>ActorSelection</c>, so the
    /// payload is our serializer's bytes inside Akka's selection envelope (path elements user/heartbeat),
    /// addressed to the peer's root and sent from the master.
    /// </summary>
    private static (double Payload, double Wire) AggregatedBytes(ViosNode node, ViosNode peer, HeartbeatStats stats)
    {
        var heartbeat = new AggregatedHeartbeat(stats.Node, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), stats.Counters.NodeMessagesSent / Math.Max(1, stats.Peers.Count),
            stats.LiveGuests) { SilentNodes = stats.SilentPeers };
        var payload = Serialized(node.System, heartbeat).Bytes;
        var selection = new ActorSelectionMessage(heartbeat, [new SelectChildName("user"), new SelectChildName(HeartbeatActor.Name)]);
        var (selectionBytes, serializerId, manifest) = Serialized(node.System, selection);
        var wire = WireBytes(selectionBytes, serializerId, manifest, new RootActorPath(peer.SelfAddress).ToString(),
            (new RootActorPath(node.SelfAddress) / "user" / HeartbeatActor.Name).ToString());
        return (payload, wire);
    }

    /// <summary>One guest's heartbeat as it crosses: told to the resolved receiver, from the guest agent.</summary>
    private static (double Payload, double Wire) GuestAliveBytes(ViosNode node, ViosNode peer, string lpar)
    {
        var (payload, serializerId, manifest) = Serialized(node.System, new GuestAlive(lpar));
        var wire = WireBytes(payload, serializerId, manifest, (new RootActorPath(peer.SelfAddress) / "user" / ReceiverName).ToString(),
            (new RootActorPath(node.SelfAddress) / "user" / lpar).ToString());
        return (payload, wire);
    }

    private static (int Bytes, int SerializerId, string Manifest) Serialized(ActorSystem system, object message)
    {
        var serializer = system.Serialization.FindSerializerFor(message);
        return (serializer.ToBinary(message).Length, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));
    }

    /// <summary>
    /// What Akka.Remote (DotNetty TCP) writes for one user message, from the protobuf field sizes: a
    /// 4-byte frame length, then AckAndEnvelopeContainer { RemoteEnvelope { recipient { path },
    /// message { bytes, serializer id, manifest }, sender { path }, seq (fixed64) } }. An estimate:
    /// it leaves out batching (several frames in one TCP segment) and TCP/IP headers.
    /// </summary>
    public static int WireBytes(int payload, int serializerId, string manifest, string recipientPath, string senderPath)
    {
        static int Field(int length) => 1 + Varint(length) + length;
        var message = Field(payload) + 1 + Varint(serializerId) + (manifest.Length == 0 ? 0 : Field(manifest.Length));
        var envelope = Field(Field(recipientPath.Length)) + Field(message) + Field(Field(senderPath.Length)) + 1 + 8;
        return 4 + Field(envelope);
    }

    private static int Varint(int value)
    {
        var bytes = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            bytes++;
        }
        return bytes;
    }

    private sealed class GuestCounters
    {
        private long _sent;
        private long _received;

        public long Sent => Interlocked.Read(ref _sent);
        public long Received => Interlocked.Read(ref _received);

        public void CountSent(int messages) => Interlocked.Add(ref _sent, messages);
        public void CountReceived() => Interlocked.Increment(ref _received);
    }

    private sealed record UseScheme(Scheme Scheme);

    private sealed record Beat
    {
        public static Beat Instance { get; } = new();
    }

    /// <summary>A simulated guest agent (the S16 slave program): heartbeats every interval as its scheme says.</summary>
    private sealed class GuestAgent : ReceiveActor, IWithTimers
    {
        public GuestAgent(string lpar, IActorRef master, IActorRef standby, IReadOnlyList<IActorRef> everyOtherNode, TimeSpan interval, GuestCounters counters)
        {
            var scheme = Scheme.Off;
            Receive<UseScheme>(use =>
            {
                // Leaving S16 on purpose: its master stops watching it instead of reporting it silent.
                if (scheme == Scheme.Aggregated && use.Scheme != Scheme.Aggregated) master.Tell(new GuestGone(lpar));
                scheme = use.Scheme;
                if (scheme == Scheme.Off) Timers.Cancel("beat");
                else if (!Timers.IsTimerActive("beat"))
                    Timers.StartPeriodicTimer("beat", Beat.Instance, TimeSpan.FromTicks(Random.Shared.NextInt64(interval.Ticks)), interval);
            });
            Receive<Beat>(_ =>
            {
                switch (scheme)
                {
                    case Scheme.Aggregated:
                        master.Tell(new GuestAlive(lpar));
                        break;
                    case Scheme.PerGuestToStandby:
                        standby.Tell(new GuestAlive(lpar));
                        counters.CountSent(1);
                        break;
                    case Scheme.PerGuestToEveryNode:
                        foreach (var node in everyOtherNode) node.Tell(new GuestAlive(lpar));
                        counters.CountSent(everyOtherNode.Count);
                        break;
                }
            });
        }

        public ITimerScheduler Timers { get; set; } = null!;
    }

    /// <summary>The other side of a per-guest heartbeat: a node's record of when it last heard each guest.</summary>
    private sealed class GuestHeartbeatReceiver : ReceiveActor
    {
        public GuestHeartbeatReceiver(GuestCounters counters)
        {
            var lastHeard = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            Receive<GuestAlive>(alive =>
            {
                lastHeard[alive.Lpar] = DateTimeOffset.UtcNow;
                counters.CountReceived();
            });
        }
    }
}
