using System.Diagnostics;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Storage;

namespace Vios.Actors.Partitions;

/// <summary>
/// A partition's checkpoint epochs, at their stun and around it: the whole or dirty pages copied in
/// the stun (<see cref="Capture"/>), or marked copy-on-write and copied after it
/// (<see cref="StunDeferred"/>), the cold pages sent before it (<see cref="PreCopy"/>, S23), and
/// S24's copy-on-write checkpoint of memory and disk (<see cref="PrepareCow"/> to <see cref="CommitCowLayer"/>).
/// </summary>
public sealed partial class Lpar
{
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
        _outputs.Seal(epoch);
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
        _outputs.Seal(epoch);
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
        _outputs.Seal(epoch);
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
}
