using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Hashing;
using System.Text;
using Vios.Actors.Checkpoint;
using Vios.Actors.Kernel;
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
    private long _outputsCounted;

    /// <summary>
    /// Where captures copy pages during the stun. Reused from epoch to epoch (one is in flight at a
    /// time), so the stun copies into memory the host has already committed instead of faulting in
    /// fresh pages: 5 MB into a new array took 22 ms, into this one under 1 ms.
    /// </summary>
    private byte[] _captureBuffer = [];

    /// <summary>Where pre-copies copy pages, reused for the same reason; valid until the next pre-copy.</summary>
    private byte[] _preCopyBuffer = [];
    private long _openOutputs;
    private readonly Queue<(long Epoch, long Count)> _heldOutputs = new();

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
    public bool HoldOutputs { get; set; }

    /// <summary>Outputs produced and not yet released: the open epoch's and those of epochs awaiting their commit.</summary>
    public long OutputsHeld => _openOutputs + _heldOutputs.Sum(h => h.Count);

    public long OutputsReleased { get; private set; }

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

    /// <summary>
    /// One checkpoint epoch's stun: quiesce the guest, collect the dirty pages from the dirty log (or,
    /// for a full image, every non-zero page) and the vCPU and device state, close the epoch's outputs,
    /// resume. With <paramref name="withChecksum"/> it also records the checksum of all of memory.
    /// </summary>
    public (EpochCapture? Capture, string? Refusal) Capture(long epoch, bool full, bool withChecksum)
    {
        if (State != LparState.Running)
            return (null, $"only a running partition can be checkpointed; '{Definition.Name}' is {State.ToString().ToLowerInvariant()}");
        var stun = Stopwatch.StartNew();
        Quiesce();
        var memory = Memory!;
        var dirty = Vmm!.DirtyLog.Collect();
        // A full image is every page the guest has ever written; the rest are zeros never committed.
        var frames = full ? Vmm.DirtyLog.TouchedFrames() : dirty;
        var bytes = frames.Length * GuestMemory.PageSize;
        if (_captureBuffer.Length < bytes) _captureBuffer = GC.AllocateUninitializedArray<byte>(Math.Max(bytes, _captureBuffer.Length * 3 / 2));
        var pages = _captureBuffer;
        for (var i = 0; i < frames.Length; i++) memory.Page(frames[i]).CopyTo(pages.AsSpan(i * GuestMemory.PageSize));
        var state = SaveVcpuState();
        ulong? checksum = withChecksum ? MemoryChecksum() : null;
        if (HoldOutputs)
        {
            _heldOutputs.Enqueue((epoch, _openOutputs));
            _openOutputs = 0;
        }
        Resume();
        return (new EpochCapture(epoch, full ? ImageKind.Full : ImageKind.Delta, memory.PageCount, frames, pages, state, checksum,
            stun.Elapsed, DateTimeOffset.UtcNow), null);
    }

    /// <summary>
    /// A delta epoch whose stun only decides which pages are in it: the dirty pages are marked
    /// copy-on-write (as S24 marks all of memory), the vCPU and device state saved, and the guest
    /// resumes. <see cref="FinishDeferredCapture"/> then copies them while the guest runs; a page the
    /// guest writes first is saved before the write. The stun costs the number of dirty pages in bit
    /// operations, not in copies of their bytes.
    /// </summary>
    public (TimeSpan Stun, string? Refusal) StunDeferred(long epoch)
    {
        if (State != LparState.Running)
            return (TimeSpan.Zero, $"only a running partition can be checkpointed; '{Definition.Name}' is {State.ToString().ToLowerInvariant()}");
        if (_cowTracker is not null || _deferred is not null) return (TimeSpan.Zero, "a checkpoint of this partition is already saving its pages");
        // No garbage collection inside the stun: a collection started by any thread of the process
        // would pause the stun with everything else. Reserving the budget may collect first, while
        // the guest still runs.
        var noGc = StartNoGcRegion();
        var stun = Stopwatch.StartNew();
        Quiesce();
        var vmm = Vmm!;
        var frames = vmm.DirtyLog.Collect();
        var tracker = CowTracker.ForFrames(Memory!.PageCount, frames, _captureBuffer);
        vmm.MarkCopyOnWrite(tracker);
        var state = SaveVcpuState();
        if (HoldOutputs)
        {
            _heldOutputs.Enqueue((epoch, _openOutputs));
            _openOutputs = 0;
        }
        Resume();
        var elapsed = stun.Elapsed;
        if (noGc) EndNoGcRegion();
        _deferred = (epoch, tracker, state, elapsed, DateTimeOffset.UtcNow);
        return (elapsed, null);
    }

    /// <summary>The deferred epoch's pages, as they were at its stun.</summary>
    public EpochCapture FinishDeferredCapture()
    {
        var (epoch, tracker, state, stun, at) = _deferred ?? throw new InvalidOperationException("no deferred capture is in progress");
        _deferred = null;
        Vmm!.SaveCopyOnWritePages(int.MaxValue);
        Vmm.EndCopyOnWrite();
        var (frames, pages) = tracker.Complete();
        // The buffer may have grown: keep the larger one for the next epoch.
        _captureBuffer = pages;
        return new EpochCapture(epoch, ImageKind.Delta, Memory!.PageCount, frames, pages, state, null, stun, at);
    }

    private (long Epoch, CowTracker Tracker, byte[] State, TimeSpan Stun, DateTimeOffset At)? _deferred;

    /// <summary>What a stun allocates (its dirty-page bitmap, frame list and vCPU state), with room to spare.</summary>
    private long StunAllocationBudget => Math.Max(1L << 20, (Memory?.PageCount ?? 0) / 8 * 2 + (1L << 20));

    private bool StartNoGcRegion()
    {
        try
        {
            return GC.TryStartNoGCRegion(StunAllocationBudget);
        }
        catch (InvalidOperationException)
        {
            // Another partition's stun holds the region on this thread's process: go without.
            return false;
        }
    }

    private static void EndNoGcRegion()
    {
        try
        {
            if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // The region ended by itself (the budget ran out, or another thread's allocation collected).
        }
    }

    /// <summary>
    /// S23 pre-copy: while the guest runs (no stun), takes the dirty pages <paramref name="pick"/> chooses
    /// out of the dirty log and copies them; a later write marks them dirty again for the stun. The
    /// pages are at the start of the returned buffer, which the next pre-copy reuses.
    /// </summary>
    public (uint[] Frames, byte[] Pages) PreCopy(Func<uint, bool> pick)
    {
        if (State != LparState.Running) return ([], []);
        var frames = Vmm!.DirtyLog.CollectSubset(pick);
        var bytes = frames.Length * GuestMemory.PageSize;
        if (_preCopyBuffer.Length < bytes) _preCopyBuffer = GC.AllocateUninitializedArray<byte>(Math.Max(bytes, _preCopyBuffer.Length * 3 / 2));
        var pages = _preCopyBuffer;
        for (var i = 0; i < frames.Length; i++) Memory!.Page(frames[i]).CopyTo(pages.AsSpan(i * GuestMemory.PageSize));
        return (frames, pages);
    }

    /// <summary>S24 step 1, while the guest runs: a copy-on-write layer over the disk, next to it.</summary>
    public string? PrepareCow(long epoch)
    {
        if (State != LparState.Running) return $"only a running partition can be checkpointed; '{Definition.Name}' is {State.ToString().ToLowerInvariant()}";
        if (Disk is { } disk)
        {
            _pendingLayer?.Dispose();
            _pendingLayer = CowDiskLayer.CreateOver(disk.Top, $"{_diskPath}.cow-{epoch}");
        }
        return null;
    }

    /// <summary>
    /// S24 steps 2 to 6: stun; mark memory copy-on-write (only the pages the guest has touched); save
    /// the vCPU and device state; switch the disk to the copy-on-write layer; resume. Nothing here
    /// reads or copies guest memory, so the stun does not grow with memory size.
    /// </summary>
    public (TimeSpan Stun, string? Refusal) StunCow(long epoch)
    {
        if (State != LparState.Running) return (TimeSpan.Zero, $"'{Definition.Name}' is {State.ToString().ToLowerInvariant()}");
        var stun = Stopwatch.StartNew();
        Quiesce();
        var vmm = Vmm!;
        // The image is whole at this stun: later deltas are relative to it.
        vmm.DirtyLog.Collect();
        var (touched, count) = vmm.DirtyLog.SnapshotTouched();
        _cowTracker = new CowTracker(Memory!.PageCount, touched, count);
        vmm.MarkCopyOnWrite(_cowTracker);
        _cowState = SaveVcpuState();
        if (Disk is { } disk && _pendingLayer is { } layer)
        {
            disk.SwitchTo(layer);
            _pendingLayer = null;
        }
        if (HoldOutputs)
        {
            _heldOutputs.Enqueue((epoch, _openOutputs));
            _openOutputs = 0;
        }
        Resume();
        return (stun.Elapsed, null);
    }

    /// <summary>S24 step 7, while the guest runs: saves up to <paramref name="max"/> pages of the stun; returns how many remain.</summary>
    public int SaveCowPages(int max) => Vmm?.SaveCopyOnWritePages(max) ?? 0;

    /// <summary>Pages saved because the guest wrote to them before the background save reached them.</summary>
    public int CowSavedBeforeGuestWrite => _cowTracker?.SavedBeforeGuestWrite ?? 0;

    /// <summary>Every page of the stun is saved: the checkpoint image, with the checksum of memory as it was at the stun.</summary>
    public EpochCapture CompleteCow(long epoch, TimeSpan stun)
    {
        var tracker = Vmm!.EndCopyOnWrite() ?? throw new InvalidOperationException("no copy-on-write checkpoint is in progress");
        var (frames, pages) = tracker.Complete();
        // The checksum of memory as it was at the stun, from the saved pages: no stun time spent on it.
        var order = frames.Select((frame, index) => (frame, index)).OrderBy(p => p.frame).ToArray();
        var checksum = ImageChecksum.Of(Memory!.PageCount, order.Select(p => p.frame).ToArray(),
            i => pages.AsSpan(order[i].index * GuestMemory.PageSize, GuestMemory.PageSize));
        _cowTracker = null;
        return new EpochCapture(epoch, ImageKind.Full, Memory.PageCount, frames, pages, _cowState, checksum, stun, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// S24 step 8: keeps a copy of the parent disk as it was at the stun (part of the checkpoint, at
    /// <paramref name="retainPath"/>), then commits the copy-on-write layer into the parent and goes back to it.
    /// </summary>
    public string? CommitCowLayer(string retainPath)
    {
        if (Disk?.Top is not CowDiskLayer layer) return "the disk has no copy-on-write layer to commit";
        layer.Parent.Flush();
        File.Copy(layer.Parent.Path, retainPath, overwrite: true);
        Disk.CommitTop();
        layer.Dispose();
        File.Delete(layer.Path);
        return null;
    }

    /// <summary>Epoch <paramref name="epoch"/> committed: the outputs produced up to its stun leave.</summary>
    public void Commit(long epoch)
    {
        while (_heldOutputs.TryPeek(out var held) && held.Epoch <= epoch)
        {
            _heldOutputs.Dequeue();
            OutputsReleased += held.Count;
        }
    }

    /// <summary>Outputs this copy held and dropped when it lost its ownership: never released.</summary>
    public long OutputsDropped { get; private set; }

    /// <summary>
    /// A newer owner runs the partition elsewhere: the guest stops here (failed, with the reason) and
    /// the outputs it holds are dropped, since the epochs they belong to never commit.
    /// </summary>
    public void LoseOwnership(string reason)
    {
        OutputsDropped += OutputsHeld;
        _heldOutputs.Clear();
        _openOutputs = 0;
        _engine = null;
        _workload = null;
        Fail(reason);
    }

    /// <summary>Stops holding outputs and releases every one held (checkpointing stopped).</summary>
    public void ReleaseAllOutputs()
    {
        HoldOutputs = false;
        OutputsReleased += OutputsHeld;
        _heldOutputs.Clear();
        _openOutputs = 0;
    }

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
        IReadOnlyList<(string Name, byte[] Image)> wpars;
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
        if (HoldOutputs) _openOutputs += fresh;
        else OutputsReleased += fresh;
    }

    /// <summary>The checksum of all of guest memory, reading only the pages the guest has touched.</summary>
    public ulong MemoryChecksum()
    {
        return ImageChecksum.Of(Memory!, Vmm!.DirtyLog.TouchedFrames());
    }

    /// <summary>The version <see cref="SaveVcpuState"/> writes.</summary>
    public const byte VcpuStateVersion = 2;

    /// <summary>
    /// Version 2: workload flag, rate, skew, processes, seed, owed writes, outputs counted (42 bytes,
    /// as version 1), the engine's state length (int32) and state, then the kernel section: the count
    /// of WPARs (int32) and per WPAR its name (uint16 length, UTF-8) and its <see cref="WparImageCodec"/>
    /// image (int32 length, bytes), which carries its own XxHash64. Version 1 ends with the engine's
    /// state and has no kernel section. Checkpointing a WPAR freezes its streams and thaws them (S10).
    /// </summary>
    private byte[] SaveVcpuState()
    {
        var engine = _engine?.SaveState() ?? [];
        var wpars = Kernel is { } kernel
            ? kernel.ListWpars().Select(w => (Name: Encoding.UTF8.GetBytes(w.Name), Image: WparImageCodec.Encode(kernel.Checkpoint(w.Id)))).ToList()
            : [];
        var state = new byte[VcpuHeaderLength + 4 + engine.Length + 4 + wpars.Sum(w => 2 + w.Name.Length + 4 + w.Image.Length)];
        var span = state.AsSpan();
        span[0] = VcpuStateVersion;
        span[1] = (byte)(_engine is null ? 0 : 1);
        BinaryPrimitives.WriteInt32LittleEndian(span[2..], _workload?.WritesPerSecond ?? 0);
        BinaryPrimitives.WriteDoubleLittleEndian(span[6..], _workload?.Skew ?? 0);
        BinaryPrimitives.WriteInt32LittleEndian(span[14..], _workload?.Processes ?? 0);
        BinaryPrimitives.WriteUInt64LittleEndian(span[18..], _seed);
        BinaryPrimitives.WriteDoubleLittleEndian(span[26..], _owedWrites);
        BinaryPrimitives.WriteInt64LittleEndian(span[34..], _outputsCounted);
        var at = VcpuHeaderLength;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], engine.Length);
        engine.CopyTo(span[(at += 4)..]);
        at += engine.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], wpars.Count);
        at += 4;
        foreach (var (name, image) in wpars)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)name.Length);
            name.CopyTo(span[(at += 2)..]);
            at += name.Length;
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], image.Length);
            image.CopyTo(span[(at += 4)..]);
            at += image.Length;
        }
        return state;
    }

    private const int VcpuHeaderLength = 42;

    /// <summary>Loads the workload state; returns the kernel section's WPAR images (none for version 1) for <see cref="RestartWpars"/>.</summary>
    private List<(string Name, byte[] Image)> LoadVcpuState(byte[] state)
    {
        if (state.Length < VcpuHeaderLength || state[0] is not (1 or VcpuStateVersion))
            throw new FormatException($"unknown vCPU state (version {(state.Length > 0 ? state[0] : 0)}, {state.Length} bytes)");
        var span = state.AsSpan();
        var engineState = (Offset: VcpuHeaderLength, Length: state.Length - VcpuHeaderLength);
        var wpars = new List<(string, byte[])>();
        if (state[0] == VcpuStateVersion)
        {
            var at = VcpuHeaderLength;
            var engineLength = ReadLength(state, ref at, 4, "the engine state");
            engineState = (at, Take(state, ref at, engineLength, "the engine state"));
            var count = ReadLength(state, ref at, 4, "the kernel section's WPAR count");
            for (var i = 0; i < count; i++)
            {
                var nameLength = ReadLength(state, ref at, 2, $"the name of WPAR {i + 1} of {count}");
                var name = Encoding.UTF8.GetString(state, at, Take(state, ref at, nameLength, $"the name of WPAR {i + 1} of {count}"));
                var imageLength = ReadLength(state, ref at, 4, $"the image of WPAR {name}");
                wpars.Add((name, state.AsSpan(at, Take(state, ref at, imageLength, $"the image of WPAR {name}")).ToArray()));
            }
            if (at != state.Length) throw new FormatException($"{state.Length - at} bytes after the kernel section");
        }
        _engine = null;
        _workload = null;
        if (span[1] == 0) return wpars;
        var workload = new RunWorkload(Definition.Name, BinaryPrimitives.ReadInt32LittleEndian(span[2..]), BinaryPrimitives.ReadDoubleLittleEndian(span[6..]),
            BinaryPrimitives.ReadInt32LittleEndian(span[14..]), BinaryPrimitives.ReadUInt64LittleEndian(span[18..]));
        _engine = WorkloadEngine.Restore(Memory!, Vmm!, new WorkloadSettings(Processes: workload.Processes, HotWriteShare: workload.Skew), span.Slice(engineState.Offset, engineState.Length));
        (_workload, _seed) = (workload, workload.Seed!.Value);
        _owedWrites = BinaryPrimitives.ReadDoubleLittleEndian(span[26..]);
        _outputsCounted = BinaryPrimitives.ReadInt64LittleEndian(span[34..]);
        return wpars;

        static int ReadLength(byte[] state, ref int at, int size, string what)
        {
            if (state.Length - at < size) throw new FormatException($"the vCPU state ends before the length of {what}");
            var length = size == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(state.AsSpan(at)) : BinaryPrimitives.ReadInt32LittleEndian(state.AsSpan(at));
            at += size;
            if (length < 0) throw new FormatException($"the length of {what} is negative ({length})");
            return length;
        }

        // Checks that the length is there and moves past it; returns the length. Callers read `at` in an
        // earlier argument, which C# evaluates first, so they get the start of what was taken.
        static int Take(byte[] state, ref int at, int length, string what)
        {
            if (state.Length - at < length) throw new FormatException($"{what} declares {length} bytes; {state.Length - at} remain");
            at += length;
            return length;
        }
    }

    /// <summary>
    /// A fresh kernel for this node with every WPAR of the image restarted on it (S6, S7, S9, S11): new
    /// real ids, the same view. Returns why not, naming the WPAR and the refusal, when one is refused.
    /// </summary>
    private string? RestartWpars(IReadOnlyList<(string Name, byte[] Image)> wpars)
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
