namespace Vios.Actors.Memory;

/// <summary>One entry of a guest page table: the guest-physical frame a guest-virtual page maps to.</summary>
public readonly record struct GuestPageTableEntry(uint Frame, bool Present, bool Writable)
{
    public static readonly GuestPageTableEntry NotPresent = default;
}

/// <summary>
/// A guest process's page table: guest-virtual page → guest-physical frame, with Present and Writable
/// bits. <see cref="Base"/> is the guest-physical address the guest loads into the vCPU to switch
/// to this process.
/// </summary>
/// <remarks>
/// Once the VMM shadows a table it write-protects it (<see cref="Trap"/>): every guest edit then
/// faults into the VMM, which applies it and keeps the shadow in step (S18).
/// </remarks>
public sealed class GuestPageTable
{
    public const int DefaultEntries = 512;

    private readonly GuestPageTableEntry[] _entries;

    public GuestPageTable(ulong baseAddress, int entries = DefaultEntries)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(entries, 1);
        Base = baseAddress;
        _entries = new GuestPageTableEntry[entries];
    }

    /// <summary>The guest-physical address of the table: what the guest loads into the vCPU.</summary>
    public ulong Base { get; }

    public int Length => _entries.Length;

    public GuestPageTableEntry this[uint virtualPage] => _entries[CheckedIndex(virtualPage)];

    /// <summary>The VMM that write-protects this table while it holds a shadow of it; null when unshadowed.</summary>
    internal IGuestPageTableTrap? Trap { get; set; }

    public void Map(uint virtualPage, uint frame, bool writable = true) =>
        Write(virtualPage, new GuestPageTableEntry(frame, Present: true, writable));

    public void Unmap(uint virtualPage) => Write(virtualPage, GuestPageTableEntry.NotPresent);

    /// <summary>Changes only the Writable bit of a present entry.</summary>
    public void Protect(uint virtualPage, bool writable)
    {
        var entry = this[virtualPage];
        if (!entry.Present)
        {
            throw new InvalidOperationException($"virtual page {virtualPage} is not mapped");
        }

        Write(virtualPage, entry with { Writable = writable });
    }

    /// <summary>A guest store into the table: trapped into the VMM when the table is shadowed.</summary>
    private void Write(uint virtualPage, GuestPageTableEntry entry)
    {
        var index = CheckedIndex(virtualPage);
        if (Trap is { } trap)
        {
            trap.GuestTableWrite(this, virtualPage, entry);
        }
        else
        {
            _entries[index] = entry;
        }
    }

    /// <summary>The store itself, done by the VMM while it handles the trap.</summary>
    internal void StoreUntrapped(uint virtualPage, GuestPageTableEntry entry) => _entries[virtualPage] = entry;

    private int CheckedIndex(uint virtualPage)
    {
        if (virtualPage >= (uint)_entries.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(virtualPage), virtualPage,
                $"the page table at 0x{Base:x} has {_entries.Length} entries");
        }

        return (int)virtualPage;
    }
}

/// <summary>What the VMM does when the guest writes to a page table it shadows.</summary>
internal interface IGuestPageTableTrap
{
    void GuestTableWrite(GuestPageTable table, uint virtualPage, GuestPageTableEntry entry);
}
