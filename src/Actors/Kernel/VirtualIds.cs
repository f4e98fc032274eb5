namespace Vios.Actors.Kernel;

/// <summary>How a table picks the next virtual id when none is registered.</summary>
public enum VirtualIdPolicy
{
    /// <summary>A counter that only grows (System V ids, POSIX handles, pids, streams).</summary>
    Counter,

    /// <summary>The lowest number not in use (pty numbers, as <c>/dev/pts</c> does).</summary>
    LowestFree,
}

/// <summary>
/// S7, S9: one WPAR's map from the identifiers it sees (virtual) to the kernel's (real), for one
/// kind of object. Every call a WPAR makes names objects by virtual id and goes through this map.
/// On restart the WPAR first <see cref="Register"/>s the virtual id it wants; the kernel then
/// creates the object with a new real id and <see cref="Map"/> ties the two.
/// </summary>
public sealed class VirtualIdTable
{
    private readonly Dictionary<long, long> _toReal = [];
    private readonly Dictionary<long, long> _toVirtual = [];
    private long? _registered;

    public VirtualIdTable(string kind, VirtualIdPolicy policy, long first)
    {
        Kind = kind;
        Policy = policy;
        First = first;
        Next = first;
    }

    /// <summary>What the ids name, for messages ("message queue", "pty").</summary>
    public string Kind { get; }

    public VirtualIdPolicy Policy { get; }

    /// <summary>The lowest virtual id the table hands out.</summary>
    public long First { get; }

    /// <summary>For <see cref="VirtualIdPolicy.Counter"/>: the id the next new object gets. Part of the WPAR's checkpoint.</summary>
    public long Next { get; private set; }

    public int Count => _toReal.Count;

    /// <summary>Restart: the virtual id the next <see cref="Map"/> must use instead of a new one.</summary>
    public void Register(long virtualId)
    {
        if (_toReal.ContainsKey(virtualId)) throw new InvalidOperationException($"{Kind} {virtualId} is already mapped");
        _registered = virtualId;
    }

    /// <summary>
    /// Ties a new object's real id to the registered virtual id, or to a new one, and returns the
    /// virtual id the WPAR will use.
    /// </summary>
    public long Map(long realId)
    {
        long virtualId;
        if (_registered is { } wanted)
        {
            virtualId = wanted;
            _registered = null;
        }
        else if (Policy == VirtualIdPolicy.Counter)
        {
            virtualId = Next;
        }
        else
        {
            virtualId = First;
            while (_toReal.ContainsKey(virtualId)) virtualId++;
        }

        _toReal.Add(virtualId, realId);
        _toVirtual.Add(realId, virtualId);
        if (virtualId >= Next) Next = virtualId + 1;
        return virtualId;
    }

    /// <summary>The virtual id a new object would get now (nothing registered).</summary>
    public long Peek()
    {
        if (Policy == VirtualIdPolicy.Counter) return Next;
        var virtualId = First;
        while (_toReal.ContainsKey(virtualId)) virtualId++;
        return virtualId;
    }

    public bool TryReal(long virtualId, out long realId) => _toReal.TryGetValue(virtualId, out realId);

    public bool Contains(long virtualId) => _toReal.ContainsKey(virtualId);

    /// <summary>The virtual id of an object this WPAR maps; a real id it does not map is a kernel bug.</summary>
    public long Virtual(long realId) =>
        _toVirtual.TryGetValue(realId, out var virtualId) ? virtualId : throw new InvalidOperationException($"real {Kind} {realId} is not mapped in this WPAR");

    public void Unmap(long virtualId)
    {
        if (_toReal.Remove(virtualId, out var realId)) _toVirtual.Remove(realId);
    }

    /// <summary>Restart: the counter as the checkpoint recorded it (never below an id in use).</summary>
    public void RestoreNext(long next)
    {
        if (next < Next) throw new InvalidOperationException($"{Kind} counter {next} is below {Next}, an id already in use");
        Next = next;
    }

    /// <summary>(virtual, real) pairs by virtual id.</summary>
    public IEnumerable<(long Virtual, long Real)> Entries() => _toReal.OrderBy(e => e.Key).Select(e => (e.Key, e.Value));
}

/// <summary>
/// The kernel's real System V ids for one kind of object (as AIX and Linux do it): a slot in a
/// table and a sequence number that grows each time the slot is reused, combined as
/// <c>sequence * MaxSlots + slot</c>, so a stale id does not name the slot's next object.
/// </summary>
internal sealed class SysVIdSpace
{
    /// <summary>Slots per kind of object; ids stay within an int for every sequence below <see cref="MaxSequence"/>.</summary>
    public const int MaxSlots = 1 << 17;

    public const int MaxSequence = int.MaxValue / MaxSlots;

    private readonly SortedSet<int> _free = [];
    private readonly Dictionary<int, int> _sequence = [];
    private readonly int _seed;
    private int _nextUnused;

    public SysVIdSpace(int sequenceSeed, int reservedSlots)
    {
        _seed = ((sequenceSeed % MaxSequence) + MaxSequence) % MaxSequence;
        _nextUnused = Math.Clamp(reservedSlots, 0, MaxSlots / 2);
    }

    public int Available => MaxSlots - _nextUnused + _free.Count;

    public bool TryAllocate(out int realId)
    {
        int slot;
        if (_free.Count > 0)
        {
            slot = _free.Min;
            _free.Remove(slot);
        }
        else if (_nextUnused < MaxSlots)
        {
            slot = _nextUnused++;
        }
        else
        {
            realId = -1;
            return false;
        }

        realId = Sequence(slot) * MaxSlots + slot;
        return true;
    }

    public void Free(int realId)
    {
        var slot = realId % MaxSlots;
        _sequence[slot] = (Sequence(slot) + 1) % MaxSequence;
        _free.Add(slot);
    }

    private int Sequence(int slot) => _sequence.TryGetValue(slot, out var sequence) ? sequence : _seed;
}
