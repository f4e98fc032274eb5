using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

/// <summary>
/// The checkpoint of one WPAR's kernel state: everything in it is in the WPAR's own (virtual) ids,
/// so it restarts on any kernel. <see cref="WparImageCodec"/> turns it into bytes (a section of the
/// LPAR's checkpoint image).
/// </summary>
/// <param name="Name">The WPAR's name.</param>
/// <param name="Clock">The WPAR's logical clock.</param>
/// <param name="Counters">Where the WPAR's virtual id counters stand, so ids made after a restart are the ids that would have been made without one.</param>
/// <param name="Processes">Per-process data (S7), by pid.</param>
/// <param name="MessageQueues">S7: System V message queues by virtual id, with their messages and control information.</param>
/// <param name="SemaphoreSets">S7: System V semaphore sets by virtual id, with values and control information.</param>
/// <param name="SharedMemorySegments">S7: System V segments by virtual id, with bytes and control information.</param>
/// <param name="PosixQueues">S9: POSIX message queues by virtual kernel handle, with name, messages and control information.</param>
/// <param name="PosixSemaphores">S9: POSIX named semaphores by virtual kernel handle, with name and value.</param>
/// <param name="PosixSharedMemory">S9: POSIX shared memory objects, by name: they take their own path on restart.</param>
/// <param name="Ptys">S6: each pty's settings and queued data; which process holds which end is in the processes' descriptors.</param>
/// <param name="Streams">S10, S11: each stream's module identities, order and state, and the blocks it held queued.</param>
public sealed record WparImage(
    string Name,
    long Clock,
    VirtualIdCounters Counters,
    ImmutableArray<ProcessImage> Processes,
    ImmutableArray<MessageQueueImage> MessageQueues,
    ImmutableArray<SemaphoreSetImage> SemaphoreSets,
    ImmutableArray<SharedMemorySegmentImage> SharedMemorySegments,
    ImmutableArray<PosixQueueImage> PosixQueues,
    ImmutableArray<PosixSemaphoreImage> PosixSemaphores,
    ImmutableArray<PosixSharedMemoryImage> PosixSharedMemory,
    ImmutableArray<PtyImage> Ptys,
    ImmutableArray<StreamImage> Streams)
{
    /// <summary>IPC objects of every kind in the image.</summary>
    public int IpcObjects => MessageQueues.Length + SemaphoreSets.Length + SharedMemorySegments.Length + PosixQueues.Length + PosixSemaphores.Length + PosixSharedMemory.Length;
}

/// <summary>The next virtual id of each counter-allocated kind (pty numbers take the lowest free and need none).</summary>
public sealed record VirtualIdCounters(long Pid, long MessageQueue, long SemaphoreSet, long SharedMemory, long PosixHandle, long Stream);

/// <summary>What a descriptor is open on, in an image.</summary>
public enum DescriptorKind : byte
{
    PtyMaster = 1,
    PtySlave = 2,
    HungUp = 3,
    Stream = 4,
    PosixQueue = 5,
    PosixSharedMemory = 6,
}

/// <summary>
/// One descriptor of a process. <paramref name="Target"/> is the pty number (pty ends), the stream's
/// virtual id, the queue's virtual handle, or the index of the shared memory object in
/// <see cref="WparImage.PosixSharedMemory"/>; 0 for a hung-up terminal.
/// </summary>
public sealed record DescriptorImage(int Fd, DescriptorKind Kind, long Target, PosixAccess Access);

/// <summary>A System V segment attached at <paramref name="Address"/>.</summary>
public sealed record AttachmentImage(long Address, int SegmentId, bool ReadOnly);

/// <summary>A semaphore undo value of a process.</summary>
public sealed record SemaphoreUndoImage(int SetId, int Number, int Adjustment);

/// <summary>A named semaphore a process has open, and how many times.</summary>
public sealed record OpenSemaphoreImage(long Handle, int Opens);

/// <summary>S7 per-process data.</summary>
public sealed record ProcessImage(
    int Pid,
    int Uid,
    int Gid,
    string Command,
    bool Exited,
    long NextAttachAddress,
    ImmutableArray<DescriptorImage> Descriptors,
    ImmutableArray<AttachmentImage> Attachments,
    ImmutableArray<SemaphoreUndoImage> SemaphoreUndo,
    ImmutableArray<OpenSemaphoreImage> OpenSemaphores);

/// <summary>A System V message queue: virtual id, messages, and control information (pids are the WPAR's).</summary>
public sealed record MessageQueueImage(
    int Id, IpcPermissions Permissions, int MaxBytes, ImmutableArray<SysVMessage> Messages,
    int LastSendPid, int LastReceivePid, long SendTime, long ReceiveTime, long ChangeTime);

/// <summary>A System V semaphore set: virtual id, values, last pid of each, and times.</summary>
public sealed record SemaphoreSetImage(
    int Id, IpcPermissions Permissions, ImmutableArray<int> Values, ImmutableArray<int> LastPids, long OperationTime, long ChangeTime);

/// <summary>A System V segment: virtual id, bytes, and control information.</summary>
public sealed record SharedMemorySegmentImage(
    int Id, IpcPermissions Permissions, ByteString Bytes, int CreatorPid, int LastPid, int Attachments,
    long AttachTime, long DetachTime, long ChangeTime, bool Removed);

/// <summary>A POSIX message queue: virtual kernel handle, name (and whether unlinked), control information and messages.</summary>
public sealed record PosixQueueImage(
    long Handle, string Name, bool Unlinked, int Mode, int Uid, int Gid, int MaxMessages, int MaxMessageSize, ImmutableArray<PosixMessage> Messages);

/// <summary>A POSIX named semaphore.</summary>
public sealed record PosixSemaphoreImage(long Handle, string Name, bool Unlinked, int Mode, int Uid, int Gid, int Value);

/// <summary>A POSIX shared memory object: no handle, only its name (S9).</summary>
public sealed record PosixSharedMemoryImage(string Name, bool Unlinked, int Mode, int Uid, int Gid, ByteString Bytes);

/// <summary>A pty: its number in the WPAR, settings, and the bytes queued in each direction.</summary>
public sealed record PtyImage(int Number, TerminalSettings Settings, ByteString ToSlave, ByteString ToMaster);

/// <summary>S11: one module of a stream: its position (0 is next to the head), identity and the state it wrote (S10).</summary>
public sealed record StreamModuleImage(int Position, string Identity, ByteString State);

/// <summary>A block a frozen stream held queued in front of <paramref name="Position"/> (module, or the driver at the module count).</summary>
public sealed record QueuedBlockImage(int Position, MessageType Type, ByteString Payload);

/// <summary>A stream: virtual id, whether it was frozen before the checkpoint, its modules, queued blocks and unread bytes.</summary>
public sealed record StreamImage(
    long Id, bool Frozen, ImmutableArray<StreamModuleImage> Modules, ImmutableArray<QueuedBlockImage> Queued, ByteString Readable);
