using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

/// <summary>A WPAR as <c>wpar list</c> shows it.</summary>
public sealed record WparSummary(int Id, string Name, int LiveProcesses, int SysVObjects, int PosixObjects, int Ptys, int Streams);

/// <summary>
/// The simulated guest kernel of one LPAR: its WPARs with their processes, and the kernel-wide
/// tables of real System V ids, POSIX handles, pty devices and stream heads. Real ids come from
/// this kernel's <see cref="KernelIdentity"/>, so another kernel hands out others; WPARs see only
/// virtual ids (S7, S9), which is what lets <see cref="Checkpoint"/> on one kernel and
/// <see cref="Restart(WparImage, RestartOptions?)"/> on another move a WPAR without it noticing.
/// </summary>
/// <remarks>A plain, single-threaded model: the actor that hosts it serialises the calls.</remarks>
public sealed partial class GuestKernel
{
    private readonly SortedDictionary<int, Wpar> _wpars = [];
    private int _nextWparId = 1;
    private int _nextPid;
    private long _nextHandle;
    private long _nextStreamId;
    private long _nextInode;

    public GuestKernel(KernelIdentity identity, StreamModuleCatalog? modules = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        Identity = identity;
        Modules = modules ?? StreamModuleCatalog.Standard;
        MessageQueueIdSpace = new SysVIdSpace(identity.SequenceSeed, identity.ReservedSlots);
        SemaphoreIdSpace = new SysVIdSpace(identity.SequenceSeed, identity.ReservedSlots);
        SharedMemoryIdSpace = new SysVIdSpace(identity.SequenceSeed, identity.ReservedSlots);
        Ptys = new PtyTable(identity.FirstPty);
        _nextPid = identity.FirstPid;
        (_nextHandle, _nextStreamId, _nextInode) = (identity.FirstHandle, identity.FirstHandle, identity.FirstHandle);
    }

    public KernelIdentity Identity { get; }

    /// <summary>The STREAMS modules this kernel can push (and rebuild on restart).</summary>
    public StreamModuleCatalog Modules { get; }

    internal Dictionary<int, GuestProcess> Processes { get; } = [];

    internal SysVIdSpace MessageQueueIdSpace { get; }

    internal SysVIdSpace SemaphoreIdSpace { get; }

    internal SysVIdSpace SharedMemoryIdSpace { get; }

    internal Dictionary<int, SysVMessageQueue> MessageQueues { get; } = [];

    internal Dictionary<int, SemaphoreSet> SemaphoreSets { get; } = [];

    internal Dictionary<int, SharedMemorySegment> SharedMemorySegments { get; } = [];

    /// <summary>S9: (name, WPAR id) to virtual kernel handle, for message queues and semaphores.</summary>
    internal PosixNameTable PosixNames { get; } = new();

    /// <summary>POSIX message queues and semaphores by real handle.</summary>
    internal Dictionary<long, PosixObject> PosixObjects { get; } = [];

    /// <summary>POSIX shared memory objects by (WPAR id, name), while linked.</summary>
    internal Dictionary<(int Wpar, string Name), PosixSharedMemory> SharedMemoryObjects { get; } = [];

    /// <summary>POSIX shared memory objects by inode, linked or not.</summary>
    internal Dictionary<long, PosixSharedMemory> SharedMemoryInodes { get; } = [];

    internal PtyTable Ptys { get; }

    internal Dictionary<long, StreamHead> Streams { get; } = [];

    // ---- WPARs -----------------------------------------------------------------------------

    /// <summary>Creates an empty WPAR; Exists when the name is taken, Invalid when it is not a name.</summary>
    public KernelResult<Wpar> CreateWpar(string name)
    {
        if (NameProblem(name) is { } problem) return Fail.With(Errno.Invalid, problem);
        if (_wpars.Values.Any(w => w.Name == name)) return Fail.With(Errno.Exists, $"a WPAR named {name} exists on {Identity.Node}");
        var wpar = new Wpar(this, _nextWparId++, name);
        _wpars.Add(wpar.Id, wpar);
        return wpar;
    }

    /// <summary>The WPAR with that id, or null.</summary>
    public Wpar? FindWpar(int wparId) => _wpars.GetValueOrDefault(wparId);

    /// <summary>The WPAR named <paramref name="name"/>, or null.</summary>
    public Wpar? FindWpar(string name) => _wpars.Values.FirstOrDefault(w => w.Name == name);

    /// <summary>The WPAR with that id; an id this kernel does not have is a caller's bug.</summary>
    public Wpar Wpar(int wparId) =>
        _wpars.TryGetValue(wparId, out var wpar) ? wpar : throw new KeyNotFoundException($"no WPAR {wparId} on {Identity.Node}");

    /// <summary>Every WPAR, by id.</summary>
    public ImmutableArray<WparSummary> ListWpars() =>
    [
        .. _wpars.Values.Select(w => new WparSummary(
            w.Id, w.Name, w.LiveProcessIds.Length,
            w.MessageQueueIds.Count + w.SemaphoreSetIds.Count + w.SharedMemoryIds.Count,
            w.PosixHandles.Count + SharedMemoryObjectsOf(w).Count(),
            w.PtyNumbers.Count, w.StreamIds.Count)),
    ];

    /// <summary>
    /// Stops a WPAR and frees everything it held: its processes exit, then its remaining IPC objects
    /// are destroyed and their real ids released. False when there is no such WPAR.
    /// </summary>
    public bool RemoveWpar(int wparId)
    {
        if (!_wpars.Remove(wparId, out var wpar)) return false;
        foreach (var process in wpar.Processes().Where(p => !p.Exited).ToList()) wpar.ExitProcess(process);
        foreach (var (_, real) in wpar.MessageQueueIds.Entries().ToList()) DestroyMessageQueue(MessageQueues[(int)real]);
        foreach (var (_, real) in wpar.SemaphoreSetIds.Entries().ToList()) DestroySemaphoreSet(SemaphoreSets[(int)real]);
        foreach (var (_, real) in wpar.SharedMemoryIds.Entries().ToList()) DestroySharedMemorySegment(SharedMemorySegments[(int)real]);
        foreach (var (_, real) in wpar.PosixHandles.Entries().ToList()) PosixObjects.Remove(real);
        PosixNames.RemoveWpar(wparId);
        foreach (var shared in SharedMemoryObjectsOf(wpar).ToList())
        {
            SharedMemoryObjects.Remove((wparId, shared.Name));
            SharedMemoryInodes.Remove(shared.RealHandle);
        }
        foreach (var (_, real) in wpar.Pids.Entries()) Processes.Remove((int)real);
        return true;
    }

    internal static string? NameProblem(string name) =>
        string.IsNullOrEmpty(name) || name.Length > 64 || name.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            ? $"\"{name}\" is not a WPAR name (1 to 64 characters, no spaces or control characters)"
            : null;

    /// <summary>The WPAR's POSIX shared memory objects: linked ones by name, unlinked ones still open through a descriptor.</summary>
    internal IEnumerable<PosixSharedMemory> SharedMemoryObjectsOf(Wpar wpar)
    {
        var linked = SharedMemoryObjects.Where(e => e.Key.Wpar == wpar.Id).Select(e => e.Value);
        var unlinked = wpar.Processes()
            .SelectMany(p => p.Descriptors.Values.OfType<PosixSharedMemoryDescriptor>())
            .Select(d => d.Object)
            .Where(o => o.Unlinked);
        return linked.Concat(unlinked).Distinct();
    }

    // ---- kernel objects ----------------------------------------------------------------------

    internal GuestProcess NewProcess(int uid, int gid, string command)
    {
        var process = new GuestProcess(_nextPid++, uid, gid, command);
        Processes.Add(process.RealPid, process);
        return process;
    }

    internal SysVMessageQueue? NewMessageQueue(IpcPermissions permissions, int maxBytes)
    {
        if (!MessageQueueIdSpace.TryAllocate(out var realId)) return null;
        var queue = new SysVMessageQueue(realId, permissions, maxBytes);
        MessageQueues.Add(realId, queue);
        return queue;
    }

    internal void DestroyMessageQueue(SysVMessageQueue queue)
    {
        MessageQueues.Remove(queue.RealId);
        MessageQueueIdSpace.Free(queue.RealId);
    }

    internal SemaphoreSet? NewSemaphoreSet(IpcPermissions permissions, int count)
    {
        if (!SemaphoreIdSpace.TryAllocate(out var realId)) return null;
        var set = new SemaphoreSet(realId, permissions, count);
        SemaphoreSets.Add(realId, set);
        return set;
    }

    internal void DestroySemaphoreSet(SemaphoreSet set)
    {
        SemaphoreSets.Remove(set.RealId);
        SemaphoreIdSpace.Free(set.RealId);
    }

    internal SharedMemorySegment? NewSharedMemorySegment(IpcPermissions permissions, int size)
    {
        if (!SharedMemoryIdSpace.TryAllocate(out var realId)) return null;
        var segment = new SharedMemorySegment(realId, permissions, size);
        SharedMemorySegments.Add(realId, segment);
        return segment;
    }

    internal void DestroySharedMemorySegment(SharedMemorySegment segment)
    {
        SharedMemorySegments.Remove(segment.RealId);
        SharedMemoryIdSpace.Free(segment.RealId);
    }

    internal long NewPosixHandle() => _nextHandle++;

    internal PosixSharedMemory NewSharedMemoryObject(int wparId, string name, int mode, int uid, int gid)
    {
        var shared = new PosixSharedMemory(_nextInode++, name, mode, uid, gid);
        SharedMemoryInodes.Add(shared.RealHandle, shared);
        SharedMemoryObjects.Add((wparId, name), shared);
        return shared;
    }

    internal StreamHead NewStream()
    {
        var stream = new StreamHead(_nextStreamId++);
        Streams.Add(stream.RealId, stream);
        return stream;
    }
}
