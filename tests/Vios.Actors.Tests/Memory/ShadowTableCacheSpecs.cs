using Vios.Actors.Memory;

namespace Vios.Actors.Tests.Memory;

/// <summary>S18: shadow page tables cached by guest page table, reused on a hit without rewriting.</summary>
public sealed class ShadowTableCacheSpecs : IDisposable
{
    private readonly GuestMemory _memory = new(GuestMemory.MinimumPages);

    public void Dispose() => _memory.Dispose();

    private static GuestPageTable Table(int process, int entries = 512)
    {
        var table = new GuestPageTable(0x10_0000UL + ((ulong)process << 12), entries);
        for (uint page = 0; page < entries; page++)
        {
            table.Map(page, (uint)(process * 16 + page) % 256);
        }

        return table;
    }

    [Fact]
    public void A_miss_builds_the_shadow_from_the_guest_table_registers_it_and_records_the_relation()
    {
        var vmm = new Vmm(_memory);
        var table = Table(1);

        vmm.LoadPageTableBase(table);

        var shadow = vmm.RegisteredShadow;
        Assert.NotNull(shadow);
        Assert.Same(table, shadow.Guest);
        Assert.True(vmm.HasShadowOf(table));
        Assert.Equal(512, shadow.EntryWrites);
        for (uint page = 0; page < 512; page++)
        {
            Assert.True(shadow.IsPresent(page));
            Assert.Equal(table[page].Frame, shadow.FrameOf(page));
        }

        Assert.Equal(new VmmStatistics(Hits: 0, Misses: 1, RebuiltEntries: 512, Invalidations: 0, Evictions: 0, DirtyFaults: 0), vmm.Statistics);
    }

    [Fact]
    public void A_hit_registers_the_same_shadow_without_rewriting_it()
    {
        var vmm = new Vmm(_memory);
        var first = Table(1);
        var second = Table(2);
        vmm.LoadPageTableBase(first);
        var shadow = vmm.RegisteredShadow!;
        vmm.LoadPageTableBase(second);
        var writesBefore = shadow.EntryWrites;
        var rebuiltBefore = vmm.Statistics.RebuiltEntries;

        vmm.LoadPageTableBase(first);

        Assert.Same(shadow, vmm.RegisteredShadow);
        Assert.Equal(writesBefore, shadow.EntryWrites);
        Assert.Equal(rebuiltBefore, vmm.Statistics.RebuiltEntries);
        Assert.Equal(1, vmm.Statistics.Hits);
        Assert.Equal(2, vmm.Statistics.Misses);
    }

    [Fact]
    public void A_guest_write_to_a_shadowed_table_invalidates_only_the_affected_entry()
    {
        var vmm = new Vmm(_memory);
        var table = Table(1);
        vmm.LoadPageTableBase(table);
        var shadow = vmm.RegisteredShadow!;

        table.Map(7, frame: 200);

        Assert.Equal(200u, table[7].Frame);
        Assert.False(shadow.IsValid(7));
        for (uint page = 0; page < 512; page++)
        {
            if (page != 7)
            {
                Assert.True(shadow.IsValid(page));
                Assert.Equal(table[page].Frame, shadow.FrameOf(page));
            }
        }

        Assert.Equal(1, vmm.Statistics.Invalidations);
        Assert.Equal(512, shadow.EntryWrites);

        // The next access refills just that entry from the guest table.
        vmm.Write(7, 0, [1, 2, 3]);
        Assert.True(shadow.IsValid(7));
        Assert.Equal(200u, shadow.FrameOf(7));
        Assert.Equal(513, shadow.EntryWrites);
        Assert.Equal([1, 2, 3], _memory.Page(200)[..3].ToArray());
    }

    [Fact]
    public void A_guest_write_to_a_table_not_in_use_still_invalidates_its_cached_shadow()
    {
        var vmm = new Vmm(_memory);
        var first = Table(1);
        vmm.LoadPageTableBase(first);
        var shadow = vmm.RegisteredShadow!;
        vmm.LoadPageTableBase(Table(2));

        first.Unmap(9);
        first.Protect(10, writable: false);
        vmm.LoadPageTableBase(first);

        Assert.Same(shadow, vmm.RegisteredShadow);
        Assert.Equal(GuestAccess.NotMapped, vmm.TryWrite(9, 0, [1]));
        Assert.Equal(GuestAccess.ReadOnly, vmm.TryWrite(10, 0, [1]));
        Assert.Equal(GuestAccess.Ok, vmm.TryWrite(11, 0, [1]));
        Assert.Equal(2, vmm.Statistics.Invalidations);
    }

    [Fact]
    public void Past_the_bound_the_least_recently_used_shadow_is_evicted()
    {
        var vmm = new Vmm(_memory, new VmmSettings(ShadowCacheCapacity: 2));
        var a = Table(1);
        var b = Table(2);
        var c = Table(3);
        vmm.LoadPageTableBase(a);
        vmm.LoadPageTableBase(b);
        vmm.LoadPageTableBase(a); // a is now the most recently used
        vmm.LoadPageTableBase(c); // evicts b

        Assert.Equal(2, vmm.CachedShadows);
        Assert.True(vmm.HasShadowOf(a));
        Assert.False(vmm.HasShadowOf(b));
        Assert.True(vmm.HasShadowOf(c));
        Assert.Equal(1, vmm.Statistics.Evictions);

        // b's edits no longer trap, and loading it again is a miss that sees them.
        b.Map(0, frame: 99);
        Assert.Equal(0, vmm.Statistics.Invalidations);
        vmm.LoadPageTableBase(b);
        Assert.Equal(99u, vmm.RegisteredShadow!.FrameOf(0));
        Assert.Equal(4, vmm.Statistics.Misses);
        Assert.Equal(1, vmm.Statistics.Hits);
    }

    [Fact]
    public void With_the_cache_off_every_switch_builds_a_new_shadow()
    {
        var vmm = new Vmm(_memory, new VmmSettings(ShadowCacheEnabled: false));
        var a = Table(1);
        var b = Table(2);
        vmm.LoadPageTableBase(a);
        var firstShadow = vmm.RegisteredShadow;
        vmm.LoadPageTableBase(b);
        vmm.LoadPageTableBase(a);

        Assert.NotSame(firstShadow, vmm.RegisteredShadow);
        Assert.Equal(0, vmm.Statistics.Hits);
        Assert.Equal(3, vmm.Statistics.Misses);
        Assert.Equal(3 * 512, vmm.Statistics.RebuiltEntries);
        Assert.Equal(1, vmm.CachedShadows);
    }

    [Fact]
    public void The_cache_keeps_recency_and_reports_what_it_evicts()
    {
        var cache = new ShadowTableCache(capacity: 2);
        var vmm = new Vmm(_memory, new VmmSettings(ShadowCacheEnabled: false));
        ShadowPageTable Shadow(int process)
        {
            vmm.LoadPageTableBase(Table(process, entries: 4));
            return vmm.RegisteredShadow!;
        }

        var a = Shadow(1);
        var b = Shadow(2);
        var c = Shadow(3);
        Assert.Null(cache.Add(a));
        Assert.Null(cache.Add(b));
        Assert.True(cache.TryGet(a.Guest.Base, out _));
        Assert.Same(b, cache.Add(c));
        Assert.False(cache.TryGet(b.Guest.Base, out _));
        Assert.Same(a, cache.Peek(a.Guest.Base));
    }
}
