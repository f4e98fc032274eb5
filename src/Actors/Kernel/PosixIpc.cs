namespace Vios.Actors.Kernel;

/// <summary>The three kinds of POSIX IPC object; each kind has its own name space.</summary>
public enum PosixObjectKind : byte
{
    MessageQueue = 1,
    Semaphore = 2,
    SharedMemory = 3,
}

/// <summary>O_RDONLY, O_WRONLY, O_RDWR of a POSIX open.</summary>
public enum PosixAccess : byte
{
    ReadOnly = 0,
    WriteOnly = 1,
    ReadWrite = 2,
}

/// <summary>A message on a POSIX queue: its priority (0..31, higher first) and bytes.</summary>
public sealed record PosixMessage(int Priority, ByteString Data);

/// <summary>What <c>mq_getattr</c> returns.</summary>
public sealed record PosixQueueAttributes(int MaxMessages, int MaxMessageSize, int CurrentMessages);

/// <summary>Ownership and mode of a POSIX object, and whether its name is gone while it stays open.</summary>
internal abstract class PosixObject(long realHandle, string name, int mode, int uid, int gid)
{
    public long RealHandle { get; } = realHandle;

    public string Name { get; } = name;

    public int Mode { get; set; } = mode;

    public int Uid { get; } = uid;

    public int Gid { get; } = gid;

    /// <summary>Unlinked while open: the name finds it no more, it lives until the last close.</summary>
    public bool Unlinked { get; set; }

    /// <summary>Descriptors (queues, shared memory) or opens (semaphores) of every process.</summary>
    public int Opens { get; set; }

    public bool Allows(int processUid, int processGid, int access)
    {
        if (processUid == 0) return true;
        var bits = processUid == Uid ? Mode >> 6 : processGid == Gid ? Mode >> 3 : Mode;
        return (bits & access) == access;
    }

    /// <summary>
    /// A name <c>mq_open</c>, <c>sem_open</c> and <c>shm_open</c> accept: a slash, then 1 to 255
    /// characters without another slash.
    /// </summary>
    public static string? NameProblem(string name) =>
        name.Length is < 2 or > 256 || name[0] != '/' || name.IndexOf('/', 1) >= 0 || name.Contains('\0')
            ? $"\"{name}\" is not a POSIX IPC name (a slash, then 1 to 255 characters without another slash)"
            : null;
}

internal sealed class PosixMessageQueue(long realHandle, string name, int mode, int uid, int gid, int maxMessages, int maxMessageSize)
    : PosixObject(realHandle, name, mode, uid, gid)
{
    /// <summary>mq_maxmsg and mq_msgsize limits of this model.</summary>
    public const int MaxMessagesLimit = 256;

    public const int MaxMessageSizeLimit = 8192;

    /// <summary>Highest priority first, oldest first within a priority.</summary>
    public List<PosixMessage> Messages { get; } = [];

    public int MaxMessages { get; } = maxMessages;

    public int MaxMessageSize { get; } = maxMessageSize;

    public void Enqueue(PosixMessage message)
    {
        var at = Messages.FindIndex(m => m.Priority < message.Priority);
        Messages.Insert(at < 0 ? Messages.Count : at, message);
    }
}

internal sealed class PosixSemaphore(long realHandle, string name, int mode, int uid, int gid, int value)
    : PosixObject(realHandle, name, mode, uid, gid)
{
    /// <summary>SEM_VALUE_MAX of this model.</summary>
    public const int MaxValue = 32767;

    public int Value { get; set; } = value;
}

/// <summary>
/// A POSIX shared memory object. S9: it takes its own path: no virtual kernel handle, it is found by
/// name in the WPAR's name space and reached through file descriptors; <see cref="PosixObject.RealHandle"/>
/// is its inode number.
/// </summary>
internal sealed class PosixSharedMemory(long inode, string name, int mode, int uid, int gid)
    : PosixObject(inode, name, mode, uid, gid)
{
    public const int MaxSize = 1 << 20;

    public byte[] Bytes { get; set; } = [];
}

/// <summary>
/// S9: the kernel's table from (name, WPAR id) to the virtual kernel handle of a POSIX message queue
/// or semaphore. A WPAR creating an object asks with its name and WPAR id; on restart the WPAR
/// first registers the handle it wants under that name, so the create finds the entry and hands
/// back the registered handle.
/// </summary>
internal sealed class PosixNameTable
{
    private readonly Dictionary<(int Wpar, PosixObjectKind Kind, string Name), Entry> _entries = [];

    internal sealed class Entry(long virtualHandle)
    {
        public long VirtualHandle { get; } = virtualHandle;

        /// <summary>Null while only registered (restart), before the object is created.</summary>
        public PosixObject? Object { get; set; }
    }

    /// <summary>Restart: the virtual handle <paramref name="wpar"/> wants for the object it will create as <paramref name="name"/>.</summary>
    public void Register(int wpar, PosixObjectKind kind, string name, long virtualHandle)
    {
        if (!_entries.TryAdd((wpar, kind, name), new Entry(virtualHandle)))
            throw new InvalidOperationException($"{kind} {name} of WPAR {wpar} is already in the name table");
    }

    public Entry? Find(int wpar, PosixObjectKind kind, string name) => _entries.GetValueOrDefault((wpar, kind, name));

    public void Add(int wpar, PosixObjectKind kind, string name, long virtualHandle, PosixObject created) =>
        _entries.Add((wpar, kind, name), new Entry(virtualHandle) { Object = created });

    public void Remove(int wpar, PosixObjectKind kind, string name) => _entries.Remove((wpar, kind, name));

    public void RemoveWpar(int wpar)
    {
        foreach (var key in _entries.Keys.Where(k => k.Wpar == wpar).ToList()) _entries.Remove(key);
    }
}
