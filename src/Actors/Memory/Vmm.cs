namespace Vios.Actors.Memory;

/// <summary>Settings of the VMM of one LPAR.</summary>
/// <param name="ShadowCacheEnabled">
/// False turns the S18 cache off: every page-table base load builds a new shadow (the baseline).
/// </param>
/// <param name="ShadowCacheCapacity">Shadow tables kept; the least recently used is evicted beyond it.</param>
public sealed record VmmSettings(bool ShadowCacheEnabled = true, int ShadowCacheCapacity = 64)
{
    public static readonly VmmSettings Default = new();
}

/// <summary>Counters of one VMM since it started.</summary>
/// <param name="Hits">Base loads that found the shadow in the cache.</param>
/// <param name="Misses">Base loads that built a new shadow.</param>
/// <param name="RebuiltEntries">Shadow entries written from guest entries (builds and refills).</param>
/// <param name="Invalidations">Valid shadow entries invalidated by trapped guest page-table writes.</param>
/// <param name="Evictions">Shadows dropped to stay within the cache's capacity.</param>
/// <param name="DirtyFaults">Guest writes that faulted on dirty-tracking write protection.</param>
public readonly record struct VmmStatistics(
    long Hits, long Misses, long RebuiltEntries, long Invalidations, long Evictions, long DirtyFaults)
{
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}

/// <summary>Outcome of a guest access; anything but <see cref="Ok"/> is a guest page fault.</summary>
public enum GuestAccess
{
    Ok,

    /// <summary>The guest-virtual page is not mapped (or maps to a frame outside the LPAR).</summary>
    NotMapped,

    /// <summary>The guest wrote to a page its page table marks read-only.</summary>
    ReadOnly,

    /// <summary>The page is beyond the end of the current page table.</summary>
    OutsideTable,

    /// <summary>The guest has not loaded a page-table base yet.</summary>
    NoPageTable,
}

/// <summary>A guest page fault raised by <see cref="Vmm.Write"/>: the guest's own error, to reflect into the guest.</summary>
public sealed class GuestPageFaultException(GuestAccess kind, uint virtualPage)
    : Exception($"guest page fault on virtual page {virtualPage}: {kind}")
{
    public GuestAccess Kind { get; } = kind;

    public uint VirtualPage { get; } = virtualPage;
}

/// <summary>
/// The virtual machine monitor of one LPAR with one vCPU: shadow page tables (S18) and
/// write-protection dirty tracking over <see cref="GuestMemory"/>.
/// </summary>
/// <remarks>
/// One lock per LPAR (<see cref="DirtyLog.Gate"/>) orders guest writes, page-table loads and edits,
/// and dirty-log collections; the guest is one thread, so it is uncontended except against Collect.
/// </remarks>
public sealed class Vmm : IGuestPageTableTrap
{
    private readonly GuestMemory _memory;
    private readonly ShadowTableCache? _cache;
    private readonly Lock _gate;
    private ShadowPageTable? _registered;
    private Checkpoint.CowTracker? _cow;
    private long _hits, _misses, _rebuiltEntries, _invalidations, _evictions, _dirtyFaults;

    public Vmm(GuestMemory memory, VmmSettings? settings = null)
    {
        _memory = memory;
        Settings = settings ?? VmmSettings.Default;
        _cache = Settings.ShadowCacheEnabled ? new ShadowTableCache(Settings.ShadowCacheCapacity) : null;
        DirtyLog = new DirtyLog(memory.PageCount);
        _gate = DirtyLog.Gate;
    }

    public VmmSettings Settings { get; }

    public DirtyLog DirtyLog { get; }

    /// <summary>The shadow table registered with the vCPU: the one its page walks use.</summary>
    public ShadowPageTable? RegisteredShadow
    {
        get
        {
            lock (_gate)
            {
                return _registered;
            }
        }
    }

    public int CachedShadows
    {
        get
        {
            lock (_gate)
            {
                return _cache?.Count ?? (_registered is null ? 0 : 1);
            }
        }
    }

    public VmmStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return new VmmStatistics(_hits, _misses, _rebuiltEntries, _invalidations, _evictions, _dirtyFaults);
            }
        }
    }

    /// <summary>True while the VMM holds a shadow of <paramref name="table"/>.</summary>
    public bool HasShadowOf(GuestPageTable table)
    {
        lock (_gate)
        {
            return ShadowOf(table) is not null;
        }
    }

    /// <summary>The guest loads the base of <paramref name="table"/> into the vCPU (a context switch).</summary>
    public void LoadPageTableBase(GuestPageTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        lock (_gate)
        {
            // S18: the update of the guest page-table address is detected (the load traps into the
            // VMM); search the shadow tables for the one corresponding to the updated guest table.
            if (_cache is not null && _cache.TryGet(table.Base, out var cached) && cached.Guest == table)
            {
                // S18: the associated shadow exists: omit rewriting it and register its address with the vCPU.
                _hits++;
                _registered = cached;
                return;
            }

            _misses++;
            // S18: no shadow exists: allocate memory for one and create it from the guest table.
            var shadow = new ShadowPageTable(table, DirtyLog);
            for (uint page = 0; page < (uint)shadow.Length; page++)
            {
                Fill(shadow, page);
            }

            // S18: register the address of the created shadow with the vCPU.
            var previous = _registered;
            _registered = shadow;

            // S18: record the relation between the updated guest table and the generated shadow, and
            // write-protect the guest table so the guest's edits to it trap into the VMM.
            table.Trap = this;
            if (_cache is not null)
            {
                if (_cache.Add(shadow) is { } evicted && evicted.Guest != table)
                {
                    // Past the bound: the least recently used relation is forgotten; its guest table
                    // is no longer shadowed, so its edits need not trap.
                    evicted.Guest.Trap = null;
                    _evictions++;
                }
            }
            else if (previous is not null && previous.Guest != table)
            {
                // Cache off: only the registered shadow exists; the one switched away from is dropped.
                previous.Guest.Trap = null;
            }
        }
    }

    /// <summary>
    /// S24 step 3: marks guest memory copy-on-write for <paramref name="tracker"/>. Every shadow entry is
    /// write-protected again, so each page's next write faults and saves the original if it is pending.
    /// </summary>
    public void MarkCopyOnWrite(Checkpoint.CowTracker tracker)
    {
        lock (_gate)
        {
            _cow = tracker;
            DirtyLog.RearmHoldingGate();
        }
    }

    /// <summary>S24 step 7, a batch at a time while the guest runs: saves up to <paramref name="max"/> pending pages; returns how many remain.</summary>
    public int SaveCopyOnWritePages(int max)
    {
        lock (_gate)
        {
            if (_cow is null) return 0;
            var remaining = _cow.SaveNext(_memory, max);
            return remaining;
        }
    }

    /// <summary>The checkpoint has every page: guest writes no longer need to save anything.</summary>
    public Checkpoint.CowTracker? EndCopyOnWrite()
    {
        lock (_gate)
        {
            var cow = _cow;
            _cow = null;
            return cow;
        }
    }

    /// <summary>A guest write of <paramref name="data"/> at <paramref name="offset"/> in a page of the current process.</summary>
    /// <exception cref="GuestPageFaultException">The page is not mapped or not writable for the guest.</exception>
    public void Write(uint virtualPage, int offset, ReadOnlySpan<byte> data)
    {
        var access = TryWrite(virtualPage, offset, data);
        if (access != GuestAccess.Ok)
        {
            throw new GuestPageFaultException(access, virtualPage);
        }
    }

    /// <summary>As <see cref="Write"/>, reporting a guest page fault as its result instead of throwing.</summary>
    public GuestAccess TryWrite(uint virtualPage, int offset, ReadOnlySpan<byte> data)
    {
        if ((uint)offset > GuestMemory.PageSize || data.Length > GuestMemory.PageSize - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"a write of {data.Length} bytes at offset {offset} crosses the end of a {GuestMemory.PageSize}-byte page");
        }

        lock (_gate)
        {
            var shadow = _registered;
            if (shadow is null)
            {
                return GuestAccess.NoPageTable;
            }

            var entries = shadow.Entries;
            if (virtualPage >= (uint)entries.Length)
            {
                return GuestAccess.OutsideTable;
            }

            ref var entry = ref entries[virtualPage];
            if ((entry.Flags & ShadowPageTable.Valid) == 0)
            {
                // Hidden fault: the guest edited this entry since it was shadowed; refill it.
                Fill(shadow, virtualPage);
            }

            if ((entry.Flags & ShadowPageTable.Present) == 0)
            {
                return GuestAccess.NotMapped;
            }

            if ((entry.Flags & ShadowPageTable.GuestWritable) == 0)
            {
                return GuestAccess.ReadOnly;
            }

            var epoch = DirtyLog.Epoch;
            if (entry.WriteEpoch != epoch)
            {
                // S24: a page still holding the contents of a copy-on-write checkpoint's stun is saved
                // before the guest's first write changes it.
                _cow?.SaveBeforeWrite(entry.Frame, _memory.Page(entry.Frame));
                // Dirty-tracking fault: the first write to this page since the last collection.
                // Mark the frame, then let later writes in this epoch straight through.
                DirtyLog.MarkHoldingGate(entry.Frame);
                entry.WriteEpoch = epoch;
                _dirtyFaults++;
            }

            data.CopyTo(_memory.Page(entry.Frame)[offset..]);
            return GuestAccess.Ok;
        }
    }

    /// <summary>A guest read from a page of the current process.</summary>
    public GuestAccess TryRead(uint virtualPage, int offset, Span<byte> destination)
    {
        if ((uint)offset > GuestMemory.PageSize || destination.Length > GuestMemory.PageSize - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, "the read crosses the end of the page");
        }

        lock (_gate)
        {
            var shadow = _registered;
            if (shadow is null)
            {
                return GuestAccess.NoPageTable;
            }

            if (virtualPage >= (uint)shadow.Length)
            {
                return GuestAccess.OutsideTable;
            }

            ref var entry = ref shadow.Entries[virtualPage];
            if ((entry.Flags & ShadowPageTable.Valid) == 0)
            {
                Fill(shadow, virtualPage);
            }

            if ((entry.Flags & ShadowPageTable.Present) == 0)
            {
                return GuestAccess.NotMapped;
            }

            _memory.Page(entry.Frame).Slice(offset, destination.Length).CopyTo(destination);
            return GuestAccess.Ok;
        }
    }

    void IGuestPageTableTrap.GuestTableWrite(GuestPageTable table, uint virtualPage, GuestPageTableEntry entry)
    {
        lock (_gate)
        {
            // Emulate the trapped store into the write-protected guest table.
            table.StoreUntrapped(virtualPage, entry);
            // S18: the guest edited a table with a shadow: invalidate exactly the affected shadow
            // entry; it is refilled from the guest table on its next use.
            if (ShadowOf(table) is { } shadow)
            {
                ref var shadowEntry = ref shadow.Entries[virtualPage];
                if ((shadowEntry.Flags & ShadowPageTable.Valid) != 0)
                {
                    shadowEntry.Flags = 0;
                    _invalidations++;
                }
            }
        }
    }

    private ShadowPageTable? ShadowOf(GuestPageTable table)
    {
        var shadow = _cache is not null ? _cache.Peek(table.Base) : _registered;
        return shadow is not null && shadow.Guest == table ? shadow : null;
    }

    /// <summary>Writes one shadow entry from its guest entry; write-protected for dirty tracking until the first write.</summary>
    private void Fill(ShadowPageTable shadow, uint virtualPage)
    {
        var guest = shadow.Guest[virtualPage];
        ref var entry = ref shadow.Entries[virtualPage];
        if (guest.Present && _memory.Contains(guest.Frame))
        {
            entry.Frame = guest.Frame;
            entry.Flags = (byte)(ShadowPageTable.Valid | ShadowPageTable.Present | (guest.Writable ? ShadowPageTable.GuestWritable : 0));
        }
        else
        {
            entry.Frame = 0;
            entry.Flags = ShadowPageTable.Valid;
        }

        entry.WriteEpoch = 0;
        shadow.EntryWrites++;
        _rebuiltEntries++;
    }
}
