namespace Vios.Actors.Kernel;

/// <summary>Flags of <c>msgget</c>, <c>semget</c>, <c>shmget</c> and of the POSIX opens.</summary>
[Flags]
public enum IpcCreate
{
    None = 0,

    /// <summary>IPC_CREAT / O_CREAT: create the object when the key or name is not in use.</summary>
    Create = 1,

    /// <summary>IPC_EXCL / O_EXCL: with Create, fail when it is.</summary>
    Exclusive = 2,
}

/// <summary>
/// The <c>ipc_perm</c> of a System V object: key, owner, creator and mode bits. A process whose uid is
/// 0 passes every check.
/// </summary>
public sealed record IpcPermissions(int Key, int Uid, int Gid, int CreatorUid, int CreatorGid, int Mode)
{
    /// <summary>IPC_PRIVATE: a key that always creates a new object and is never found.</summary>
    public const int PrivateKey = 0;

    public const int Read = 4;
    public const int Write = 2;

    /// <summary>True when a process of <paramref name="uid"/>/<paramref name="gid"/> has <paramref name="access"/> (read 4, write 2).</summary>
    public bool Allows(int uid, int gid, int access)
    {
        if (uid == 0) return true;
        var bits = uid == Uid || uid == CreatorUid ? Mode >> 6 : gid == Gid || gid == CreatorGid ? Mode >> 3 : Mode;
        return (bits & access) == access;
    }

    /// <summary>Owner, creator or root: may change or remove the object.</summary>
    public bool IsOwner(int uid) => uid == 0 || uid == Uid || uid == CreatorUid;
}

/// <summary>A message on a System V queue: its type (positive) and bytes.</summary>
public sealed record SysVMessage(long Type, ByteString Data);

/// <summary>Kernel object behind a System V message queue id.</summary>
internal sealed class SysVMessageQueue(int realId, IpcPermissions permissions, int maxBytes)
{
    /// <summary>msgmnb: bytes a new queue holds.</summary>
    public const int DefaultMaxBytes = 2048;

    /// <summary>msgmax: the largest message.</summary>
    public const int MaxMessageBytes = 1024;

    public int RealId { get; } = realId;

    public IpcPermissions Permissions { get; set; } = permissions;

    public int MaxBytes { get; set; } = maxBytes;

    public List<SysVMessage> Messages { get; } = [];

    public int Bytes { get; set; }

    /// <summary>Real pids of the last msgsnd and msgrcv (0: none yet).</summary>
    public int LastSendPid { get; set; }

    public int LastReceivePid { get; set; }

    /// <summary>msg_stime, msg_rtime, msg_ctime on the WPAR's logical clock.</summary>
    public long SendTime { get; set; }

    public long ReceiveTime { get; set; }

    public long ChangeTime { get; set; }

    /// <summary>The index of the message msgrcv takes for <paramref name="selector"/> (0: first; &gt;0: first of that type; &lt;0: lowest type at most |selector|), or -1.</summary>
    public int Find(long selector)
    {
        if (selector == 0) return Messages.Count > 0 ? 0 : -1;
        if (selector > 0) return Messages.FindIndex(m => m.Type == selector);
        var found = -1;
        for (var i = 0; i < Messages.Count; i++)
        {
            if (Messages[i].Type <= -selector && (found < 0 || Messages[i].Type < Messages[found].Type)) found = i;
        }
        return found;
    }
}

/// <summary>Kernel object behind a System V semaphore set id.</summary>
internal sealed class SemaphoreSet(int realId, IpcPermissions permissions, int count)
{
    /// <summary>SEMVMX: the largest semaphore value.</summary>
    public const int MaxValue = 32767;

    /// <summary>SEMMSL: semaphores per set.</summary>
    public const int MaxSemaphores = 64;

    public int RealId { get; } = realId;

    public IpcPermissions Permissions { get; set; } = permissions;

    public int[] Values { get; } = new int[count];

    /// <summary>sempid of each semaphore: real pid of the last operation on it.</summary>
    public int[] LastPids { get; } = new int[count];

    public long OperationTime { get; set; }

    public long ChangeTime { get; set; }
}

/// <summary>Kernel object behind a System V shared memory id.</summary>
internal sealed class SharedMemorySegment(int realId, IpcPermissions permissions, int size)
{
    /// <summary>SHMMAX of this model.</summary>
    public const int MaxSize = 1 << 20;

    public int RealId { get; } = realId;

    public IpcPermissions Permissions { get; set; } = permissions;

    public byte[] Bytes { get; } = new byte[size];

    public int CreatorPid { get; set; }

    public int LastPid { get; set; }

    public int Attachments { get; set; }

    public long AttachTime { get; set; }

    public long DetachTime { get; set; }

    public long ChangeTime { get; set; }

    /// <summary>IPC_RMID while attached: gone at the last detach; its key no longer finds it.</summary>
    public bool Removed { get; set; }
}

/// <summary>One <c>sembuf</c> of a <c>semop</c> call.</summary>
public readonly record struct SemaphoreOperation(int Number, int Delta, bool Undo = false);

/// <summary>What <c>msgctl(IPC_STAT)</c> returns, with pids as the WPAR sees them.</summary>
public sealed record MessageQueueStatus(IpcPermissions Permissions, int Messages, int Bytes, int MaxBytes, int LastSendPid, int LastReceivePid, long SendTime, long ReceiveTime, long ChangeTime);

/// <summary>What <c>shmctl(IPC_STAT)</c> returns, with pids as the WPAR sees them.</summary>
public sealed record SharedMemoryStatus(IpcPermissions Permissions, int Size, int CreatorPid, int LastPid, int Attachments, long AttachTime, long DetachTime, long ChangeTime);
