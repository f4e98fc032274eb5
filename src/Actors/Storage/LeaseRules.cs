namespace Vios.Actors.Storage;

/// <summary>A host's place in a unit's heartbeat region: its slot, and the slot's generation when it took it.</summary>
public sealed record HostSlot(int Slot, ulong Generation)
{
    public long Offset => UnitLayout.SlotOffset(Slot);
}

/// <summary>
/// How often a host heartbeats, and how long its slot may stand still before its leases may be
/// broken. VMFS heartbeats every 3 s and takes a host for dead after 16 s; a partition here must run
/// again within 5 s of its node's death, and a lease broken only after the timeout puts the timeout
/// on that path, so the defaults are 0.5 s and 2.5 s (five missed heartbeats).
/// </summary>
public sealed record LeaseTiming(TimeSpan HeartbeatInterval, TimeSpan Timeout)
{
    public static LeaseTiming Default { get; } = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(2500));
}

/// <summary>
/// Other hosts' heartbeat slots as this host reads them, in its own monotonic time (never a wall
/// clock, never another host's): a slot whose generation and uptime have not moved since this host
/// first read them so has stood still that long. A host that heartbeats moves its uptime every
/// interval; one that died, or is frozen, stands still.
/// </summary>
public sealed class HeartbeatWatch
{
    private readonly Dictionary<long, (ulong Generation, ulong Uptime, bool Live, TimeSpan Since)> _seen = [];

    /// <summary>This host read <paramref name="slot"/> (null: never written) at <paramref name="offset"/> at its own time <paramref name="now"/>.</summary>
    public void Saw(long offset, HeartbeatSlot? slot, TimeSpan now)
    {
        var value = (slot?.Generation ?? 0, slot?.UptimeMicros ?? 0, slot?.Live ?? false);
        if (_seen.TryGetValue(offset, out var before) && (before.Generation, before.Uptime, before.Live) == value) return;
        _seen[offset] = (value.Item1, value.Item2, value.Item3, now);
    }

    /// <summary>How long the slot has stood still as far as this host knows: zero for one it has not read before.</summary>
    public TimeSpan StillFor(long offset, TimeSpan now) => _seen.TryGetValue(offset, out var seen) ? now - seen.Since : TimeSpan.Zero;
}

public enum LeaseVerdict
{
    /// <summary>The lock is free: claim it with <see cref="LeaseDecision.Replacement"/>.</summary>
    Claim,
    /// <summary>This host holds it already.</summary>
    Held,
    /// <summary>Its holder lives (or has not stood still for the timeout yet): ask again after <see cref="LeaseDecision.RetryIn"/>.</summary>
    Wait,
    /// <summary>Its holder is gone: break it and take it with <see cref="LeaseDecision.Replacement"/>, one compare-and-write.</summary>
    Break,
}

/// <summary>What a host that wants a lock does, and why (for the log and <c>vios ctl storage leases</c>).</summary>
public sealed record LeaseDecision(LeaseVerdict Verdict, LockSector? Replacement, string Why, TimeSpan RetryIn = default);

/// <summary>
/// S21: the rules of an on-disk lease, VMFS's in spirit. A lock sector names its holder and the
/// holder's heartbeat slot and slot generation; the holder renews every lease it has at once by
/// writing its slot. Another host may break a lease whose holder's slot no longer names it (cleared
/// on a clean exit, or reclaimed with a raised generation) or has stood still for the timeout in
/// that host's own time. Every claim, release and break raises the lock's generation, so a holder
/// that finds the generation it claimed at gone has lost the lease (<see cref="StillHeld"/>), which
/// is how a resumed host learns it must stop. Each change is one compare-and-write of the sector
/// as it was read, so of several hosts racing for a lock exactly one wins. Pure: the caller reads
/// the sectors and keeps the time.
/// </summary>
public static class LeaseRules
{
    public static LeaseDecision Acquire(LockSector current, string me, HostSlot mine, ulong uptimeMicros, HeartbeatSlot? holderSlot, TimeSpan holderStill, LeaseTiming timing)
    {
        var taken = current with
        {
            Mode = LockMode.Exclusive,
            Owner = me,
            HeartbeatOffset = mine.Offset,
            HeartbeatGeneration = mine.Generation,
            Generation = current.Generation + 1,
            ChangedMicros = uptimeMicros,
            Holders = 1,
        };
        if (current.IsFree) return new LeaseDecision(LeaseVerdict.Claim, taken, $"{current.Name} is free");
        if (current.Owner == me && current.HeartbeatOffset == mine.Offset && current.HeartbeatGeneration == mine.Generation)
            return new LeaseDecision(LeaseVerdict.Held, null, $"{me} holds {current.Name} at generation {current.Generation}");
        if (holderSlot is null || !holderSlot.Live || holderSlot.Generation != current.HeartbeatGeneration || holderSlot.Host != current.Owner)
            return new LeaseDecision(LeaseVerdict.Break, taken,
                $"{current.Name} was held by {current.Owner}, whose heartbeat slot at 0x{current.HeartbeatOffset:x} no longer names it at generation {current.HeartbeatGeneration} "
                + $"({(holderSlot is null ? "never written" : $"{(holderSlot.Live ? "live" : "cleared")}, {holderSlot.Host} at generation {holderSlot.Generation}")})");
        if (holderStill >= timing.Timeout)
            return new LeaseDecision(LeaseVerdict.Break, taken,
                $"{current.Name} was held by {current.Owner}, whose heartbeat has not moved for {holderStill.TotalSeconds:0.0} s (timeout {timing.Timeout.TotalSeconds:0.0} s)");
        return new LeaseDecision(LeaseVerdict.Wait, null,
            $"{current.Name} is held by {current.Owner} (heartbeat still for {holderStill.TotalSeconds:0.0} s of {timing.Timeout.TotalSeconds:0.0} s)",
            timing.Timeout - holderStill);
    }

    /// <summary>The sector after its holder releases it: free, under a raised generation.</summary>
    public static LockSector Release(LockSector held, ulong uptimeMicros) => held with
    {
        Mode = LockMode.Free,
        Owner = "",
        HeartbeatOffset = 0,
        HeartbeatGeneration = 0,
        Generation = held.Generation + 1,
        ChangedMicros = uptimeMicros,
        Holders = 0,
    };

    /// <summary>Whether the lease <paramref name="me"/> claimed at <paramref name="generation"/> is still its own.</summary>
    public static bool StillHeld(LockSector current, string me, ulong generation) =>
        current is { IsFree: false } && current.Owner == me && current.Generation == generation;

    /// <summary>
    /// The slot a host takes in the heartbeat region, in order: the one its previous process had
    /// (raising the generation breaks that process's leases at once, and stops it should it be
    /// frozen rather than dead), a never-written one, a cleared one, one that stood still for the
    /// timeout. Null when none: every slot is a live host's.
    /// </summary>
    public static (int Slot, HeartbeatSlot Replacement)? ChooseSlot(IReadOnlyList<HeartbeatSlot?> slots, string me, ulong uptimeMicros,
        Func<int, TimeSpan> stillFor, LeaseTiming timing)
    {
        int? Find(Func<int, bool> match) => Enumerable.Range(0, slots.Count).Cast<int?>().FirstOrDefault(i => match(i!.Value));
        var chosen = Find(i => slots[i] is { } s && s.Host == me)
                     ?? Find(i => slots[i] is null)
                     ?? Find(i => slots[i] is { Live: false })
                     ?? Find(i => stillFor(i) >= timing.Timeout);
        if (chosen is not { } slot) return null;
        var generation = (slots[slot]?.Generation ?? 0) + 1;
        return (slot, new HeartbeatSlot(true, UnitLayout.SlotOffset(slot), generation, uptimeMicros, me));
    }
}
