namespace Vios.Actors.Memory;

/// <summary>
/// The VMM's shadow of one guest page table: guest-virtual page → host frame, the table the vCPU
/// really walks. Entries are filled from the guest table, invalidated when the guest edits the
/// corresponding guest entry, and refilled on the next access.
/// </summary>
public sealed class ShadowPageTable
{
    internal const byte Valid = 1;
    internal const byte Present = 2;
    internal const byte GuestWritable = 4;

    private readonly DirtyLog _log;

    internal ShadowPageTable(GuestPageTable guest, DirtyLog log)
    {
        Guest = guest;
        _log = log;
        Entries = new ShadowEntry[guest.Length];
        LruNode = new LinkedListNode<ShadowPageTable>(this);
    }

    /// <summary>The guest page table this shadows.</summary>
    public GuestPageTable Guest { get; }

    public int Length => Entries.Length;

    /// <summary>How many entries have been written into this shadow since it was allocated.</summary>
    public long EntryWrites { get; internal set; }

    internal ShadowEntry[] Entries { get; }

    internal LinkedListNode<ShadowPageTable> LruNode { get; }

    /// <summary>False once the guest edited the entry and until the VMM refills it.</summary>
    public bool IsValid(uint virtualPage) => (Entries[virtualPage].Flags & Valid) != 0;

    /// <summary>The host frame of a valid, present entry.</summary>
    public uint FrameOf(uint virtualPage) => Entries[virtualPage].Frame;

    public bool IsPresent(uint virtualPage) => (Entries[virtualPage].Flags & (Valid | Present)) == (Valid | Present);

    /// <summary>
    /// True when a guest write to the page goes straight through: the entry is valid, present, writable
    /// for the guest, and not write-protected for dirty tracking.
    /// </summary>
    public bool IsWriteEnabled(uint virtualPage)
    {
        lock (_log.Gate)
        {
            ref readonly var entry = ref Entries[virtualPage];
            return (entry.Flags & (Valid | Present | GuestWritable)) == (Valid | Present | GuestWritable)
                && entry.WriteEpoch == _log.Epoch;
        }
    }
}

internal struct ShadowEntry
{
    public uint Frame;

    /// <summary>The dirty-log epoch in which a write was let through; writes fault in any other epoch.</summary>
    public uint WriteEpoch;

    public byte Flags;
}
