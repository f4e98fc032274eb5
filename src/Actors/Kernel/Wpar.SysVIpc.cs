using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

public sealed partial class Wpar
{
    // ---- message queues ------------------------------------------------------------------

    /// <summary>msgget: the id of the queue with <paramref name="key"/> in this WPAR, created when asked to.</summary>
    public KernelResult<int> MessageQueueGet(int pid, int key, IpcCreate flags, int mode)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (key != IpcPermissions.PrivateKey && MessageQueueKeys.TryGetValue(key, out var existing))
        {
            return (flags & (IpcCreate.Create | IpcCreate.Exclusive)) == (IpcCreate.Create | IpcCreate.Exclusive)
                ? Fail.With(Errno.Exists, $"a message queue with key {key} exists")
                : (int)existing;
        }
        if (key != IpcPermissions.PrivateKey && (flags & IpcCreate.Create) == 0) return Fail.With(Errno.NoEntry, $"no message queue with key {key}");
        if (_kernel.NewMessageQueue(Permissions(process, key, mode), SysVMessageQueue.DefaultMaxBytes) is not { } queue)
            return Fail.With(Errno.NoSpace, "the kernel's message queue table is full");
        queue.ChangeTime = Clock;
        return MapMessageQueue(queue);
    }

    internal int MapMessageQueue(SysVMessageQueue queue)
    {
        var id = (int)MessageQueueIds.Map(queue.RealId);
        if (queue.Permissions.Key != IpcPermissions.PrivateKey) MessageQueueKeys[queue.Permissions.Key] = id;
        return id;
    }

    /// <summary>msgsnd (IPC_NOWAIT): appends a message of <paramref name="type"/>; Again when the queue is full.</summary>
    public KernelResult<Done> MessageSend(int pid, int id, long type, ReadOnlySpan<byte> data)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindMessageQueue(id, out var queue, out error)) return error;
        if (type < 1) return Fail.With(Errno.Invalid, $"message type {type} must be positive");
        if (data.Length > SysVMessageQueue.MaxMessageBytes) return Fail.With(Errno.Invalid, $"a message of {data.Length} bytes is over msgmax ({SysVMessageQueue.MaxMessageBytes})");
        if (!queue.Permissions.Allows(process.Uid, process.Gid, IpcPermissions.Write)) return NoAccess("message queue", id, process);
        // As Linux does, msg_qbytes bounds the message count too, so empty messages cannot fill memory.
        if (queue.Bytes + data.Length > queue.MaxBytes || queue.Messages.Count + 1 > queue.MaxBytes)
            return Fail.With(Errno.Again, $"message queue {id} holds {queue.Messages.Count} messages, {queue.Bytes} of {queue.MaxBytes} bytes; {data.Length} more do not fit");
        queue.Messages.Add(new SysVMessage(type, ByteString.Of(data)));
        queue.Bytes += data.Length;
        queue.LastSendPid = process.RealPid;
        queue.SendTime = Clock;
        return new Done();
    }

    /// <summary>
    /// msgrcv (IPC_NOWAIT): the first message of the type <paramref name="selector"/> picks (0: any;
    /// positive: that type; negative: the lowest type up to its absolute value).
    /// </summary>
    public KernelResult<SysVMessage> MessageReceive(int pid, int id, long selector, int maxBytes)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindMessageQueue(id, out var queue, out error)) return error;
        if (!queue.Permissions.Allows(process.Uid, process.Gid, IpcPermissions.Read)) return NoAccess("message queue", id, process);
        var index = queue.Find(selector);
        if (index < 0) return Fail.With(Errno.NoMessage, $"message queue {id} has no message for type selector {selector}");
        var message = queue.Messages[index];
        if (message.Data.Length > maxBytes) return Fail.With(Errno.TooBig, $"the message has {message.Data.Length} bytes, the buffer {maxBytes}");
        queue.Messages.RemoveAt(index);
        queue.Bytes -= message.Data.Length;
        queue.LastReceivePid = process.RealPid;
        queue.ReceiveTime = Clock;
        return message;
    }

    /// <summary>msgctl(IPC_STAT).</summary>
    public KernelResult<MessageQueueStatus> MessageQueueStat(int pid, int id)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindMessageQueue(id, out var queue, out error)) return error;
        if (!queue.Permissions.Allows(process.Uid, process.Gid, IpcPermissions.Read)) return NoAccess("message queue", id, process);
        return new MessageQueueStatus(queue.Permissions, queue.Messages.Count, queue.Bytes, queue.MaxBytes,
            VirtualPid(queue.LastSendPid), VirtualPid(queue.LastReceivePid), queue.SendTime, queue.ReceiveTime, queue.ChangeTime);
    }

    /// <summary>msgctl(IPC_SET): new mode bits and byte limit; owner, creator or root only.</summary>
    public KernelResult<Done> MessageQueueSet(int pid, int id, int mode, int maxBytes)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindMessageQueue(id, out var queue, out error)) return error;
        if (!queue.Permissions.IsOwner(process.Uid)) return NotOwner("message queue", id, process);
        if (maxBytes is < 1 or > 65536) return Fail.With(Errno.Invalid, $"msg_qbytes {maxBytes} is outside 1..65536");
        queue.Permissions = queue.Permissions with { Mode = mode & 0x1FF };
        queue.MaxBytes = maxBytes;
        queue.ChangeTime = Clock;
        return new Done();
    }

    /// <summary>msgctl(IPC_RMID): the queue and its messages are gone; owner, creator or root only.</summary>
    public KernelResult<Done> RemoveMessageQueue(int pid, int id)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindMessageQueue(id, out var queue, out error)) return error;
        if (!queue.Permissions.IsOwner(process.Uid)) return NotOwner("message queue", id, process);
        MessageQueueKeys.Remove(queue.Permissions.Key);
        MessageQueueIds.Unmap(id);
        _kernel.DestroyMessageQueue(queue);
        return new Done();
    }

    private bool FindMessageQueue(int id, out SysVMessageQueue queue, out KernelError error)
    {
        if (MessageQueueIds.TryReal(id, out var real) && _kernel.MessageQueues.TryGetValue((int)real, out queue!))
        {
            error = null!;
            return true;
        }
        (queue, error) = (null!, Fail.With(Errno.Invalid, $"no message queue {id}"));
        return false;
    }

    // ---- semaphore sets ------------------------------------------------------------------

    /// <summary>semget: the id of the set of <paramref name="count"/> semaphores with <paramref name="key"/>, created when asked to.</summary>
    public KernelResult<int> SemaphoreGet(int pid, int key, int count, IpcCreate flags, int mode)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (key != IpcPermissions.PrivateKey && SemaphoreKeys.TryGetValue(key, out var existing))
        {
            if ((flags & (IpcCreate.Create | IpcCreate.Exclusive)) == (IpcCreate.Create | IpcCreate.Exclusive)) return Fail.With(Errno.Exists, $"a semaphore set with key {key} exists");
            FindSemaphoreSet((int)existing, out var found, out _);
            return count > found.Values.Length ? Fail.With(Errno.Invalid, $"semaphore set {existing} has {found.Values.Length} semaphores, fewer than {count}") : (int)existing;
        }
        if (key != IpcPermissions.PrivateKey && (flags & IpcCreate.Create) == 0) return Fail.With(Errno.NoEntry, $"no semaphore set with key {key}");
        if (count is < 1 or > SemaphoreSet.MaxSemaphores) return Fail.With(Errno.Invalid, $"{count} semaphores is outside 1..{SemaphoreSet.MaxSemaphores}");
        if (_kernel.NewSemaphoreSet(Permissions(process, key, mode), count) is not { } set) return Fail.With(Errno.NoSpace, "the kernel's semaphore table is full");
        set.ChangeTime = Clock;
        return MapSemaphoreSet(set);
    }

    internal int MapSemaphoreSet(SemaphoreSet set)
    {
        var id = (int)SemaphoreSetIds.Map(set.RealId);
        if (set.Permissions.Key != IpcPermissions.PrivateKey) SemaphoreKeys[set.Permissions.Key] = id;
        return id;
    }

    /// <summary>semop (IPC_NOWAIT): all operations or none; Again when one would block, Range when a value or undo value would overflow.</summary>
    public KernelResult<Done> SemaphoreOperate(int pid, int id, IReadOnlyList<SemaphoreOperation> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSemaphoreSet(id, out var set, out error)) return error;
        if (operations.Count is < 1 or > 32) return Fail.With(Errno.Invalid, $"{operations.Count} operations is outside 1..32");
        var alters = operations.Any(o => o.Delta != 0);
        if (!set.Permissions.Allows(process.Uid, process.Gid, alters ? IpcPermissions.Write : IpcPermissions.Read)) return NoAccess("semaphore set", id, process);

        var values = (int[])set.Values.Clone();
        var undo = new Dictionary<int, int>();
        foreach (var operation in operations)
        {
            if (operation.Number < 0 || operation.Number >= values.Length) return Fail.With(Errno.TooBig, $"semaphore {operation.Number} is outside set {id} of {values.Length}");
            if (operation.Delta is < -SemaphoreSet.MaxValue or > SemaphoreSet.MaxValue) return Fail.With(Errno.Range, $"operation {operation.Delta} is out of range");
            var value = values[operation.Number];
            if (operation.Delta == 0 && value != 0) return Fail.With(Errno.Again, $"semaphore {operation.Number} of set {id} is {value}, not zero");
            if (value + operation.Delta < 0) return Fail.With(Errno.Again, $"semaphore {operation.Number} of set {id} is {value}; {operation.Delta} would block");
            if (value + operation.Delta > SemaphoreSet.MaxValue) return Fail.With(Errno.Range, $"semaphore {operation.Number} of set {id} would pass {SemaphoreSet.MaxValue}");
            values[operation.Number] = value + operation.Delta;
            if (operation.Undo)
            {
                var adjustment = undo.GetValueOrDefault(operation.Number, process.SemaphoreUndo.GetValueOrDefault((set, operation.Number))) - operation.Delta;
                if (Math.Abs(adjustment) > SemaphoreSet.MaxValue) return Fail.With(Errno.Range, $"the undo value of semaphore {operation.Number} of set {id} would pass {SemaphoreSet.MaxValue}");
                undo[operation.Number] = adjustment;
            }
        }

        values.CopyTo(set.Values, 0);
        foreach (var operation in operations) set.LastPids[operation.Number] = process.RealPid;
        foreach (var (number, adjustment) in undo)
        {
            if (adjustment == 0) process.SemaphoreUndo.Remove((set, number));
            else process.SemaphoreUndo[(set, number)] = adjustment;
        }
        set.OperationTime = Clock;
        return new Done();
    }

    /// <summary>semctl(SETVAL): sets one value and clears every process's undo value for it.</summary>
    public KernelResult<Done> SemaphoreSetValue(int pid, int id, int number, int value)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSemaphoreSet(id, out var set, out error)) return error;
        if (!set.Permissions.Allows(process.Uid, process.Gid, IpcPermissions.Write)) return NoAccess("semaphore set", id, process);
        if (number < 0 || number >= set.Values.Length) return Fail.With(Errno.Invalid, $"semaphore {number} is outside set {id} of {set.Values.Length}");
        if (value is < 0 or > SemaphoreSet.MaxValue) return Fail.With(Errno.Range, $"value {value} is outside 0..{SemaphoreSet.MaxValue}");
        set.Values[number] = value;
        set.LastPids[number] = process.RealPid;
        set.ChangeTime = Clock;
        foreach (var each in Processes()) each.SemaphoreUndo.Remove((set, number));
        return new Done();
    }

    /// <summary>semctl(GETALL).</summary>
    public KernelResult<EquatableArray<int>> SemaphoreValues(int pid, int id)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSemaphoreSet(id, out var set, out error)) return error;
        if (!set.Permissions.Allows(process.Uid, process.Gid, IpcPermissions.Read)) return NoAccess("semaphore set", id, process);
        return new EquatableArray<int>([.. set.Values]);
    }

    /// <summary>semctl(IPC_RMID): the set is gone, with every undo value for it; owner, creator or root only.</summary>
    public KernelResult<Done> RemoveSemaphoreSet(int pid, int id)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSemaphoreSet(id, out var set, out error)) return error;
        if (!set.Permissions.IsOwner(process.Uid)) return NotOwner("semaphore set", id, process);
        foreach (var each in Processes())
        {
            foreach (var key in each.SemaphoreUndo.Keys.Where(k => k.Set == set).ToList()) each.SemaphoreUndo.Remove(key);
        }
        SemaphoreKeys.Remove(set.Permissions.Key);
        SemaphoreSetIds.Unmap(id);
        _kernel.DestroySemaphoreSet(set);
        return new Done();
    }

    private bool FindSemaphoreSet(int id, out SemaphoreSet set, out KernelError error)
    {
        if (SemaphoreSetIds.TryReal(id, out var real) && _kernel.SemaphoreSets.TryGetValue((int)real, out set!))
        {
            error = null!;
            return true;
        }
        (set, error) = (null!, Fail.With(Errno.Invalid, $"no semaphore set {id}"));
        return false;
    }

    // ---- shared memory segments ----------------------------------------------------------

    /// <summary>shmget: the id of the segment with <paramref name="key"/>, created (zero-filled) when asked to.</summary>
    public KernelResult<int> SharedMemoryGet(int pid, int key, int size, IpcCreate flags, int mode)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (key != IpcPermissions.PrivateKey && SharedMemoryKeys.TryGetValue(key, out var existing))
        {
            if ((flags & (IpcCreate.Create | IpcCreate.Exclusive)) == (IpcCreate.Create | IpcCreate.Exclusive)) return Fail.With(Errno.Exists, $"a segment with key {key} exists");
            FindSegment((int)existing, out var found, out _);
            return size > found.Bytes.Length ? Fail.With(Errno.Invalid, $"segment {existing} has {found.Bytes.Length} bytes, fewer than {size}") : (int)existing;
        }
        if (key != IpcPermissions.PrivateKey && (flags & IpcCreate.Create) == 0) return Fail.With(Errno.NoEntry, $"no segment with key {key}");
        if (size is < 1 or > SharedMemorySegment.MaxSize) return Fail.With(Errno.Invalid, $"size {size} is outside 1..{SharedMemorySegment.MaxSize}");
        if (_kernel.NewSharedMemorySegment(Permissions(process, key, mode), size) is not { } segment) return Fail.With(Errno.NoSpace, "the kernel's shared memory table is full");
        segment.CreatorPid = process.RealPid;
        segment.ChangeTime = Clock;
        return MapSegment(segment);
    }

    internal int MapSegment(SharedMemorySegment segment)
    {
        var id = (int)SharedMemoryIds.Map(segment.RealId);
        if (segment.Permissions.Key != IpcPermissions.PrivateKey) SharedMemoryKeys[segment.Permissions.Key] = id;
        return id;
    }

    /// <summary>shmat: maps the segment into the process; returns the address.</summary>
    public KernelResult<long> SharedMemoryAttach(int pid, int id, bool readOnly)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSegment(id, out var segment, out error)) return error;
        if (segment.Removed) return Fail.With(Errno.Removed, $"segment {id} is marked for removal");
        if (!segment.Permissions.Allows(process.Uid, process.Gid, readOnly ? IpcPermissions.Read : IpcPermissions.Read | IpcPermissions.Write))
            return NoAccess("segment", id, process);
        var address = process.NextAttachAddress;
        // Page-rounded, with a guard page between attachments.
        process.NextAttachAddress += (segment.Bytes.Length + 4095L) / 4096 * 4096 + 4096;
        process.Attachments.Add(address, new Attachment(segment, readOnly));
        segment.Attachments++;
        segment.AttachTime = Clock;
        segment.LastPid = process.RealPid;
        return address;
    }

    /// <summary>shmdt: unmaps the segment attached at <paramref name="address"/>; a removed segment goes with its last detach.</summary>
    public KernelResult<Done> SharedMemoryDetach(int pid, long address)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!process.Attachments.ContainsKey(address)) return Fail.With(Errno.Invalid, $"nothing is attached at 0x{address:x}");
        DetachSegment(process, address);
        return new Done();
    }

    private void DetachSegment(GuestProcess process, long address)
    {
        var segment = process.Attachments[address].Segment;
        process.Attachments.Remove(address);
        segment.Attachments--;
        segment.DetachTime = Clock;
        segment.LastPid = process.RealPid;
        if (segment.Removed && segment.Attachments == 0)
        {
            SharedMemoryIds.Unmap(SharedMemoryIds.Virtual(segment.RealId));
            _kernel.DestroySharedMemorySegment(segment);
        }
    }

    /// <summary>A store through an attachment: <paramref name="data"/> at <paramref name="offset"/> into the segment.</summary>
    public KernelResult<Done> SharedMemoryWrite(int pid, long address, int offset, ReadOnlySpan<byte> data)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!process.Attachments.TryGetValue(address, out var attachment)) return Fail.With(Errno.Invalid, $"nothing is attached at 0x{address:x}");
        if (attachment.ReadOnly) return Fail.With(Errno.Access, $"the segment at 0x{address:x} is attached read-only");
        if (offset < 0 || offset + (long)data.Length > attachment.Segment.Bytes.Length)
            return Fail.With(Errno.Invalid, $"{data.Length} bytes at offset {offset} pass the end of the {attachment.Segment.Bytes.Length}-byte segment");
        data.CopyTo(attachment.Segment.Bytes.AsSpan(offset));
        return new Done();
    }

    /// <summary>A load through an attachment.</summary>
    public KernelResult<ByteString> SharedMemoryRead(int pid, long address, int offset, int count)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!process.Attachments.TryGetValue(address, out var attachment)) return Fail.With(Errno.Invalid, $"nothing is attached at 0x{address:x}");
        if (offset < 0 || count < 0 || count > MaxTransfer || offset + (long)count > attachment.Segment.Bytes.Length)
            return Fail.With(Errno.Invalid, $"{count} bytes at offset {offset} pass the end of the {attachment.Segment.Bytes.Length}-byte segment");
        return ByteString.Of(attachment.Segment.Bytes.AsSpan(offset, count));
    }

    /// <summary>shmctl(IPC_STAT).</summary>
    public KernelResult<SharedMemoryStatus> SharedMemoryStat(int pid, int id)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSegment(id, out var segment, out error)) return error;
        if (!segment.Permissions.Allows(process.Uid, process.Gid, IpcPermissions.Read)) return NoAccess("segment", id, process);
        return new SharedMemoryStatus(segment.Permissions, segment.Bytes.Length, VirtualPid(segment.CreatorPid), VirtualPid(segment.LastPid),
            segment.Attachments, segment.AttachTime, segment.DetachTime, segment.ChangeTime);
    }

    /// <summary>shmctl(IPC_RMID): gone now if unattached, else at the last detach (its key is released now).</summary>
    public KernelResult<Done> RemoveSharedMemory(int pid, int id)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindSegment(id, out var segment, out error)) return error;
        if (!segment.Permissions.IsOwner(process.Uid)) return NotOwner("segment", id, process);
        if (segment.Removed) return Fail.With(Errno.Removed, $"segment {id} is already marked for removal");
        SharedMemoryKeys.Remove(segment.Permissions.Key);
        segment.ChangeTime = Clock;
        if (segment.Attachments == 0)
        {
            SharedMemoryIds.Unmap(id);
            _kernel.DestroySharedMemorySegment(segment);
        }
        else
        {
            segment.Removed = true;
            segment.Permissions = segment.Permissions with { Key = IpcPermissions.PrivateKey };
        }
        return new Done();
    }

    private bool FindSegment(int id, out SharedMemorySegment segment, out KernelError error)
    {
        if (SharedMemoryIds.TryReal(id, out var real) && _kernel.SharedMemorySegments.TryGetValue((int)real, out segment!))
        {
            error = null!;
            return true;
        }
        (segment, error) = (null!, Fail.With(Errno.Invalid, $"no segment {id}"));
        return false;
    }

    // ---- shared helpers ------------------------------------------------------------------

    private static IpcPermissions Permissions(GuestProcess process, int key, int mode) =>
        new(key, process.Uid, process.Gid, process.Uid, process.Gid, mode & 0x1FF);

    private static KernelError NoAccess(string what, long id, GuestProcess process) =>
        Fail.With(Errno.Access, $"uid {process.Uid} gid {process.Gid} may not use {what} {id}");

    private static KernelError NotOwner(string what, long id, GuestProcess process) =>
        Fail.With(Errno.Access, $"uid {process.Uid} neither owns nor created {what} {id}");
}
