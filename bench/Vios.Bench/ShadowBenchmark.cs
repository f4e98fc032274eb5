using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using Vios.Actors.Memory;

namespace Vios.Bench;

/// <summary>
/// Issue 4: S18 shadow page tables and the write-protection dirty log.
/// <list type="bullet">
/// <item>A context-switch-heavy guest (<see cref="WorkloadEngine"/>, 8 processes, 512-entry tables)
/// with the shadow table cache on and off, alternating in the same run: guest operations per second.</item>
/// <item>Guest page writes per second through the VMM of one LPAR, beside a plain loop storing the
/// same bytes at the same places (the limit), and the cost of <see cref="DirtyLog.Collect"/> per GiB
/// of guest memory with 1% of its pages dirty, beside a plain pass reading every byte of that GiB
/// (what finding the changed pages without a log costs at the least).</item>
/// </list>
/// </summary>
public static class ShadowBenchmark
{
    public sealed record SwitchResult(bool CacheOn, double OperationsPerSecond, double SwitchesPerSecond, double HitRate, double AllocatedBytesPerSwitch);

    public sealed record DirtyResult(
        long GuestBytes, double VmmWritesPerSecond, double PlainWritesPerSecond, int DirtyPages,
        double CollectMicroseconds, double ScanMicroseconds, double DirtyFaultsPerSecond);

    public static (SwitchResult On, SwitchResult Off) RunSwitches(double switchRate, TimeSpan duration, int runs, TextWriter log)
    {
        var settings = new WorkloadSettings(Processes: 8, PageTableEntries: 512, ContextSwitchRate: switchRate, TableEditRate: 0.001);
        var on = new List<SwitchResult>();
        var off = new List<SwitchResult>();
        RunOnce(true, settings, TimeSpan.FromSeconds(0.5));
        RunOnce(false, settings, TimeSpan.FromSeconds(0.5));
        for (var run = 0; run < runs; run++)
        {
            on.Add(RunOnce(true, settings, duration));
            off.Add(RunOnce(false, settings, duration));
            log.WriteLine($"  run {run + 1}: cache on {on[^1].OperationsPerSecond:#,0} ops/s, off {off[^1].OperationsPerSecond:#,0} ops/s");
        }

        return (Median(on), Median(off));

        static SwitchResult Median(List<SwitchResult> results) => results.OrderBy(r => r.OperationsPerSecond).ElementAt(results.Count / 2);
    }

    private static SwitchResult RunOnce(bool cacheOn, WorkloadSettings settings, TimeSpan duration)
    {
        using var memory = new GuestMemory(64L * 1024 * 1024 / GuestMemory.PageSize);
        var vmm = new Vmm(memory, new VmmSettings(ShadowCacheEnabled: cacheOn));
        var engine = new WorkloadEngine(memory, vmm, settings, seed: 4);
        var startAllocated = GC.GetAllocatedBytesForCurrentThread();
        var start = engine.Statistics;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            engine.Step(4096);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - startAllocated;
        var end = engine.Statistics;
        var switches = end.ContextSwitches - start.ContextSwitches;
        return new SwitchResult(cacheOn, (end.Operations - start.Operations) / seconds, switches / seconds,
            vmm.Statistics.HitRate, (double)allocated / Math.Max(1, switches));
    }

    public static DirtyResult RunDirty(long guestBytes, int runs, TextWriter log)
    {
        var pages = guestBytes / GuestMemory.PageSize;
        using var memory = new GuestMemory(pages);
        var vmm = new Vmm(memory);
        // One process whose table maps the whole LPAR, page i to frame i.
        var table = new GuestPageTable(0x1000, checked((int)pages));
        for (uint page = 0; page < pages; page++)
        {
            table.Map(page, page);
        }

        vmm.LoadPageTableBase(table);

        // The same random 64-byte writes for both loops: 90% to a hot 1% of the pages.
        var random = new Random(4);
        var targets = new uint[1 << 20];
        var offsets = new int[targets.Length];
        var hot = pages / 100;
        for (var i = 0; i < targets.Length; i++)
        {
            targets[i] = (uint)(random.NextDouble() < 0.9 ? random.NextInt64(hot) : random.NextInt64(pages));
            offsets[i] = random.Next(GuestMemory.PageSize / 64) * 64;
        }

        Span<byte> data = stackalloc byte[64];
        random.NextBytes(data);

        var vmmRates = new List<double>();
        var plainRates = new List<double>();
        var faultRates = new List<double>();
        for (var run = 0; run < runs + 1; run++)
        {
            // Through the VMM, collecting after every pass so each pass pays its dirty faults again.
            vmm.DirtyLog.Collect();
            var faultsBefore = vmm.Statistics.DirtyFaults;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < targets.Length; i++)
            {
                vmm.Write(targets[i], offsets[i], data);
            }

            var vmmSeconds = clock.Elapsed.TotalSeconds;
            var faults = vmm.Statistics.DirtyFaults - faultsBefore;

            clock.Restart();
            for (var i = 0; i < targets.Length; i++)
            {
                data.CopyTo(memory.Page(targets[i])[offsets[i]..]);
            }

            var plainSeconds = clock.Elapsed.TotalSeconds;
            if (run > 0)
            {
                vmmRates.Add(targets.Length / vmmSeconds);
                plainRates.Add(targets.Length / plainSeconds);
                faultRates.Add(faults / vmmSeconds);
                log.WriteLine($"  writes run {run}: vmm {vmmRates[^1]:#,0}/s, plain {plainRates[^1]:#,0}/s");
            }
        }

        // Collect with 1% of the pages dirty, against one pass reading every byte of the memory.
        var dirtyPages = (int)(pages / 100);
        var collectMicros = new List<double>();
        var scanMicros = new List<double>();
        var sink = 0UL;
        for (var run = 0; run < runs + 1; run++)
        {
            vmm.DirtyLog.Collect();
            for (var i = 0; i < dirtyPages; i++)
            {
                vmm.Write((uint)random.NextInt64(pages), 0, data[..8]);
            }

            var clock = Stopwatch.StartNew();
            var collected = vmm.DirtyLog.Collect();
            var collectSeconds = clock.Elapsed.TotalSeconds;
            sink += (ulong)collected.Length;

            clock.Restart();
            sink += Scan(memory);
            var scanSeconds = clock.Elapsed.TotalSeconds;
            if (run > 0)
            {
                collectMicros.Add(collectSeconds * 1e6);
                scanMicros.Add(scanSeconds * 1e6);
            }
        }

        GC.KeepAlive(sink);
        var perGiB = (double)(1L << 30) / memory.Bytes;
        return new DirtyResult(memory.Bytes, Median(vmmRates), Median(plainRates), dirtyPages,
            Median(collectMicros) * perGiB, Median(scanMicros) * perGiB, Median(faultRates));
    }

    /// <summary>Reads every byte of guest memory once, vectorised: the floor of any scan for changes.</summary>
    private static ulong Scan(GuestMemory memory)
    {
        var sum = Vector<ulong>.Zero;
        for (uint frame = 0; frame < memory.PageCount; frame++)
        {
            foreach (var vector in MemoryMarshal.Cast<byte, Vector<ulong>>(memory.Page(frame)))
            {
                sum ^= vector;
            }
        }

        return Vector.Sum(sum);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
