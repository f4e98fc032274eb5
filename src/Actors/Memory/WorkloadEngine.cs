using Vios.Actors.Serialization;

namespace Vios.Actors.Memory;

/// <summary>What the guest workload does.</summary>
/// <param name="Processes">Guest processes, each with its own page table.</param>
/// <param name="PageTableEntries">Entries (virtual pages) per page table.</param>
/// <param name="HotPageFraction">Share of each process's pages that are hot.</param>
/// <param name="HotWriteShare">Share of writes that go to hot pages.</param>
/// <param name="ContextSwitchRate">Probability that an operation is a context switch.</param>
/// <param name="TableEditRate">Probability that an operation edits a page table (map, unmap, remap, protect).</param>
/// <param name="WriteBytes">Bytes per guest write.</param>
public sealed record WorkloadSettings(
    int Processes = 8,
    int PageTableEntries = GuestPageTable.DefaultEntries,
    double HotPageFraction = 0.1,
    double HotWriteShare = 0.9,
    double ContextSwitchRate = 0.05,
    double TableEditRate = 0.01,
    int WriteBytes = 64)
{
    public static readonly WorkloadSettings Default = new();
}

/// <summary>Counters of a workload since it started.</summary>
public readonly record struct WorkloadStatistics(long Operations, long Writes, long ContextSwitches, long TableEdits, long GuestPageFaults);

/// <summary>
/// A deterministic guest: the same seed gives the same operations and so the same memory bytes,
/// whatever the VMM's settings. Driven by the caller through <see cref="Step"/>; no threads, no clocks.
/// </summary>
public sealed class WorkloadEngine
{
    private const ulong PageTableRegion = 0x1_0000_0000;

    private readonly GuestMemory _memory;
    private readonly Vmm _vmm;
    private readonly WorkloadSettings _settings;
    private const int StateHeaderBytes = 8 + 4 + (5 * 8) + 4;

    private GuestPageTable[] _tables;
    private readonly uint _hotPages;
    private readonly ulong _switchThreshold;
    private readonly ulong _editThreshold;
    private readonly ulong _hotThreshold;
    private SplitMix64 _random;
    private int _current;
    private long _operations, _writes, _switches, _edits, _faults;

    public WorkloadEngine(GuestMemory memory, Vmm vmm, WorkloadSettings settings, ulong seed)
        : this(memory, vmm, settings, seed, null)
    {
    }

    /// <param name="restoring">The real settings when the tables come from a saved state; the tables built here are placeholders.</param>
    private WorkloadEngine(GuestMemory memory, Vmm vmm, WorkloadSettings settings, ulong seed, WorkloadSettings? restoring)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Processes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.PageTableEntries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.WriteBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(settings.WriteBytes, GuestMemory.PageSize);
        _memory = memory;
        _vmm = vmm;
        _random = new SplitMix64(seed);
        if (restoring is not null)
        {
            _settings = restoring;
            _tables = [];
            _hotPages = (uint)Math.Clamp(Math.Ceiling(restoring.HotPageFraction * restoring.PageTableEntries), 1, restoring.PageTableEntries);
            _switchThreshold = Threshold(restoring.ContextSwitchRate);
            _editThreshold = Threshold(restoring.ContextSwitchRate + restoring.TableEditRate);
            _hotThreshold = Threshold(restoring.HotWriteShare);
            return;
        }

        _settings = settings;
        _hotPages = (uint)Math.Clamp(Math.Ceiling(settings.HotPageFraction * settings.PageTableEntries), 1, settings.PageTableEntries);
        _switchThreshold = Threshold(settings.ContextSwitchRate);
        _editThreshold = Threshold(settings.ContextSwitchRate + settings.TableEditRate);
        _hotThreshold = Threshold(settings.HotWriteShare);

        // The guest kernel builds each process's table before the first switch to it.
        _tables = new GuestPageTable[settings.Processes];
        for (var process = 0; process < _tables.Length; process++)
        {
            var table = new GuestPageTable(PageTableRegion + ((ulong)process << GuestMemory.PageShift), settings.PageTableEntries);
            for (uint page = 0; page < (uint)table.Length; page++)
            {
                table.Map(page, RandomFrame());
            }

            _tables[process] = table;
        }

        _vmm.LoadPageTableBase(_tables[0]);
    }

    /// <summary>
    /// Restores a workload from <see cref="SaveState"/>: its page tables, random state, current
    /// process and counters, over memory restored from the same checkpoint. It goes on exactly as
    /// the saved one would have.
    /// </summary>
    /// <exception cref="FormatException">The state is truncated or does not fit these settings.</exception>
    public static WorkloadEngine Restore(GuestMemory memory, Vmm vmm, WorkloadSettings settings, ReadOnlySpan<byte> state)
    {
        var engine = new WorkloadEngine(memory, vmm, settings with { Processes = 1, PageTableEntries = 1 }, 0, settings);
        engine.LoadState(state);
        return engine;
    }

    /// <summary>The vCPU state a checkpoint keeps: random state, current process, counters and page tables.</summary>
    public byte[] SaveState()
    {
        var entries = _tables.Sum(t => t.Length);
        using var writer = new SpanWriter(StateHeaderBytes + (_tables.Length * 4) + (entries * 5));
        writer.UInt64(_random.State);
        writer.Int32(_current);
        writer.Int64(_operations);
        writer.Int64(_writes);
        writer.Int64(_switches);
        writer.Int64(_edits);
        writer.Int64(_faults);
        writer.Int32(_tables.Length);
        foreach (var table in _tables)
        {
            writer.Int32(table.Length);
            for (uint page = 0; page < (uint)table.Length; page++)
            {
                var entry = table[page];
                writer.UInt32(entry.Frame);
                writer.Byte((byte)((entry.Present ? 1 : 0) | (entry.Writable ? 2 : 0)));
            }
        }

        return writer.ToArray();
    }

    public IReadOnlyList<GuestPageTable> PageTables => _tables;

    public int CurrentProcess => _current;

    public WorkloadStatistics Statistics => new(_operations, _writes, _switches, _edits, _faults);

    /// <summary>Runs <paramref name="operations"/> guest operations: writes, context switches and page-table edits.</summary>
    public void Step(int operations)
    {
        Span<byte> data = stackalloc byte[_settings.WriteBytes];
        for (var i = 0; i < operations; i++)
        {
            var draw = _random.Next();
            if (draw < _switchThreshold)
            {
                SwitchProcess();
            }
            else if (draw < _editThreshold)
            {
                EditPageTable();
            }
            else
            {
                WritePage(data);
            }

            _operations++;
        }
    }

    private void SwitchProcess()
    {
        if (_tables.Length > 1)
        {
            var next = (int)_random.Below((uint)_tables.Length - 1);
            _current = next >= _current ? next + 1 : next;
        }

        // A context switch: the guest loads the new process's page-table base into the vCPU.
        _vmm.LoadPageTableBase(_tables[_current]);
        _switches++;
    }

    private void EditPageTable()
    {
        var table = _tables[_random.Below((uint)_tables.Length)];
        var page = _random.Below((uint)table.Length);
        switch (_random.Below(4))
        {
            case 0:
                table.Map(page, RandomFrame());
                break;
            case 1:
                table.Unmap(page);
                break;
            case 2:
                // Remap: keep the page, move it to another frame.
                table.Map(page, RandomFrame(), table[page].Writable || !table[page].Present);
                break;
            default:
                if (table[page].Present)
                {
                    table.Protect(page, writable: false);
                }

                break;
        }

        _edits++;
    }

    private void WritePage(Span<byte> data)
    {
        var entries = (uint)_tables[_current].Length;
        var page = _random.Next() < _hotThreshold || _hotPages == entries
            ? _random.Below(_hotPages)
            : _hotPages + _random.Below(entries - _hotPages);
        var offset = (int)_random.Below((uint)(GuestMemory.PageSize - data.Length + 1));
        _random.Fill(data);

        var access = _vmm.TryWrite(page, offset, data);
        if (access != GuestAccess.Ok)
        {
            // The guest kernel handles its own page fault: demand-map the page, or make it writable
            // again (copy-on-write done), and the write is retried.
            _faults++;
            var table = _tables[_current];
            if (access == GuestAccess.NotMapped)
            {
                table.Map(page, RandomFrame());
            }
            else
            {
                table.Protect(page, writable: true);
            }

            _vmm.Write(page, offset, data);
        }

        _writes++;
    }

    private void LoadState(ReadOnlySpan<byte> state)
    {
        var reader = new SpanReader(state, "the saved workload state");
        var random = reader.UInt64();
        var current = reader.Int32();
        long operations = reader.Int64(), writes = reader.Int64(), switches = reader.Int64(), edits = reader.Int64(), faults = reader.Int64();
        var count = reader.Int32();
        if (count != _settings.Processes) throw new FormatException($"the saved workload has {count} processes, the settings {_settings.Processes}");
        if ((uint)current >= (uint)count) throw new FormatException($"the saved current process {current} is not one of {count}");
        var tables = new GuestPageTable[count];
        for (var process = 0; process < count; process++)
        {
            var length = reader.Int32();
            if (length < 1 || length > 1 << 20) throw new FormatException($"the saved page table {process} has {length} entries");
            var table = new GuestPageTable(PageTableRegion + ((ulong)process << GuestMemory.PageShift), length);
            for (uint page = 0; page < (uint)length; page++)
            {
                var frame = reader.UInt32();
                var flags = reader.Byte();
                if ((flags & 1) == 0) continue;
                if (frame >= (ulong)_memory.PageCount) throw reader.Malformed($"page {page} of table {process} maps frame {frame}, outside the {_memory.PageCount} frames of memory");
                table.Map(page, frame, (flags & 2) != 0);
            }

            tables[process] = table;
        }

        reader.ExpectEnd("after the page tables");
        (_random, _current, _tables) = (SplitMix64.FromState(random), current, tables);
        (_operations, _writes, _switches, _edits, _faults) = (operations, writes, switches, edits, faults);
        _vmm.LoadPageTableBase(_tables[_current]);
    }

    private uint RandomFrame() => (uint)(_random.Next() % (ulong)_memory.PageCount);

    private static ulong Threshold(double probability) =>
        probability <= 0 ? 0 : probability >= 1 ? ulong.MaxValue : (ulong)(probability * ulong.MaxValue);

    /// <summary>SplitMix64: small, fast, and the same sequence on every runtime (unlike <see cref="Random"/>'s unspecified algorithm).</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public readonly ulong State => _state;

        public static SplitMix64 FromState(ulong state) => new(state);

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, bound) by multiply-shift (bias below 2^-32 for 32-bit bounds).</summary>
        public uint Below(uint bound) => (uint)(((Next() >> 32) * bound) >> 32);

        public void Fill(Span<byte> destination)
        {
            while (destination.Length >= sizeof(ulong))
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination, Next());
                destination = destination[sizeof(ulong)..];
            }

            if (!destination.IsEmpty)
            {
                Span<byte> last = stackalloc byte[sizeof(ulong)];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(last, Next());
                last[..destination.Length].CopyTo(destination);
            }
        }
    }
}
