namespace Vios.Actors.Kernel;

/// <summary>What a file descriptor of a guest process is open on.</summary>
internal abstract record Descriptor;

/// <summary>The master side of a pty (<c>/dev/ptc</c>).</summary>
internal sealed record PtyMasterDescriptor(Pty Pty) : Descriptor;

/// <summary>The slave side of a pty (<c>/dev/pts/N</c>).</summary>
internal sealed record PtySlaveDescriptor(Pty Pty) : Descriptor;

/// <summary>A slave whose master closed: reads give end of file, writes fail.</summary>
internal sealed record HungUpDescriptor : Descriptor;

/// <summary>A stream head (the loopback device with its modules).</summary>
internal sealed record StreamDescriptor(StreamHead Stream) : Descriptor;

/// <summary>A POSIX message queue descriptor (<c>mqd_t</c>).</summary>
internal sealed record PosixQueueDescriptor(PosixMessageQueue Queue, PosixAccess Access) : Descriptor;

/// <summary>A POSIX shared memory object opened with <c>shm_open</c>.</summary>
internal sealed record PosixSharedMemoryDescriptor(PosixSharedMemory Object, PosixAccess Access) : Descriptor;

/// <summary>A System V segment attached at an address of the process.</summary>
internal sealed record Attachment(SharedMemorySegment Segment, bool ReadOnly);

/// <summary>
/// A process of a WPAR, with the per-process data the kernel keeps for it: descriptors, attached
/// segments, semaphore undo values, open named semaphores (S7: restored with the process).
/// </summary>
internal sealed class GuestProcess(int realPid, int uid, int gid, string command)
{
    /// <summary>OPEN_MAX of this model.</summary>
    public const int MaxDescriptors = 4096;

    /// <summary>Where the first shmat of a process maps.</summary>
    public const long FirstAttachAddress = 0x3000_0000;

    public int RealPid { get; } = realPid;

    public int Uid { get; } = uid;

    public int Gid { get; } = gid;

    public string Command { get; } = command;

    public bool Exited { get; set; }

    public SortedDictionary<int, Descriptor> Descriptors { get; } = [];

    public SortedDictionary<long, Attachment> Attachments { get; } = [];

    /// <summary>semadj: what exit adds back to each (set, semaphore) operated on with SEM_UNDO.</summary>
    public Dictionary<(SemaphoreSet Set, int Number), int> SemaphoreUndo { get; } = [];

    /// <summary>Named semaphores this process has open, with how many times.</summary>
    public Dictionary<PosixSemaphore, int> OpenSemaphores { get; } = [];

    public long NextAttachAddress { get; set; } = FirstAttachAddress;

    /// <summary>The lowest free descriptor number, or -1 when the table is full.</summary>
    public int LowestFreeDescriptor()
    {
        var fd = 0;
        foreach (var used in Descriptors.Keys)
        {
            if (used != fd) break;
            fd++;
        }
        return fd < MaxDescriptors ? fd : -1;
    }
}
