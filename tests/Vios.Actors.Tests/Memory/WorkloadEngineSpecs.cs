using System.Security.Cryptography;
using Vios.Actors.Memory;

namespace Vios.Actors.Tests.Memory;

public sealed class WorkloadEngineSpecs
{
    private static readonly WorkloadSettings Busy = new(
        Processes: 8, PageTableEntries: 512, ContextSwitchRate: 0.1, TableEditRate: 0.05);

    private static (byte[] Hash, WorkloadStatistics Statistics, VmmStatistics Vmm) Run(ulong seed, VmmSettings vmmSettings, int operations = 50_000)
    {
        using var memory = new GuestMemory(GuestMemory.MinimumPages * 4);
        var vmm = new Vmm(memory, vmmSettings);
        var engine = new WorkloadEngine(memory, vmm, Busy, seed);
        for (var step = 0; step < 10; step++)
        {
            engine.Step(operations / 10);
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (uint frame = 0; frame < memory.PageCount; frame++)
        {
            sha.AppendData(memory.Page(frame));
        }

        return (sha.GetHashAndReset(), engine.Statistics, vmm.Statistics);
    }

    [Fact]
    public void The_same_seed_gives_the_same_memory_bytes()
    {
        var first = Run(42, VmmSettings.Default);
        var second = Run(42, VmmSettings.Default);

        Assert.Equal(first.Hash, second.Hash);
        Assert.Equal(first.Statistics, second.Statistics);
        Assert.Equal(50_000, first.Statistics.Operations);
        Assert.True(first.Statistics.ContextSwitches > 1000);
        Assert.True(first.Statistics.TableEdits > 500);
        Assert.True(first.Statistics.GuestPageFaults > 0);
    }

    [Fact]
    public void A_different_seed_gives_different_memory_bytes() =>
        Assert.NotEqual(Run(42, VmmSettings.Default).Hash, Run(43, VmmSettings.Default).Hash);

    [Fact]
    public void The_shadow_cache_is_invisible_to_the_guest()
    {
        // The same guest with the cache on, off, and nearly always evicting: the same bytes, so no
        // stale shadow entry ever sent a write to the wrong frame.
        var cached = Run(7, VmmSettings.Default);
        var uncached = Run(7, new VmmSettings(ShadowCacheEnabled: false));
        var tiny = Run(7, new VmmSettings(ShadowCacheCapacity: 3));

        Assert.Equal(cached.Hash, uncached.Hash);
        Assert.Equal(cached.Hash, tiny.Hash);
        Assert.True(cached.Vmm.HitRate > 0.99);
        Assert.Equal(0, uncached.Vmm.Hits);
        Assert.True(tiny.Vmm.Evictions > 0);
        Assert.True(cached.Vmm.Invalidations > 0);
    }

    [Fact]
    public void Hot_pages_take_most_writes()
    {
        using var memory = new GuestMemory(GuestMemory.MinimumPages * 16);
        var vmm = new Vmm(memory);
        var engine = new WorkloadEngine(memory, vmm,
            new WorkloadSettings(Processes: 1, HotPageFraction: 0.05, HotWriteShare: 0.95, ContextSwitchRate: 0, TableEditRate: 0), seed: 1);
        engine.Step(20_000);

        // 26 hot pages of 512 take ~95% of 20,000 writes; the cold ones are touched sparsely.
        var dirty = vmm.DirtyLog.Collect();
        Assert.InRange(dirty.Length, 26, 26 + 486);
        Assert.True(vmm.Statistics.DirtyFaults < 1_000);
    }
}
