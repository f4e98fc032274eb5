namespace Vios.Actors.Memory;

/// <summary>
/// S18: the recorded relation between guest page tables (by the base address the guest loads) and
/// their shadow tables, bounded, least recently used evicted first. Lookups and hits allocate
/// nothing: each shadow carries its own LRU node.
/// </summary>
public sealed class ShadowTableCache
{
    private readonly Dictionary<ulong, ShadowPageTable> _byGuestBase;
    private readonly LinkedList<ShadowPageTable> _recency = new();

    public ShadowTableCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _byGuestBase = new Dictionary<ulong, ShadowPageTable>(capacity);
    }

    public int Capacity { get; }

    public int Count => _byGuestBase.Count;

    /// <summary>Finds the shadow of the guest table at <paramref name="guestBase"/> and marks it most recently used.</summary>
    public bool TryGet(ulong guestBase, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ShadowPageTable? shadow)
    {
        if (!_byGuestBase.TryGetValue(guestBase, out shadow))
        {
            return false;
        }

        _recency.Remove(shadow.LruNode);
        _recency.AddFirst(shadow.LruNode);
        return true;
    }

    /// <summary>Finds the shadow without changing the eviction order (a trapped guest write is not a use).</summary>
    public ShadowPageTable? Peek(ulong guestBase) => _byGuestBase.GetValueOrDefault(guestBase);

    /// <summary>Records the relation; returns the shadow evicted to stay within <see cref="Capacity"/>, if any.</summary>
    public ShadowPageTable? Add(ShadowPageTable shadow)
    {
        var guestBase = shadow.Guest.Base;
        if (_byGuestBase.Remove(guestBase, out var replaced))
        {
            _recency.Remove(replaced.LruNode);
        }

        _byGuestBase.Add(guestBase, shadow);
        _recency.AddFirst(shadow.LruNode);
        if (_byGuestBase.Count <= Capacity)
        {
            return replaced;
        }

        var evicted = _recency.Last!.Value;
        _recency.RemoveLast();
        _byGuestBase.Remove(evicted.Guest.Base);
        return evicted;
    }

    public bool Remove(ShadowPageTable shadow)
    {
        if (!_byGuestBase.TryGetValue(shadow.Guest.Base, out var cached) || cached != shadow)
        {
            return false;
        }

        _byGuestBase.Remove(shadow.Guest.Base);
        _recency.Remove(shadow.LruNode);
        return true;
    }
}
