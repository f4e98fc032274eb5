using System.Diagnostics;
using System.Globalization;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;

namespace Vios.Bench;

/// <summary>
/// Issue 5: S23 page diffs. One operation per candidate page: <see cref="PageDiff.Encode"/> of the
/// page as last sent and the page now into a reused buffer, then <see cref="PageDiff.Apply"/> of that
/// diff to the backup's copy; a refused page (-1) is copied whole into the backup's copy instead, as
/// the caller sends it. The two halves run on different machines in S23, so each is also measured
/// alone: encode (a refused page copied whole into the reused send buffer) and apply (of diffs
/// encoded beforehand, one buffer slot per page; a refused page copied whole). The baseline in the
/// same run is memcpy (<see cref="Span{T}.CopyTo"/>) of the same pages into another buffer: sending
/// every page whole. All pages live in <see cref="GuestMemory"/> mappings, page-aligned as guest
/// memory is.
/// </summary>
public static class DiffBenchmark
{
    private const int PageSize = PageDiff.PageSize;

    public sealed record Result(
        string Workload,
        int Pages,
        double DiffBytesPerPageByte,
        double RefusedShare,
        double DiffPagesPerSecond,
        double EncodePagesPerSecond,
        double ApplyPagesPerSecond,
        double CopyPagesPerSecond,
        double AllocatedBytesPerPage)
    {
        public double DiffGigabytesPerSecond => DiffPagesPerSecond * PageSize / 1e9;

        public double EncodeGigabytesPerSecond => EncodePagesPerSecond * PageSize / 1e9;

        public double ApplyGigabytesPerSecond => ApplyPagesPerSecond * PageSize / 1e9;

        public double CopyGigabytesPerSecond => CopyPagesPerSecond * PageSize / 1e9;
    }

    /// <summary>
    /// Pages of <paramref name="pages"/> frames where <paramref name="writes"/> 64-byte guest writes of
    /// random bytes at random offsets changed each page since it was last sent (as
    /// <see cref="WorkloadEngine"/> writes); 0 writes means the page was rewritten whole with random bytes.
    /// </summary>
    public static Result RunWrites(int pages, int writes, TimeSpan duration, TimeSpan warmup, int runs, TextWriter log)
    {
        using var old = new GuestMemory(pages);
        using var current = new GuestMemory(pages);
        var random = new Random(5 + writes);
        var frames = new uint[pages];
        Span<byte> data = stackalloc byte[64];
        for (uint frame = 0; frame < pages; frame++)
        {
            frames[frame] = frame;
            random.NextBytes(old.Page(frame));
            old.Page(frame).CopyTo(current.Page(frame));
            if (writes == 0)
            {
                random.NextBytes(current.Page(frame));
            }

            for (var i = 0; i < writes; i++)
            {
                random.NextBytes(data);
                data.CopyTo(current.Page(frame)[random.Next(PageSize - data.Length + 1)..]);
            }
        }

        var name = writes == 0 ? "page rewritten (refused: sent whole)" : $"{writes} × 64-byte write{(writes == 1 ? "" : "s")} per page";
        return Run(name, old, current, frames, duration, warmup, runs, log);
    }

    /// <summary>
    /// The dirty pages of one checkpoint interval of a seeded <see cref="WorkloadEngine"/> guest (8
    /// processes, 512-entry tables, 90% of the 64-byte writes to 10% of the pages), found by the
    /// dirty log: a few hot pages written many times, many cold pages written once.
    /// </summary>
    public static Result RunWorkloadInterval(int guestPages, int intervalOperations, TimeSpan duration, TimeSpan warmup, int runs, TextWriter log)
    {
        using var memory = new GuestMemory(guestPages);
        using var lastSent = new GuestMemory(guestPages);
        var vmm = new Vmm(memory);
        var engine = new WorkloadEngine(memory, vmm, WorkloadSettings.Default, seed: 5);
        // Fill memory with the guest's own writes before the checkpoint that the diffs are against.
        engine.Step(2_000_000);
        vmm.DirtyLog.Collect();
        for (uint frame = 0; frame < guestPages; frame++)
        {
            memory.Page(frame).CopyTo(lastSent.Page(frame));
        }

        engine.Step(intervalOperations);
        var dirty = vmm.DirtyLog.Collect();
        var name = $"WorkloadEngine interval of {intervalOperations:#,0} operations ({dirty.Length:#,0} dirty pages)";
        return Run(name, lastSent, memory, dirty, duration, warmup, runs, log);
    }

    private static Result Run(string workload, GuestMemory old, GuestMemory current, uint[] frames, TimeSpan duration, TimeSpan warmup, int runs, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        using var backup = new GuestMemory(old.PageCount);
        using var copyTarget = new GuestMemory(old.PageCount);
        foreach (var frame in frames)
        {
            old.Page(frame).CopyTo(backup.Page(frame));
            copyTarget.Page(frame).Clear();
        }

        var diff = new byte[PageDiff.MaxEncodedLength];
        var sendBuffer = new byte[PageSize];
        // Diffs encoded beforehand for the apply-only side, one slot per page (a refusal is -1).
        var stored = new byte[frames.Length * PageDiff.MaxEncodedLength];
        var storedLengths = new int[frames.Length];
        for (var i = 0; i < frames.Length; i++)
        {
            storedLengths[i] = PageDiff.Encode(old.Page(frames[i]), current.Page(frames[i]), stored.AsSpan(i * PageDiff.MaxEncodedLength, PageDiff.MaxEncodedLength));
        }

        // One pass over every candidate page; returns the bytes that would go on the wire.
        long DiffPass()
        {
            long sent = 0;
            foreach (var frame in frames)
            {
                var page = current.Page(frame);
                var length = PageDiff.Encode(old.Page(frame), page, diff);
                if (length >= 0)
                {
                    PageDiff.Apply(backup.Page(frame), diff.AsSpan(0, length));
                    sent += length;
                }
                else
                {
                    page.CopyTo(backup.Page(frame));
                    sent += PageSize;
                }
            }

            return sent;
        }

        long EncodePass()
        {
            long sent = 0;
            foreach (var frame in frames)
            {
                var page = current.Page(frame);
                var length = PageDiff.Encode(old.Page(frame), page, diff);
                if (length < 0)
                {
                    page.CopyTo(sendBuffer);
                    length = PageSize;
                }

                sent += length;
            }

            return sent;
        }

        long ApplyPass()
        {
            long seen = 0;
            for (var i = 0; i < frames.Length; i++)
            {
                var target = backup.Page(frames[i]);
                var length = storedLengths[i];
                if (length >= 0)
                {
                    PageDiff.Apply(target, stored.AsSpan(i * PageDiff.MaxEncodedLength, length));
                }
                else
                {
                    current.Page(frames[i]).CopyTo(target);
                }

                seen += target[0];
            }

            return seen;
        }

        long CopyPass()
        {
            long seen = 0;
            foreach (var frame in frames)
            {
                var target = copyTarget.Page(frame);
                current.Page(frame).CopyTo(target);
                seen += target[0];
            }

            return seen;
        }

        // Once, outside the clock: the backup must come out equal to the page now, and what it costs on the wire.
        var sentBytes = DiffPass();
        var refused = frames.Count(frame => PageDiff.Encode(old.Page(frame), current.Page(frame), diff) < 0);
        foreach (var frame in frames)
        {
            if (!backup.Page(frame).SequenceEqual(current.Page(frame)))
            {
                throw new InvalidOperationException($"{workload}: frame {frame} differs after applying its diff");
            }
        }

        long sink = 0;
        sink += Measure(DiffPass, frames.Length, warmup).Sink;
        sink += Measure(EncodePass, frames.Length, warmup).Sink;
        sink += Measure(ApplyPass, frames.Length, warmup).Sink;
        sink += Measure(CopyPass, frames.Length, warmup).Sink;

        var diffRuns = new List<double>();
        var encodeRuns = new List<double>();
        var applyRuns = new List<double>();
        var copyRuns = new List<double>();
        long allocated = 0, pagesDone = 0;
        for (var run = 0; run < runs; run++)
        {
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var diffRun = Measure(DiffPass, frames.Length, duration);
            allocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            pagesDone += diffRun.Pages;
            var encodeRun = Measure(EncodePass, frames.Length, duration);
            var applyRun = Measure(ApplyPass, frames.Length, duration);
            var copyRun = Measure(CopyPass, frames.Length, duration);
            sink += diffRun.Sink + encodeRun.Sink + applyRun.Sink + copyRun.Sink;
            diffRuns.Add(diffRun.PagesPerSecond);
            encodeRuns.Add(encodeRun.PagesPerSecond);
            applyRuns.Add(applyRun.PagesPerSecond);
            copyRuns.Add(copyRun.PagesPerSecond);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {workload}, {frames.Length} pages, run {run + 1}: encode+apply {diffRun.PagesPerSecond * PageSize / 1e9:0.00} GB/s, encode {encodeRun.PagesPerSecond * PageSize / 1e9:0.00}, apply {applyRun.PagesPerSecond * PageSize / 1e9:0.00}, memcpy {copyRun.PagesPerSecond * PageSize / 1e9:0.00}"));
        }

        log.WriteLine($"  (checksum of results {sink & 0xFF}, so that nothing is optimised away)");
        return new Result(workload, frames.Length, (double)sentBytes / ((long)frames.Length * PageSize), (double)refused / frames.Length,
            Median(diffRuns), Median(encodeRuns), Median(applyRuns), Median(copyRuns), (double)allocated / pagesDone);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }

    private readonly record struct Measurement(long Pages, double PagesPerSecond, long Sink);

    private static Measurement Measure(Func<long> pass, int pagesPerPass, TimeSpan duration)
    {
        long pages = 0;
        long sink = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            sink += pass();
            pages += pagesPerPass;
        }

        return new Measurement(pages, pages / clock.Elapsed.TotalSeconds, sink);
    }
}
