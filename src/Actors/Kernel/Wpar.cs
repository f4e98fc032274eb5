using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

/// <summary>
/// A workload partition inside a <see cref="GuestKernel"/>: its processes and the calls they make.
/// Every call names processes, IPC objects, ptys and streams by the ids this WPAR sees (virtual
/// ids, S7 and S9); the WPAR's tables turn them into the kernel's real ones. Each call advances the
/// WPAR's logical clock, which stamps the times IPC objects record (there is no wall clock).
/// </summary>
/// <remarks>The partial files beside this one hold the calls of each subsystem.</remarks>
public sealed partial class Wpar
{
    /// <summary>Largest single write, read or message of this model.</summary>
    public const int MaxTransfer = 4096;

    /// <summary>Longest command name a process may have.</summary>
    public const int MaxCommand = 255;

    private readonly GuestKernel _kernel;

    internal Wpar(GuestKernel kernel, int id, string name)
    {
        _kernel = kernel;
        Id = id;
        Name = name;
    }

    /// <summary>The kernel's number for this WPAR (S9 keys POSIX names by it); not visible inside the WPAR.</summary>
    public int Id { get; }

    public string Name { get; }

    /// <summary>The WPAR's logical clock: calls made so far.</summary>
    public long Clock { get; internal set; }

    internal GuestKernel Kernel => _kernel;

    internal VirtualIdTable Pids { get; } = new("process", VirtualIdPolicy.Counter, 1);

    internal VirtualIdTable MessageQueueIds { get; } = new("message queue", VirtualIdPolicy.Counter, 0);

    internal VirtualIdTable SemaphoreSetIds { get; } = new("semaphore set", VirtualIdPolicy.Counter, 0);

    internal VirtualIdTable SharedMemoryIds { get; } = new("shared memory segment", VirtualIdPolicy.Counter, 0);

    internal VirtualIdTable PosixHandles { get; } = new("POSIX IPC handle", VirtualIdPolicy.Counter, 1);

    internal VirtualIdTable PtyNumbers { get; } = new("pty", VirtualIdPolicy.LowestFree, 0);

    internal VirtualIdTable StreamIds { get; } = new("stream", VirtualIdPolicy.Counter, 1);

    /// <summary>System V keys of this WPAR's name space, to virtual ids.</summary>
    internal Dictionary<int, long> MessageQueueKeys { get; } = [];

    internal Dictionary<int, long> SemaphoreKeys { get; } = [];

    internal Dictionary<int, long> SharedMemoryKeys { get; } = [];

    /// <summary>Virtual pids of the processes, alive and exited, in order.</summary>
    public ImmutableArray<int> ProcessIds => [.. Pids.Entries().Select(e => (int)e.Virtual)];

    /// <summary>Virtual pids of the processes that have not exited.</summary>
    public ImmutableArray<int> LiveProcessIds => [.. Pids.Entries().Where(e => !_kernel.Processes[(int)e.Real].Exited).Select(e => (int)e.Virtual)];

    // ---- processes -----------------------------------------------------------------------

    /// <summary>Starts a process running <paramref name="command"/> as <paramref name="uid"/>/<paramref name="gid"/>; returns its pid.</summary>
    public KernelResult<int> Spawn(int uid, int gid, string command)
    {
        Clock++;
        ArgumentNullException.ThrowIfNull(command);
        if (uid < 0 || gid < 0) return Fail.With(Errno.Invalid, $"uid {uid} and gid {gid} must not be negative");
        if (command.Length > MaxCommand) return Fail.With(Errno.Invalid, $"a command of {command.Length} characters is over {MaxCommand}");
        var process = _kernel.NewProcess(uid, gid, command);
        return (int)Pids.Map(process.RealPid);
    }

    /// <summary>
    /// Ends a process: closes its descriptors, detaches its segments, adds its semaphore undo values
    /// back, closes its named semaphores. The pid stays (exited) so ids that recorded it still name it.
    /// </summary>
    public KernelResult<Done> Exit(int pid)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        ExitProcess(process);
        return new Done();
    }

    internal void ExitProcess(GuestProcess process)
    {
        foreach (var fd in process.Descriptors.Keys.ToList()) CloseDescriptor(process, fd);
        foreach (var address in process.Attachments.Keys.ToList()) DetachSegment(process, address);
        foreach (var ((set, number), adjustment) in process.SemaphoreUndo.OrderBy(u => u.Key.Set.RealId).ThenBy(u => u.Key.Number))
        {
            // As Linux does: the value is clamped into range rather than the exit failing.
            set.Values[number] = Math.Clamp(set.Values[number] + adjustment, 0, SemaphoreSet.MaxValue);
            set.LastPids[number] = process.RealPid;
        }
        process.SemaphoreUndo.Clear();
        foreach (var (semaphore, opens) in process.OpenSemaphores.ToList())
        {
            for (var i = 0; i < opens; i++) CloseSemaphore(process, semaphore);
        }
        process.Exited = true;
    }

    // ---- descriptors ---------------------------------------------------------------------

    /// <summary>write(2) on a pty end or a stream; returns the bytes taken.</summary>
    public KernelResult<int> Write(int pid, int fd, ReadOnlySpan<byte> data)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (data.Length > MaxTransfer) return Fail.With(Errno.Invalid, $"a write of {data.Length} bytes is over the {MaxTransfer}-byte limit");
        if (!process.Descriptors.TryGetValue(fd, out var descriptor)) return BadDescriptor(fd);
        switch (descriptor)
        {
            case PtyMasterDescriptor master:
            {
                var taken = master.Pty.WriteMaster(data);
                return taken == 0 && data.Length > 0 ? Fail.With(Errno.Again, $"the input queue of pty {PtyNumber(master.Pty)} is full") : taken;
            }
            case PtySlaveDescriptor slave:
            {
                var taken = slave.Pty.WriteSlave(data);
                return taken == 0 && data.Length > 0 ? Fail.With(Errno.Again, $"the output queue of pty {PtyNumber(slave.Pty)} is full") : taken;
            }
            case HungUpDescriptor:
                return Fail.With(Errno.InputOutput, $"descriptor {fd} is a hung-up terminal");
            case StreamDescriptor stream:
                stream.Stream.Write(data);
                return data.Length;
            default:
                return Fail.With(Errno.BadDescriptor, $"descriptor {fd} does not take write(2)");
        }
    }

    /// <summary>read(2) from a pty end or a stream: up to <paramref name="max"/> bytes; Again when nothing is there; empty at end of file.</summary>
    public KernelResult<ByteString> Read(int pid, int fd, int max)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (max is < 1 or > MaxTransfer) return Fail.With(Errno.Invalid, $"a read of {max} bytes is outside 1..{MaxTransfer}");
        if (!process.Descriptors.TryGetValue(fd, out var descriptor)) return BadDescriptor(fd);
        switch (descriptor)
        {
            case PtyMasterDescriptor master:
                return master.Pty.ReadMaster(max) is { } output ? output : Fail.With(Errno.Again, $"pty {PtyNumber(master.Pty)} has no output for its master");
            case PtySlaveDescriptor slave:
                return slave.Pty.ReadSlave(max) is { } input ? input
                    : Fail.With(Errno.Again, (slave.Pty.Settings.Local & TerminalLocalFlags.Canonical) != 0
                        ? $"pty {PtyNumber(slave.Pty)} has no whole line for its slave"
                        : $"pty {PtyNumber(slave.Pty)} has no input for its slave");
            case HungUpDescriptor:
                return ByteString.Empty;
            case StreamDescriptor stream:
                return stream.Stream.Readable > 0 ? stream.Stream.Read(max) : Fail.With(Errno.Again, $"stream {StreamIds.Virtual(stream.Stream.RealId)} has nothing to read");
            default:
                return Fail.With(Errno.BadDescriptor, $"descriptor {fd} does not take read(2)");
        }
    }

    /// <summary>close(2). Closing a pty master hangs its slaves up; closing a stream dismantles it.</summary>
    public KernelResult<Done> Close(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!process.Descriptors.ContainsKey(fd)) return BadDescriptor(fd);
        CloseDescriptor(process, fd);
        return new Done();
    }

    internal void CloseDescriptor(GuestProcess process, int fd)
    {
        var descriptor = process.Descriptors[fd];
        process.Descriptors.Remove(fd);
        switch (descriptor)
        {
            case PtyMasterDescriptor master:
                HangUp(master.Pty);
                break;
            case PtySlaveDescriptor slave:
                slave.Pty.SlaveOpens--;
                break;
            case StreamDescriptor stream:
                StreamIds.Unmap(StreamIds.Virtual(stream.Stream.RealId));
                _kernel.Streams.Remove(stream.Stream.RealId);
                break;
            case PosixQueueDescriptor queue:
                queue.Queue.Opens--;
                if (queue.Queue.Unlinked && queue.Queue.Opens == 0) DestroyPosixObject(queue.Queue);
                break;
            case PosixSharedMemoryDescriptor shared:
                shared.Object.Opens--;
                if (shared.Object.Unlinked && shared.Object.Opens == 0) _kernel.SharedMemoryInodes.Remove(shared.Object.RealHandle);
                break;
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    /// <summary>Starts a call: advances the clock and finds the calling process.</summary>
    private bool Enter(int pid, out GuestProcess process, out KernelError error)
    {
        Clock++;
        if (Pids.TryReal(pid, out var real) && _kernel.Processes.TryGetValue((int)real, out process!) && !process.Exited)
        {
            error = null!;
            return true;
        }
        process = null!;
        error = Fail.With(Errno.NoProcess, $"no live process {pid} in WPAR {Name}");
        return false;
    }

    private bool AddDescriptor(GuestProcess process, Descriptor descriptor, out int fd, out KernelError error)
    {
        fd = process.LowestFreeDescriptor();
        if (fd < 0)
        {
            error = Fail.With(Errno.NoSpace, $"process has {GuestProcess.MaxDescriptors} descriptors open");
            return false;
        }
        process.Descriptors.Add(fd, descriptor);
        error = null!;
        return true;
    }

    private static KernelError BadDescriptor(int fd) => Fail.With(Errno.BadDescriptor, $"no descriptor {fd}");

    /// <summary>The pid the WPAR sees for a real pid recorded in an object (0 stays 0: none).</summary>
    internal int VirtualPid(int realPid) => realPid == 0 ? 0 : (int)Pids.Virtual(realPid);

    internal int RealPid(int virtualPid) => virtualPid == 0 ? 0 : Pids.TryReal(virtualPid, out var real) ? (int)real : throw new InvalidOperationException($"no process {virtualPid}");

    internal IEnumerable<GuestProcess> Processes() => Pids.Entries().Select(e => _kernel.Processes[(int)e.Real]);
}
