namespace Vios.Actors.Kernel;

public sealed partial class Wpar
{
    // ---- message queues ------------------------------------------------------------------

    /// <summary>mq_open: a descriptor on the queue named <paramref name="name"/> in this WPAR, created when asked to.</summary>
    public KernelResult<int> PosixQueueOpen(int pid, string name, PosixAccess access, IpcCreate flags, int mode, int maxMessages = 16, int maxMessageSize = 256)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Enter(pid, out var process, out var error)) return error;
        if (PosixObject.NameProblem(name) is { } problem) return Fail.With(Errno.Invalid, problem);
        if (!Enum.IsDefined(access)) return Fail.With(Errno.Invalid, $"access {access} is not O_RDONLY, O_WRONLY or O_RDWR");
        if (process.LowestFreeDescriptor() < 0) return Fail.With(Errno.NoSpace, $"process {pid} has {GuestProcess.MaxDescriptors} descriptors open");

        PosixMessageQueue queue;
        if (_kernel.PosixNames.Find(Id, PosixObjectKind.MessageQueue, name)?.Object is PosixMessageQueue existing)
        {
            if ((flags & (IpcCreate.Create | IpcCreate.Exclusive)) == (IpcCreate.Create | IpcCreate.Exclusive)) return Fail.With(Errno.Exists, $"message queue {name} exists");
            if (!existing.Allows(process.Uid, process.Gid, Needs(access))) return Fail.With(Errno.Access, $"uid {process.Uid} gid {process.Gid} may not open message queue {name} {access}");
            queue = existing;
        }
        else
        {
            if ((flags & IpcCreate.Create) == 0) return Fail.With(Errno.NoEntry, $"no message queue {name}");
            if (maxMessages is < 1 or > PosixMessageQueue.MaxMessagesLimit || maxMessageSize is < 1 or > PosixMessageQueue.MaxMessageSizeLimit)
                return Fail.With(Errno.Invalid, $"mq_maxmsg {maxMessages} or mq_msgsize {maxMessageSize} is outside 1..{PosixMessageQueue.MaxMessagesLimit} or 1..{PosixMessageQueue.MaxMessageSizeLimit}");
            queue = (PosixMessageQueue)CreatePosixObject(PosixObjectKind.MessageQueue, name,
                handle => new PosixMessageQueue(handle, name, mode & 0x1FF, process.Uid, process.Gid, maxMessages, maxMessageSize));
        }
        AddDescriptor(process, new PosixQueueDescriptor(queue, access), out var fd, out _);
        queue.Opens++;
        return fd;
    }

    /// <summary>mq_send (O_NONBLOCK): Again when the queue is full.</summary>
    public KernelResult<Done> PosixQueueSend(int pid, int fd, int priority, ReadOnlySpan<byte> data)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (process.Descriptors.GetValueOrDefault(fd) is not PosixQueueDescriptor { Access: not PosixAccess.ReadOnly } descriptor)
            return Fail.With(Errno.BadDescriptor, $"descriptor {fd} is not a message queue open for writing");
        var queue = descriptor.Queue;
        if (priority is < 0 or > 31) return Fail.With(Errno.Invalid, $"priority {priority} is outside 0..31");
        if (data.Length > queue.MaxMessageSize) return Fail.With(Errno.TooBig, $"a message of {data.Length} bytes is over mq_msgsize {queue.MaxMessageSize}");
        if (queue.Messages.Count >= queue.MaxMessages) return Fail.With(Errno.Again, $"message queue {queue.Name} holds mq_maxmsg {queue.MaxMessages} messages");
        queue.Enqueue(new PosixMessage(priority, ByteString.Of(data)));
        return new Done();
    }

    /// <summary>mq_receive (O_NONBLOCK): the oldest message of the highest priority.</summary>
    public KernelResult<PosixMessage> PosixQueueReceive(int pid, int fd, int bufferSize)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (process.Descriptors.GetValueOrDefault(fd) is not PosixQueueDescriptor { Access: not PosixAccess.WriteOnly } descriptor)
            return Fail.With(Errno.BadDescriptor, $"descriptor {fd} is not a message queue open for reading");
        var queue = descriptor.Queue;
        if (bufferSize < queue.MaxMessageSize) return Fail.With(Errno.TooBig, $"a buffer of {bufferSize} bytes is smaller than mq_msgsize {queue.MaxMessageSize}");
        if (queue.Messages.Count == 0) return Fail.With(Errno.Again, $"message queue {queue.Name} is empty");
        var message = queue.Messages[0];
        queue.Messages.RemoveAt(0);
        return message;
    }

    /// <summary>mq_getattr.</summary>
    public KernelResult<PosixQueueAttributes> PosixQueueAttributes(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (process.Descriptors.GetValueOrDefault(fd) is not PosixQueueDescriptor descriptor) return Fail.With(Errno.BadDescriptor, $"descriptor {fd} is not a message queue");
        return new PosixQueueAttributes(descriptor.Queue.MaxMessages, descriptor.Queue.MaxMessageSize, descriptor.Queue.Messages.Count);
    }

    /// <summary>mq_unlink: the name is gone now; the queue goes when its last descriptor closes.</summary>
    public KernelResult<Done> PosixQueueUnlink(int pid, string name) => Unlink(pid, PosixObjectKind.MessageQueue, name);

    // ---- named semaphores ----------------------------------------------------------------

    /// <summary>sem_open: the handle of the semaphore named <paramref name="name"/>, created with <paramref name="initial"/> when asked to.</summary>
    public KernelResult<long> PosixSemaphoreOpen(int pid, string name, IpcCreate flags, int mode, int initial)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Enter(pid, out var process, out var error)) return error;
        if (PosixObject.NameProblem(name) is { } problem) return Fail.With(Errno.Invalid, problem);
        PosixSemaphore semaphore;
        if (_kernel.PosixNames.Find(Id, PosixObjectKind.Semaphore, name)?.Object is PosixSemaphore existing)
        {
            if ((flags & (IpcCreate.Create | IpcCreate.Exclusive)) == (IpcCreate.Create | IpcCreate.Exclusive)) return Fail.With(Errno.Exists, $"semaphore {name} exists");
            if (!existing.Allows(process.Uid, process.Gid, IpcPermissions.Read | IpcPermissions.Write)) return Fail.With(Errno.Access, $"uid {process.Uid} gid {process.Gid} may not open semaphore {name}");
            semaphore = existing;
        }
        else
        {
            if ((flags & IpcCreate.Create) == 0) return Fail.With(Errno.NoEntry, $"no semaphore {name}");
            if (initial is < 0 or > PosixSemaphore.MaxValue) return Fail.With(Errno.Invalid, $"initial value {initial} is outside 0..{PosixSemaphore.MaxValue}");
            semaphore = (PosixSemaphore)CreatePosixObject(PosixObjectKind.Semaphore, name,
                handle => new PosixSemaphore(handle, name, mode & 0x1FF, process.Uid, process.Gid, initial));
        }
        process.OpenSemaphores[semaphore] = process.OpenSemaphores.GetValueOrDefault(semaphore) + 1;
        semaphore.Opens++;
        return PosixHandles.Virtual(semaphore.RealHandle);
    }

    /// <summary>sem_post.</summary>
    public KernelResult<Done> PosixSemaphorePost(int pid, long handle)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindOpenSemaphore(process, handle, out var semaphore, out error)) return error;
        if (semaphore.Value >= PosixSemaphore.MaxValue) return Fail.With(Errno.Range, $"semaphore {semaphore.Name} is at {PosixSemaphore.MaxValue}");
        semaphore.Value++;
        return new Done();
    }

    /// <summary>sem_trywait: Again at zero.</summary>
    public KernelResult<Done> PosixSemaphoreTryWait(int pid, long handle)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindOpenSemaphore(process, handle, out var semaphore, out error)) return error;
        if (semaphore.Value == 0) return Fail.With(Errno.Again, $"semaphore {semaphore.Name} is zero");
        semaphore.Value--;
        return new Done();
    }

    /// <summary>sem_getvalue.</summary>
    public KernelResult<int> PosixSemaphoreValue(int pid, long handle)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        return FindOpenSemaphore(process, handle, out var semaphore, out error) ? semaphore.Value : error;
    }

    /// <summary>sem_close: one open fewer; an unlinked semaphore goes with its last close.</summary>
    public KernelResult<Done> PosixSemaphoreClose(int pid, long handle)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindOpenSemaphore(process, handle, out var semaphore, out error)) return error;
        CloseSemaphore(process, semaphore);
        return new Done();
    }

    /// <summary>sem_unlink.</summary>
    public KernelResult<Done> PosixSemaphoreUnlink(int pid, string name) => Unlink(pid, PosixObjectKind.Semaphore, name);

    private void CloseSemaphore(GuestProcess process, PosixSemaphore semaphore)
    {
        var opens = process.OpenSemaphores[semaphore] - 1;
        if (opens == 0) process.OpenSemaphores.Remove(semaphore);
        else process.OpenSemaphores[semaphore] = opens;
        semaphore.Opens--;
        if (semaphore.Unlinked && semaphore.Opens == 0) DestroyPosixObject(semaphore);
    }

    private bool FindOpenSemaphore(GuestProcess process, long handle, out PosixSemaphore semaphore, out KernelError error)
    {
        if (PosixHandles.TryReal(handle, out var real) && _kernel.PosixObjects.GetValueOrDefault(real) is PosixSemaphore found && process.OpenSemaphores.ContainsKey(found))
        {
            (semaphore, error) = (found, null!);
            return true;
        }
        (semaphore, error) = (null!, Fail.With(Errno.Invalid, $"the process has no semaphore {handle} open"));
        return false;
    }

    // ---- shared memory objects (S9: their own path, by name and descriptor, no handle) ----

    /// <summary>shm_open: a descriptor on the shared memory object named <paramref name="name"/>, created empty when asked to.</summary>
    public KernelResult<int> PosixSharedMemoryOpen(int pid, string name, PosixAccess access, IpcCreate flags, int mode)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Enter(pid, out var process, out var error)) return error;
        if (PosixObject.NameProblem(name) is { } problem) return Fail.With(Errno.Invalid, problem);
        if (access is not (PosixAccess.ReadOnly or PosixAccess.ReadWrite)) return Fail.With(Errno.Invalid, $"shm_open takes O_RDONLY or O_RDWR, not {access}");
        if (process.LowestFreeDescriptor() < 0) return Fail.With(Errno.NoSpace, $"process {pid} has {GuestProcess.MaxDescriptors} descriptors open");
        if (_kernel.SharedMemoryObjects.TryGetValue((Id, name), out var shared))
        {
            if ((flags & (IpcCreate.Create | IpcCreate.Exclusive)) == (IpcCreate.Create | IpcCreate.Exclusive)) return Fail.With(Errno.Exists, $"shared memory object {name} exists");
            if (!shared.Allows(process.Uid, process.Gid, Needs(access))) return Fail.With(Errno.Access, $"uid {process.Uid} gid {process.Gid} may not open shared memory object {name} {access}");
        }
        else
        {
            if ((flags & IpcCreate.Create) == 0) return Fail.With(Errno.NoEntry, $"no shared memory object {name}");
            shared = _kernel.NewSharedMemoryObject(Id, name, mode & 0x1FF, process.Uid, process.Gid);
        }
        AddDescriptor(process, new PosixSharedMemoryDescriptor(shared, access), out var fd, out _);
        shared.Opens++;
        return fd;
    }

    /// <summary>ftruncate: the new size; added bytes are zero.</summary>
    public KernelResult<Done> PosixSharedMemoryTruncate(int pid, int fd, int size)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSharedMemory(process, fd, write: true, out var shared, out error)) return error;
        if (size is < 0 or > PosixSharedMemory.MaxSize) return Fail.With(Errno.Invalid, $"size {size} is outside 0..{PosixSharedMemory.MaxSize}");
        var bytes = shared.Bytes;
        Array.Resize(ref bytes, size);
        shared.Bytes = bytes;
        return new Done();
    }

    /// <summary>A store into the object (as through its mapping): within its size.</summary>
    public KernelResult<Done> PosixSharedMemoryWrite(int pid, int fd, int offset, ReadOnlySpan<byte> data)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSharedMemory(process, fd, write: true, out var shared, out error)) return error;
        if (offset < 0 || offset + (long)data.Length > shared.Bytes.Length)
            return Fail.With(Errno.Invalid, $"{data.Length} bytes at offset {offset} pass the end of the {shared.Bytes.Length}-byte object {shared.Name}");
        data.CopyTo(shared.Bytes.AsSpan(offset));
        return new Done();
    }

    /// <summary>A load from the object.</summary>
    public KernelResult<ByteString> PosixSharedMemoryRead(int pid, int fd, int offset, int count)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSharedMemory(process, fd, write: false, out var shared, out error)) return error;
        if (offset < 0 || count < 0 || count > MaxTransfer || offset + (long)count > shared.Bytes.Length)
            return Fail.With(Errno.Invalid, $"{count} bytes at offset {offset} pass the end of the {shared.Bytes.Length}-byte object {shared.Name}");
        return ByteString.Of(shared.Bytes.AsSpan(offset, count));
    }

    /// <summary>shm_unlink.</summary>
    public KernelResult<Done> PosixSharedMemoryUnlink(int pid, string name) => Unlink(pid, PosixObjectKind.SharedMemory, name);

    private static bool FindSharedMemory(GuestProcess process, int fd, bool write, out PosixSharedMemory shared, out KernelError error)
    {
        if (process.Descriptors.GetValueOrDefault(fd) is PosixSharedMemoryDescriptor descriptor && (!write || descriptor.Access != PosixAccess.ReadOnly))
        {
            (shared, error) = (descriptor.Object, null!);
            return true;
        }
        (shared, error) = (null!, Fail.With(Errno.BadDescriptor, $"descriptor {fd} is not a shared memory object open for {(write ? "writing" : "reading")}"));
        return false;
    }

    // ---- shared ----------------------------------------------------------------------------

    /// <summary>
    /// S9, the create of a POSIX message queue or semaphore: the request names the object and this
    /// WPAR; an entry for that name and WPAR registered beforehand (restart) supplies the virtual
    /// kernel handle, otherwise a new one is taken. The kernel creates the object with a new real
    /// handle and maps the virtual handle to it; the process gets the virtual one.
    /// </summary>
    internal PosixObject CreatePosixObject(PosixObjectKind kind, string name, Func<long, PosixObject> construct)
    {
        var created = construct(_kernel.NewPosixHandle());
        _kernel.PosixObjects.Add(created.RealHandle, created);
        if (_kernel.PosixNames.Find(Id, kind, name) is { Object: null } registered)
        {
            PosixHandles.Register(registered.VirtualHandle);
            PosixHandles.Map(created.RealHandle);
            registered.Object = created;
        }
        else
        {
            var handle = PosixHandles.Map(created.RealHandle);
            _kernel.PosixNames.Add(Id, kind, name, handle, created);
        }
        return created;
    }

    private KernelResult<Done> Unlink(int pid, PosixObjectKind kind, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Enter(pid, out var process, out var error)) return error;
        PosixObject? found = kind == PosixObjectKind.SharedMemory
            ? _kernel.SharedMemoryObjects.GetValueOrDefault((Id, name))
            : _kernel.PosixNames.Find(Id, kind, name)?.Object;
        if (found is null) return Fail.With(Errno.NoEntry, $"no {Describe(kind)} {name}");
        if (process.Uid != 0 && process.Uid != found.Uid) return Fail.With(Errno.Access, $"uid {process.Uid} does not own {Describe(kind)} {name}");
        if (kind == PosixObjectKind.SharedMemory)
        {
            _kernel.SharedMemoryObjects.Remove((Id, name));
            if (found.Opens == 0) _kernel.SharedMemoryInodes.Remove(found.RealHandle);
            else found.Unlinked = true;
        }
        else
        {
            _kernel.PosixNames.Remove(Id, kind, name);
            if (found.Opens == 0) DestroyPosixObject(found);
            else found.Unlinked = true;
        }
        return new Done();
    }

    private void DestroyPosixObject(PosixObject posix)
    {
        PosixHandles.Unmap(PosixHandles.Virtual(posix.RealHandle));
        _kernel.PosixObjects.Remove(posix.RealHandle);
    }

    private static int Needs(PosixAccess access) => access switch
    {
        PosixAccess.ReadOnly => IpcPermissions.Read,
        PosixAccess.WriteOnly => IpcPermissions.Write,
        _ => IpcPermissions.Read | IpcPermissions.Write,
    };

    private static string Describe(PosixObjectKind kind) => kind switch
    {
        PosixObjectKind.MessageQueue => "message queue",
        PosixObjectKind.Semaphore => "semaphore",
        _ => "shared memory object",
    };
}
