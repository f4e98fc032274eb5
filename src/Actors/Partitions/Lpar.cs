using System.IO.Hashing;
using System.Text;
using Vios.Actors.Memory;

namespace Vios.Actors.Partitions;

/// <summary>
/// One running logical partition on its node: lifecycle, guest memory, the VMM with its shadow page
/// tables and dirty log, and the guest workload. Pure: the LPAR actor drives it with commands and
/// clock ticks, tests drive it directly.
/// </summary>
public sealed class Lpar : IDisposable
{
    /// <summary>The longest stretch of workload one <see cref="Advance"/> runs, so a late tick does not stall the actor.</summary>
    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromMilliseconds(250);

    private readonly VmmSettings _vmmSettings;
    private WorkloadEngine? _engine;
    private RunWorkload? _workload;
    private ulong _seed;
    private double _owedWrites;

    public Lpar(LparDefinition definition, VmmSettings vmmSettings)
    {
        Definition = definition;
        _vmmSettings = vmmSettings;
    }

    public LparDefinition Definition { get; }

    public LparState State { get; private set; } = LparState.Defined;

    /// <summary>Why the partition failed, when it did.</summary>
    public string? Note { get; private set; }

    /// <summary>The guest's memory while the partition is activated; null when defined or stopped.</summary>
    public GuestMemory? Memory { get; private set; }

    public Vmm? Vmm { get; private set; }

    public bool HasWorkload => _engine is not null;

    /// <summary>Activates the partition: allocates its guest memory, sets up its VMM, and it runs.</summary>
    /// <returns>Null, or why the partition cannot be started.</returns>
    public string? Start()
    {
        if (Transition(LparTransition.Activate) is { } refusal) return refusal;
        try
        {
            Memory = new GuestMemory(Definition.MemoryMb * 1024 * 1024 / GuestMemory.PageSize);
            Vmm = new Vmm(Memory, _vmmSettings);
        }
        catch (Exception e) when (e is OutOfMemoryException or ArgumentOutOfRangeException)
        {
            Fail($"guest memory of {Definition.MemoryMb} MB could not be allocated: {e.Message}");
            return Note;
        }
        Note = null;
        return Transition(LparTransition.ActivationCompleted);
    }

    /// <summary>Shuts the partition down and releases its memory.</summary>
    public string? Stop()
    {
        if (Transition(LparTransition.Stop) is { } refusal) return refusal;
        Release();
        return null;
    }

    /// <summary>Stuns the guest: its workload makes no progress until <see cref="Resume"/>.</summary>
    public string? Quiesce() => Transition(LparTransition.Quiesce);

    public string? Resume() => Transition(LparTransition.Resume);

    /// <summary>The partition (or its node) failed: the guest is gone.</summary>
    public void Fail(string reason)
    {
        if (State is LparState.Activating or LparState.Running or LparState.Quiesced) State = LparState.Failed;
        Note = reason;
        Release();
    }

    /// <summary>Starts, changes or (at rate 0) stops the guest workload.</summary>
    public string? SetWorkload(RunWorkload workload)
    {
        if (State is not (LparState.Running or LparState.Quiesced))
            return $"a workload runs in a running partition; '{Definition.Name}' is {State.ToString().ToLowerInvariant()}";
        if (workload.WritesPerSecond < 0) return "the rate must be 0 (stop) or more writes per second";
        if (workload.WritesPerSecond > 50_000_000) return "the rate is above 50,000,000 writes per second";
        if (workload.Skew is < 0 or > 1 || double.IsNaN(workload.Skew)) return "the skew is the share of writes to hot pages, from 0 to 1";
        if (workload.Processes is < 1 or > 1024) return "a workload has from 1 to 1024 processes";

        if (workload.WritesPerSecond == 0)
        {
            _engine = null;
            _workload = null;
            return null;
        }

        _seed = workload.Seed ?? SeedFor(Definition.Name);
        _engine = new WorkloadEngine(Memory!, Vmm!, new WorkloadSettings(Processes: workload.Processes, HotWriteShare: workload.Skew), _seed);
        _workload = workload;
        _owedWrites = 0;
        return null;
    }

    /// <summary>Runs the guest writes its rate owes for <paramref name="elapsed"/>; nothing while quiesced.</summary>
    public void Advance(TimeSpan elapsed)
    {
        if (_engine is null || _workload is null || State != LparState.Running) return;
        var span = elapsed < MaxCatchUp ? elapsed : MaxCatchUp;
        _owedWrites += _workload.WritesPerSecond * span.TotalSeconds;
        if (_owedWrites < 1) return;

        // Context switches and page-table edits are operations too: run enough for the writes owed.
        var settings = WorkloadSettings.Default;
        var writeShare = 1 - settings.ContextSwitchRate - settings.TableEditRate;
        var before = _engine.Statistics.Writes;
        _engine.Step((int)Math.Ceiling(_owedWrites / writeShare));
        // What this step wrote beyond (or short of) what was owed is carried to the next one, so the
        // rate holds even when a tick owes only a write or two.
        _owedWrites -= _engine.Statistics.Writes - before;
    }

    public LparStatus Status(string node)
    {
        var vmm = Vmm;
        ShadowCacheCounters? shadow = null;
        if (vmm is not null)
        {
            var s = vmm.Statistics;
            shadow = new ShadowCacheCounters(vmm.Settings.ShadowCacheEnabled, vmm.Settings.ShadowCacheCapacity, vmm.CachedShadows,
                s.Hits, s.Misses, s.RebuiltEntries, s.Invalidations, s.Evictions);
        }
        LparWorkloadStatus? workload = null;
        if (_engine is not null && _workload is not null)
        {
            var w = _engine.Statistics;
            workload = new LparWorkloadStatus(_workload.WritesPerSecond, _workload.Skew, _workload.Processes, _seed,
                w.Operations, w.Writes, w.ContextSwitches, w.TableEdits, w.GuestPageFaults);
        }
        return new LparStatus(Definition.Name, node, State, Definition.Vcpus, Definition.MemoryMb, Definition.Policy,
            Definition.Allocation.GuestView(), shadow, vmm?.DirtyLog.DirtyCount ?? 0, workload, Note);
    }

    /// <summary>The workload seed a partition gets when none is given: stable for its name.</summary>
    public static ulong SeedFor(string name) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(name));

    public void Dispose() => Release();

    private string? Transition(LparTransition transition)
    {
        var (next, refusal) = LparLifecycle.Apply(State, transition);
        if (next is null) return $"cannot {Verb(transition)} '{Definition.Name}': {refusal}";
        State = next.Value;
        return null;
    }

    private void Release()
    {
        _engine = null;
        _workload = null;
        Vmm = null;
        Memory?.Dispose();
        Memory = null;
    }

    private static string Verb(LparTransition transition) => transition switch
    {
        LparTransition.Activate => "start",
        LparTransition.ActivationCompleted => "complete the activation of",
        LparTransition.Quiesce => "quiesce",
        LparTransition.Resume => "resume",
        LparTransition.Stop => "stop",
        _ => "fail",
    };
}
