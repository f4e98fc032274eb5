using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using Vios.Actors.Checkpoint;
using Vios.Actors.Kernel;
using Vios.Actors.Memory;
using Vios.Actors.Storage;

namespace Vios.Actors.Partitions;

/// <summary>
/// One running logical partition on its node: lifecycle, guest memory, the VMM with its shadow page
/// tables and dirty log, and the guest workload. Pure: the LPAR actor drives it with commands and
/// clock ticks, tests drive it directly. Its checkpoint epochs' capture is in <c>Lpar.Capture.cs</c>,
/// its outputs' commit in <see cref="OutputGate"/>, its vCPU state's bytes in <see cref="VcpuStateCodec"/>.
/// </summary>
public sealed partial class Lpar : IDisposable
{
    /// <summary>The longest stretch of workload one <see cref="Advance"/> runs, so a late tick does not stall the actor.</summary>
    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromMilliseconds(250);

    private readonly VmmSettings _vmmSettings;
    private WorkloadEngine? _engine;
    private RunWorkload? _workload;
    private ulong _seed;
    private double _owedWrites;
    private long _outputsCounted;

    /// <summary>
    /// Where captures copy pages during the stun. Reused from epoch to epoch (one is in flight at a
    /// time), so the stun copies into memory the host has already committed instead of faulting in
    /// fresh pages: 5 MB into a new array took 22 ms, into this one under 1 ms.
    /// </summary>
    private byte[] _captureBuffer = [];

    /// <summary>Where pre-copies copy pages, reused for the same reason; valid until the next pre-copy.</summary>
    private byte[] _preCopyBuffer = [];
    private readonly OutputGate _outputs = new();

    /// <summary>The guest sends one output (a network frame, a disk write) per this many page writes.</summary>
    public const int WritesPerOutput = 256;

    private readonly string? _diskPath;
    private readonly long _diskBlocks;
    private VirtualDisk? _baseDisk;
    private CowDiskLayer? _pendingLayer;
    private CowTracker? _cowTracker;
    private byte[] _cowState = [];
    private long _diskWrites;

    /// <param name="diskPath">The file of the partition's virtual disk (created on first start); null for none.</param>
    /// <param name="node">
    /// The node the partition runs on: its guest kernel hands out real ids from <see cref="KernelIdentity.For"/>
    /// of it, so the same partition restored on another node gets other real ids (S7, S9).
    /// </param>
    public Lpar(LparDefinition definition, VmmSettings vmmSettings, string? diskPath = null, long diskBlocks = 16384, string node = "local")
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        Definition = definition;
        Node = node;
        _vmmSettings = vmmSettings;
        _diskPath = diskPath;
        _diskBlocks = diskBlocks;
    }

    /// <summary>The partition's virtual disk while it runs: its base file and any copy-on-write layer over it.</summary>
    public LparDisk? Disk { get; private set; }

    /// <summary>Blocks the guest has written to its disk (one per output).</summary>
    public long DiskWrites => _diskWrites;

    public LparDefinition Definition { get; }

    /// <summary>The node this partition runs on (and its guest kernel's identity).</summary>
    public string Node { get; }

    /// <summary>
    /// The guest kernel with the partition's WPARs while it is activated; null when defined, stopped
    /// or failed. A fresh one at each start; a restore restarts the image's WPARs on a fresh one.
    /// </summary>
    public GuestKernel? Kernel { get; private set; }

    public LparState State { get; private set; } = LparState.Defined;

    /// <summary>Why the partition failed, when it did.</summary>
    public string? Note { get; private set; }

    /// <summary>The guest's memory while the partition is activated; null when defined or stopped.</summary>
    public GuestMemory? Memory { get; private set; }

    public Vmm? Vmm { get; private set; }

    public bool HasWorkload => _engine is not null;

    /// <summary>
    /// S22: the share of its CPU the host gives the guest, 1 (all of it) unless the partition is the
    /// primary of a fault-tolerant pair whose secondary lags: its workload then runs at the requested
    /// writes per second times this share. Set by the host, not part of the guest's state.
    /// </summary>
    public double CpuAllocation { get; private set; } = 1.0;

    /// <summary>
    /// While set (continuous checkpointing or replication runs), the guest's outputs are held until
    /// the epoch they were produced in commits, as Remus does; otherwise they leave at once.
    /// </summary>
    public bool HoldOutputs
    {
        get => _outputs.Holding;
        set => _outputs.Holding = value;
    }

    /// <summary>Outputs produced and not yet released: the open epoch's and those of epochs awaiting their commit.</summary>
    public long OutputsHeld => _outputs.Held;

    public long OutputsReleased => _outputs.Released;

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
        if (OpenDisk() is { } diskProblem)
        {
            Fail(diskProblem);
            return Note;
        }
        Kernel = new GuestKernel(KernelIdentity.For(Node));
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
        _outputsCounted = 0;
        return null;
    }

    /// <summary>S22: gives the guest <paramref name="share"/> of its CPU, above 0 and at most 1; returns why not, or null.</summary>
    public string? AllocateCpu(double share)
    {
        if (!(share > 0 && share <= 1)) return $"a CPU allocation is above 0 and at most 1; got {share}";
        CpuAllocation = share;
        return null;
    }

    /// <summary>Runs the guest writes its rate owes (at its <see cref="CpuAllocation"/>) for <paramref name="elapsed"/>; nothing while quiesced.</summary>
    public void Advance(TimeSpan elapsed)
    {
        if (_engine is null || _workload is null || State != LparState.Running) return;
        var span = elapsed < MaxCatchUp ? elapsed : MaxCatchUp;
        _owedWrites += _workload.WritesPerSecond * CpuAllocation * span.TotalSeconds;
        if (_owedWrites < 1) return;

        // Context switches and page-table edits are operations too: run enough for the writes owed.
        var settings = WorkloadSettings.Default;
        var writeShare = 1 - settings.ContextSwitchRate - settings.TableEditRate;
        var before = _engine.Statistics.Writes;
        _engine.Step((int)Math.Ceiling(_owedWrites / writeShare));
        CountOutputs();
        // What this step wrote beyond (or short of) what was owed is carried to the next one, so the
        // rate holds even when a tick owes only a write or two.
        _owedWrites -= _engine.Statistics.Writes - before;
    }

    /// <summary>Epoch <paramref name="epoch"/> committed: the outputs produced up to its stun leave.</summary>
    public void Commit(long epoch) => _outputs.Commit(epoch);

    /// <summary>Outputs this copy held and dropped when it lost its ownership: never released.</summary>
    public long OutputsDropped => _outputs.Dropped;

    /// <summary>
    /// A newer owner runs the partition elsewhere: the guest stops here (failed, with the reason) and
    /// the outputs it holds are dropped, since the epochs they belong to never commit. A copy fenced
    /// out before it ran (hosted afresh where its record still places it) is failed too, not merely
    /// defined: it was superseded, not starting, and its record's partition fails over at once if the
    /// newer owner is gone as well (the PostgreSQL soak waited 3 s for a rule about copies that stay defined).
    /// </summary>
    public void LoseOwnership(string reason)
    {
        _outputs.Drop();
        _engine = null;
        _workload = null;
        if (State == LparState.Defined) State = LparState.Failed;
        Fail(reason);
    }

    /// <summary>Stops holding outputs and releases every one held (checkpointing stopped).</summary>
    public void ReleaseAllOutputs() => _outputs.ReleaseAll();

    /// <summary>
    /// Brings the partition up from a restored image instead of empty memory: the image's memory
    /// becomes the guest's (the partition takes ownership), its vCPU state and workload go on.
    /// </summary>
    public string? Restore(RestoredImage image)
    {
        var pages = Definition.MemoryMb * 1024 * 1024 / GuestMemory.PageSize;
        if (image.Memory.PageCount != pages)
            return $"the image has {image.Memory.PageCount * GuestMemory.PageSize / (1024 * 1024)} MB of memory; '{Definition.Name}' has {Definition.MemoryMb} MB";
        if (Transition(LparTransition.Activate) is { } refusal) return refusal;
        Memory = image.Memory;
        Vmm = new Vmm(Memory, _vmmSettings);
        Vmm.DirtyLog.MarkTouched(image.WrittenFrames);
        if (OpenDisk() is { } diskProblem)
        {
            Fail(diskProblem);
            return Note;
        }
        IReadOnlyList<SavedWpar> wpars;
        try
        {
            wpars = LoadVcpuState(image.VcpuState);
        }
        catch (FormatException e)
        {
            Fail($"the image's vCPU state cannot be loaded: {e.Message}");
            return Note;
        }
        if (RestartWpars(wpars) is { } kernelProblem)
        {
            Fail(kernelProblem);
            return Note;
        }
        Note = null;
        return Transition(LparTransition.ActivationCompleted);
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
            Definition.Allocation.GuestView(), shadow, vmm?.DirtyLog.DirtyCount ?? 0, workload, Note)
        {
            OwnerEpoch = Definition.OwnerEpoch,
        };
    }

    /// <summary>The workload seed a partition gets when none is given: stable for its name.</summary>
    public static ulong SeedFor(string name) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(name));

    public void Dispose() => Release();

    private void CountOutputs()
    {
        var produced = _engine!.Statistics.Writes / WritesPerOutput;
        var fresh = produced - _outputsCounted;
        _outputsCounted = produced;
        if (Disk is { } disk)
        {
            // Each output also writes a block of the guest's disk: the page it last wrote to, at a block
            // chosen by the output's number, so the disk changes with the guest as memory does.
            for (var i = 0; i < fresh; i++)
            {
                var frame = (uint)((ulong)(produced - i) * 2654435761UL % (ulong)Memory!.PageCount);
                disk.Write((produced - i) % disk.BlockCount, Memory.Page(frame));
                _diskWrites++;
            }
        }
        _outputs.Produced(fresh);
    }

    /// <summary>The checksum of all of guest memory, reading only the pages the guest has touched.</summary>
    public ulong MemoryChecksum()
    {
        return ImageChecksum.Of(Memory!, Vmm!.DirtyLog.TouchedFrames());
    }

    /// <summary>What an image keeps of the partition besides its memory (<see cref="VcpuStateCodec"/>). Checkpointing a WPAR freezes its streams and thaws them (S10).</summary>
    private byte[] SaveVcpuState()
    {
        var wpars = Kernel is { } kernel
            ? kernel.ListWpars().Select(w => new SavedWpar(w.Name, WparImageCodec.Encode(kernel.Checkpoint(w.Id)))).ToList()
            : [];
        return VcpuStateCodec.Encode(new VcpuState(_engine is not null, _workload?.WritesPerSecond ?? 0, _workload?.Skew ?? 0, _workload?.Processes ?? 0,
            _seed, _owedWrites, _outputsCounted, _engine?.SaveState() ?? [], wpars));
    }

    /// <summary>Loads the workload state; returns the kernel section's WPAR images (none for version 1) for <see cref="RestartWpars"/>.</summary>
    private IReadOnlyList<SavedWpar> LoadVcpuState(byte[] bytes)
    {
        var state = VcpuStateCodec.Decode(bytes);
        _engine = null;
        _workload = null;
        if (!state.HasWorkload) return state.Wpars;
        var workload = new RunWorkload(Definition.Name, state.WritesPerSecond, state.Skew, state.Processes, state.Seed);
        _engine = WorkloadEngine.Restore(Memory!, Vmm!, new WorkloadSettings(Processes: workload.Processes, HotWriteShare: workload.Skew), state.EngineState);
        (_workload, _seed) = (workload, state.Seed);
        _owedWrites = state.OwedWrites;
        _outputsCounted = state.OutputsCounted;
        return state.Wpars;
    }

    /// <summary>
    /// A fresh kernel for this node with every WPAR of the image restarted on it (S6, S7, S9, S11): new
    /// real ids, the same view. Returns why not, naming the WPAR and the refusal, when one is refused.
    /// </summary>
    private string? RestartWpars(IReadOnlyList<SavedWpar> wpars)
    {
        var kernel = new GuestKernel(KernelIdentity.For(Node));
        foreach (var (name, image) in wpars)
        {
            if (kernel.Restart(image) is RestartRefused refused)
                return $"the image's kernel section cannot be restored: WPAR {name} was refused ({refused.Refusal}: {refused.Reason})";
        }
        Kernel = kernel;
        return null;
    }

    private string? Transition(LparTransition transition)
    {
        var (next, refusal) = LparLifecycle.Apply(State, transition);
        if (next is null) return $"cannot {Verb(transition)} '{Definition.Name}': {refusal}";
        State = next.Value;
        return null;
    }

    private string? OpenDisk()
    {
        if (_diskPath is null) return null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_diskPath)!);
            _baseDisk = File.Exists(_diskPath) ? VirtualDisk.Open(_diskPath) : VirtualDisk.Create(_diskPath, _diskBlocks);
            Disk = new LparDisk(_baseDisk);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return $"the virtual disk {_diskPath} cannot be opened: {e.Message}";
        }
    }

    private void Release()
    {
        if (Disk?.Top is CowDiskLayer layer)
        {
            // A copy-on-write checkpoint that never committed its layer: the guest's writes since are in
            // it, so they go into the base disk before it is closed.
            Disk.CommitTop();
            layer.Dispose();
            File.Delete(layer.Path);
        }
        Disk?.Dispose();
        Disk = null;
        _pendingLayer?.Dispose();
        _pendingLayer = null;
        _baseDisk?.Dispose();
        _baseDisk = null;
        _cowTracker = null;
        _deferred = null;
        _engine = null;
        _workload = null;
        Kernel = null;
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
