using System.Diagnostics;

namespace Vios.Actors.Storage;

/// <summary>
/// One host's leases on one storage unit, on the unit's metadata file (<see cref="SectorFile"/>) by
/// <see cref="LeaseRules"/>: it takes a heartbeat slot (<see cref="Join"/>), renews every lease it
/// holds with one compare-and-write of that slot (<see cref="Heartbeat"/>; a miscompare means another
/// host reclaimed the slot, and every lease of this host is lost), claims, breaks and releases lock
/// sectors, and watches the slots of the holders it waits for in its own monotonic time. Blocking
/// file I/O: run it off actor threads. Not thread-safe: one owner (the node's storage service).
/// </summary>
public sealed class UnitLeases : IDisposable
{
    /// <summary>The heartbeat slots a host looks at when it joins: the first ones, enough for a cluster of this size.</summary>
    public const int SlotsScanned = 64;

    private readonly SectorFile _file;
    private readonly string _host;
    private readonly LeaseTiming _timing;
    private readonly Func<TimeSpan> _clock;
    private readonly HeartbeatWatch _watch = new();
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private HeartbeatSlot? _slot;
    private byte[]? _written;

    /// <param name="clock">This host's monotonic time (a stopwatch's elapsed time; specs give their own).</param>
    public UnitLeases(string unitFile, string host, LeaseTiming timing, Func<TimeSpan>? clock = null)
    {
        _file = SectorFile.OpenShared(unitFile, UnitLayout.HeartbeatRegion + ((long)UnitLayout.MaxHosts * UnitLayout.SectorSize));
        _host = host;
        _timing = timing;
        var started = Stopwatch.StartNew();
        _clock = clock ?? (() => started.Elapsed);
    }

    /// <summary>This host's slot, once joined; null after the slot was lost.</summary>
    public HostSlot? Slot => _slot is { } slot ? new HostSlot((int)((slot.Position - UnitLayout.HeartbeatRegion) / UnitLayout.SectorSize), slot.Generation) : null;

    private ulong Uptime => (ulong)(_uptime.Elapsed.Ticks / 10);

    /// <summary>
    /// Takes a heartbeat slot (<see cref="LeaseRules.ChooseSlot"/>): its previous process's, else a
    /// free or dead one. Slots it does not know yet count as fresh, so on a first look only its own,
    /// unwritten and cleared ones qualify; call again after <see cref="LeaseTiming.Timeout"/> to take a
    /// dead host's. Null when every slot scanned is a live host's.
    /// </summary>
    public HostSlot? Join()
    {
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var now = _clock();
            var sectors = Enumerable.Range(0, SlotsScanned).Select(i => _file.Read(UnitLayout.SlotOffset(i))).ToList();
            var slots = sectors.Select((sector, i) => HeartbeatSlot.Decode(sector, UnitLayout.SlotOffset(i))).ToList();
            for (var i = 0; i < slots.Count; i++) _watch.Saw(UnitLayout.SlotOffset(i), slots[i], now);
            if (LeaseRules.ChooseSlot(slots, _host, Uptime, i => _watch.StillFor(UnitLayout.SlotOffset(i), now), _timing) is not { } choice) return null;
            var (index, replacement) = choice;
            var encoded = replacement.Encode();
            if (!_file.CompareAndWrite(UnitLayout.SlotOffset(index), sectors[index], encoded).Written) continue;
            (_slot, _written) = (replacement, encoded);
            return Slot;
        }
        throw new IOException($"{_file.Path}: {_host} could not take a heartbeat slot: every attempt raced another host");
    }

    /// <summary>
    /// Reads the heartbeat slots scanned and notes which moved, so that a holder that dies is known to
    /// have stood still from its last heartbeat on, not from when this host first looked at it (a
    /// failover then waits the rest of the timeout, not all of it). Called every heartbeat interval;
    /// its reads grow with the hosts, its writes do not.
    /// </summary>
    public void Scan()
    {
        var now = _clock();
        for (var i = 0; i < SlotsScanned; i++)
        {
            var offset = UnitLayout.SlotOffset(i);
            _watch.Saw(offset, HeartbeatSlot.Decode(_file.Read(offset), offset), now);
        }
    }

    /// <summary>
    /// Renews every lease this host holds: its slot's uptime moves. False when the slot is no longer
    /// this host's (reclaimed after this host stood still: it was frozen, or cut off); every lease it
    /// held is lost, and its partitions must stop writing.
    /// </summary>
    public bool Heartbeat()
    {
        if (_slot is not { } slot || _written is null) return false;
        var next = slot with { UptimeMicros = Uptime };
        var encoded = next.Encode();
        if (!_file.CompareAndWrite(slot.Position, _written, encoded).Written)
        {
            (_slot, _written) = (null, null);
            return false;
        }
        (_slot, _written) = (next, encoded);
        return true;
    }

    /// <summary>
    /// Tries once to take lock <paramref name="index"/> (named <paramref name="name"/>): a claim of a free
    /// lock or a break of a dead holder's is one compare-and-write; <see cref="LeaseVerdict.Wait"/>
    /// says when to ask again. The decision's replacement, when written, is the lock as this host holds it.
    /// </summary>
    public LeaseDecision TryAcquire(int index, string name)
    {
        if (Slot is not { } mine) throw new InvalidOperationException($"{_host} has no heartbeat slot on {_file.Path}: join first");
        var offset = UnitLayout.LockOffset(index);
        var sector = _file.Read(offset);
        var current = LockSector.Decode(sector, offset, name);
        HeartbeatSlot? holderSlot = null;
        var now = _clock();
        if (!current.IsFree && current.HeartbeatOffset >= UnitLayout.HeartbeatRegion)
        {
            holderSlot = HeartbeatSlot.Decode(_file.Read(current.HeartbeatOffset), current.HeartbeatOffset);
            _watch.Saw(current.HeartbeatOffset, holderSlot, now);
        }
        var decision = LeaseRules.Acquire(current, _host, mine, Uptime, holderSlot, _watch.StillFor(current.HeartbeatOffset, now), _timing);
        if (decision.Replacement is not { } replacement) return decision;
        return _file.CompareAndWrite(offset, sector, replacement.Encode()).Written
            ? decision
            : new LeaseDecision(LeaseVerdict.Wait, null, $"{name} changed while {_host} took it; it reads it again", _timing.HeartbeatInterval);
    }

    /// <summary>Releases lock <paramref name="index"/> if this host still holds it at <paramref name="generation"/>.</summary>
    public bool Release(int index, string name, ulong generation)
    {
        var offset = UnitLayout.LockOffset(index);
        var sector = _file.Read(offset);
        var current = LockSector.Decode(sector, offset, name);
        return LeaseRules.StillHeld(current, _host, generation)
               && _file.CompareAndWrite(offset, sector, LeaseRules.Release(current, Uptime).Encode()).Written;
    }

    /// <summary>Whether this host still holds lock <paramref name="index"/> at <paramref name="generation"/> (read from the unit).</summary>
    public bool StillHeld(int index, string name, ulong generation)
    {
        var offset = UnitLayout.LockOffset(index);
        return _slot is not null && LeaseRules.StillHeld(LockSector.Decode(_file.Read(offset), offset, name), _host, generation);
    }

    /// <summary>The lock as it is on the unit (for <c>vios ctl storage leases</c>).</summary>
    public LockSector Read(int index, string name)
    {
        var offset = UnitLayout.LockOffset(index);
        return LockSector.Decode(_file.Read(offset), offset, name);
    }

    /// <summary>A clean exit: the slot is cleared, so other hosts break this host's leases at once instead of after the timeout.</summary>
    public void Leave()
    {
        if (_slot is not { } slot || _written is null) return;
        _file.CompareAndWrite(slot.Position, _written, (slot with { Live = false, UptimeMicros = Uptime }).Encode());
        (_slot, _written) = (null, null);
    }

    public void Dispose() => _file.Dispose();
}
