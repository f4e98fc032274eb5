using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;
using Vios.Host.Node;

namespace Vios.Bench;

/// <summary>
/// Issue 5 checkpoint figures.
/// <para>
/// Replication (S23): a 256 MiB partition on one vios node of a two-node cluster, its replica actor
/// on the other (real remoting over loopback). Each epoch the guest runs until 1% of its pages are
/// dirty, then the epoch runs as the coordinator runs it: pre-copy of the pages the modification
/// history calls cold, the stun (collect the dirty log, mark those pages copy-on-write, save the vCPU
/// state, resume), the copy of the stun's pages while the guest runs on,
/// diff-or-whole encoding, the parts and the commit to the replica, and its acknowledgement. The
/// epoch rate is 1 / (time from the pre-copy to the acknowledgement): what the checkpoint path
/// sustains. The guest's own run time between epochs is not in it (in this model the guest runs on
/// the same thread; in a hypervisor it runs during the send).
/// </para>
/// <para>
/// Copy-on-write (S24): the stun of a copy-on-write checkpoint at 64 MiB and 1 GiB, every page
/// touched, against the stun of a full capture (copy every page during the stun) in the same run.
/// </para>
/// </summary>
public static class CheckpointBenchmark
{
    /// <summary>The guest's run between pre-copy and stun, and between stun and the copy of its pages.</summary>
    private static readonly TimeSpan GuestSlice = TimeSpan.FromMilliseconds(0.5);

    public sealed record ReplicationResult(int Epochs, double EpochsPerSecond, double StunP50Ms, double StunP99Ms, long DirtyBytes, long SentBytes, double DiffHitRate, long PreCopied);

    public sealed record CowResult(long MemoryMb, double CowStunMs, double FullStunMs, int Pages);

    public static async Task<ReplicationResult> ReplicateAsync(int epochs, long memoryMb, double dirtyShare, TextWriter log)
    {
        var root = Path.Combine(Path.GetTempPath(), $"vios-bench-{Guid.NewGuid():N}"[..22]);
        await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { RootDirectory = root, DeleteOnDispose = true, LogLevel = "warning" }, 2);
        var (primary, backup) = (cluster.ViosNodes[0], cluster.ViosNodes[1]);
        var pageCount = memoryMb * 1024 * 1024 / GuestMemory.PageSize;
        using var lpar = NewLpar("bench", memoryMb);
        using var sender = new ReplicationSender(pageCount);

        var acks = new AckInbox();
        var inbox = primary.System.ActorOf(Props.Create(() => new AckForwarder(acks)));
        var firmware = primary.System.ActorSelection(new RootActorPath(backup.SelfAddress) / "user" / "firmware");
        firmware.Tell(new StartReplica("bench", pageCount, primary.Name), inbox);
        var replica = (await acks.NextAsync<ReplicaReady>()).Sender;

        var target = (int)(pageCount * dirtyShare);
        var gcBefore = GC.CollectionCount(0);
        var stuns = new List<double>();
        long dirty = 0, sent = 0;
        var outstanding = new Queue<long>();
        async Task AwaitOldestAsync()
        {
            ReplicaAck ack;
            try
            {
                ack = (ReplicaAck)(await acks.NextAsync<ReplicaAck>()).Message;
            }
            catch (OperationCanceledException)
            {
                var status = await firmware.Ask<object>(new GetReplicaStatus("bench"), TimeSpan.FromSeconds(5));
                throw new TimeoutException($"no acknowledgement of epoch {outstanding.Peek()} within 30 s; the replica says {status}");
            }
            if (ack.Epoch != outstanding.Dequeue()) throw new InvalidOperationException($"epoch {ack.Epoch} acknowledged out of order");
            sender.Feedback(ack.Added, ack.Dropped);
        }

        // The first epoch sends the whole image: not a steady-state epoch, and not timed.
        var path = new Stopwatch();
        for (var epoch = 1L; epoch <= epochs + 1; epoch++)
        {
            var full = epoch == 1;
            // The guest runs until the epoch's share of pages is dirty (not timed: in a hypervisor it
            // runs while the previous epoch is on its way).
            while (!full && lpar.Vmm!.DirtyLog.DirtyCount < target) lpar.Advance(TimeSpan.FromMilliseconds(1));
            if (epoch == 2) path.Start();
            else if (!full) path.Start();
            var parts = 0;
            long epochSent = 0;
            void Send(uint[] frames, Func<int, ReadOnlySpan<byte>> page, bool preCopy)
            {
                var writer = new ReplicaPayload.Writer();
                sender.Encode(frames, page, writer, preCopy);
                foreach (var part in writer.Complete())
                {
                    replica.Tell(new ReplicaPart("bench", epoch, parts++, part), inbox);
                    epochSent += part.Length;
                }
            }
            var (preFrames, prePages) = full ? ([], []) : lpar.PreCopy(sender.IsCold);
            Send(preFrames, i => prePages.AsSpan(i * GuestMemory.PageSize, GuestMemory.PageSize), preCopy: true);
            EpochCapture? capture;
            if (full)
            {
                (capture, _) = lpar.Capture(epoch, full, withChecksum: false);
            }
            else
            {
                // The guest runs on while the pre-copied pages are sent (and may write some of them
                // again), then the stun marks the dirty pages copy-on-write, and the guest runs on
                // while they are copied, as the LPAR actor interleaves its workload ticks.
                path.Stop();
                lpar.Advance(GuestSlice);
                path.Start();
                var (_, refusal) = lpar.StunDeferred(epoch);
                if (refusal is not null) throw new InvalidOperationException(refusal);
                path.Stop();
                lpar.Advance(GuestSlice);
                path.Start();
                capture = lpar.FinishDeferredCapture();
            }
            sender.RecordEpoch([.. capture!.Frames, .. preFrames]);
            Send(capture.Frames, i => capture.Page(i), preCopy: false);
            replica.Tell(new ReplicaCommit("bench", epoch, parts, capture.VcpuState, null), inbox);
            outstanding.Enqueue(epoch);
            // As the coordinator does: at most two epochs wait for their acknowledgement.
            while (outstanding.Count >= (full ? 1 : EpochCoordinator<object>.PipelineDepth)) await AwaitOldestAsync();
            path.Stop();
            if (full) continue;
            stuns.Add(capture.Stun.TotalMilliseconds);
            dirty += capture.Bytes + ((long)preFrames.Length * GuestMemory.PageSize);
            sent += epochSent;
        }
        path.Start();
        while (outstanding.Count > 0) await AwaitOldestAsync();
        path.Stop();
        var pipeline = path.Elapsed;
        stuns.Sort();
        var result = new ReplicationResult(epochs, epochs / pipeline.TotalSeconds, Percentile(stuns, 50), Percentile(stuns, 99), dirty, sent,
            (double)sender.DiffPages / (sender.DiffPages + sender.WholePages), sender.PreCopiedPages);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {epochs} epochs ({GC.CollectionCount(0) - gcBefore} gen0 collections in this process): {result.EpochsPerSecond:0} epochs/s, stun p50 {result.StunP50Ms:0.000} ms p99 {result.StunP99Ms:0.000} ms, {dirty / 1e6:0.0} MB dirty, {sent / 1e6:0.0} MB sent"));
        return result;
    }

    public static IReadOnlyList<CowResult> CowStuns(IReadOnlyList<long> sizesMb, int runs, TextWriter log)
    {
        var results = new List<CowResult>();
        foreach (var size in sizesMb)
        {
            var cow = new List<double>();
            var full = new List<double>();
            var pages = 0;
            for (var run = 0; run < runs; run++)
            {
                using var lpar = NewLpar("cow", size);
                TouchEveryPage(lpar);
                var (capture, _) = lpar.Capture(1, full: true, withChecksum: false);
                full.Add(capture!.Stun.TotalMilliseconds);
                pages = capture.Frames.Length;
                lpar.PrepareCow(2);
                var (stun, _) = lpar.StunCow(2);
                cow.Add(stun.TotalMilliseconds);
                while (lpar.SaveCowPages(4096) > 0) { }
                lpar.CompleteCow(2, stun);
            }
            cow.Sort();
            full.Sort();
            var result = new CowResult(size, cow[cow.Count / 2], full[full.Count / 2], pages);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {size} MiB: copy-on-write stun {result.CowStunMs:0.000} ms, full-capture stun {result.FullStunMs:0.0} ms ({pages:N0} pages)"));
            results.Add(result);
        }
        return results;
    }

    /// <summary>A guest that has written every page of its memory (a worst case for a full capture, the usual case for a long-running one).</summary>
    private static void TouchEveryPage(Lpar lpar)
    {
        var table = new GuestPageTable(0x2000_0000, (int)lpar.Memory!.PageCount);
        for (uint page = 0; page < (uint)table.Length; page++) table.Map(page, page);
        lpar.Vmm!.LoadPageTableBase(table);
        Span<byte> data = stackalloc byte[64];
        data.Fill(0xA5);
        for (uint page = 0; page < (uint)table.Length; page++) lpar.Vmm.Write(page, 0, data);
        lpar.Vmm.DirtyLog.Collect();
    }

    private static Lpar NewLpar(string name, long memoryMb)
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("bench", [new ResourceDomain("cec1/node0", 8, 64 * 1024, [])]));
        var allocation = planner.Place(new ResourceRequest(name, 2, memoryMb, [], PlacementPolicy.Locality)).Allocation!;
        var lpar = new Lpar(new LparDefinition(name, 2, memoryMb, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UtcNow), VmmSettings.Default);
        lpar.Start();
        // The skewed workload of the partitions issue: 90% of writes to the hot tenth of each process's pages.
        lpar.SetWorkload(new RunWorkload(name, 1_000_000, 0.9, 8, Seed: 1));
        return lpar;
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>Replies from the replica (and its firmware), with their senders, for the bench loop to await.</summary>
    private sealed class AckInbox
    {
        private readonly System.Threading.Channels.Channel<(object Message, IActorRef Sender)> _channel =
            System.Threading.Channels.Channel.CreateUnbounded<(object, IActorRef)>();

        public void Post(object message, IActorRef sender) => _channel.Writer.TryWrite((message, sender));

        public async Task<(object Message, IActorRef Sender)> NextAsync<T>()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                var next = await _channel.Reader.ReadAsync(timeout.Token);
                if (next.Message is T) return next;
                if (next.Message is ReplicaFailed failed) throw new InvalidOperationException($"the replica failed epoch {failed.Epoch}: {failed.Reason}");
            }
        }
    }

    private sealed class AckForwarder : ReceiveActor
    {
        public AckForwarder(AckInbox inbox) => ReceiveAny(message => inbox.Post(message, Sender));
    }
}
