using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

/// <summary>
/// Checks a whole WPAR image against itself and against the target kernel before a restart changes
/// anything, so a damaged image is refused with the first problem found and the kernel stays as it was.
/// </summary>
internal sealed class RestartValidator(GuestKernel kernel, WparImage image, string name, ImmutableArray<PtyReopenStep> steps, IReadOnlyList<int>? order)
{
    private readonly HashSet<int> _pids = [];
    private readonly Dictionary<int, int> _semaphoreCounts = [];
    private readonly Dictionary<int, int> _segmentSizes = [];
    private readonly HashSet<long> _posixQueues = [];
    private readonly HashSet<long> _posixSemaphores = [];
    private readonly HashSet<long> _streams = [];
    private readonly HashSet<int> _ptys = [];

    public RestartRefused? Validate() =>
        CheckName() ?? CheckCounters() ?? CheckProcesses() ?? CheckSysV() ?? CheckPosix() ?? CheckPtys() ?? CheckStreams() ?? CheckPerProcessData() ?? CheckRoom() ?? CheckOrder();

    private static RestartRefused Refuse(RestartRefusal refusal, string reason) => new(refusal, reason);

    private RestartRefused? CheckName()
    {
        if (GuestKernel.NameProblem(name) is { } problem) return Refuse(RestartRefusal.NameUnusable, problem);
        return kernel.FindWpar(name) is not null ? Refuse(RestartRefusal.NameUnusable, $"{kernel.Identity.Node} has a WPAR named {name}") : null;
    }

    // Counters start where a new WPAR's do and stay in the range of the ids they hand out.
    private RestartRefused? CheckCounters()
    {
        var c = image.Counters;
        (string What, long Value, long Least, long Most)[] counters =
        [
            ("pid", c.Pid, 1, int.MaxValue), ("message queue", c.MessageQueue, 0, int.MaxValue), ("semaphore set", c.SemaphoreSet, 0, int.MaxValue),
            ("segment", c.SharedMemory, 0, int.MaxValue), ("POSIX handle", c.PosixHandle, 1, long.MaxValue), ("stream", c.Stream, 1, long.MaxValue),
        ];
        foreach (var (what, value, least, most) in counters)
        {
            if (value < least || value > most) return Refuse(RestartRefusal.InvalidValue, $"the {what} counter {value} is outside {least}..{most}");
        }
        return image.Clock < 0 ? Refuse(RestartRefusal.InvalidValue, $"the clock {image.Clock} is negative") : null;
    }

    private RestartRefused? CheckProcesses()
    {
        foreach (var p in image.Processes)
        {
            if (p.Pid < 1) return Refuse(RestartRefusal.InvalidValue, $"process id {p.Pid} is not positive");
            if (!_pids.Add(p.Pid)) return Refuse(RestartRefusal.DuplicateId, $"process {p.Pid} is recorded twice");
            if (p.Uid < 0 || p.Gid < 0) return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has uid {p.Uid} gid {p.Gid}");
            if (p.Command.Length > Wpar.MaxCommand) return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has a command of {p.Command.Length} characters");
            if (p.Pid >= image.Counters.Pid) return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} is not below the pid counter {image.Counters.Pid}");
            if (p.Exited && (p.Descriptors.Length > 0 || p.Attachments.Length > 0 || p.SemaphoreUndo.Length > 0 || p.OpenSemaphores.Length > 0))
                return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has exited but still holds descriptors, attachments, undo values or semaphores");
            if (HasDuplicate(p.Descriptors.Select(d => (long)d.Fd), out var fd)) return Refuse(RestartRefusal.DuplicateId, $"process {p.Pid} has descriptor {fd} twice");
            if (p.Descriptors.FirstOrDefault(d => d.Fd is < 0 or >= GuestProcess.MaxDescriptors) is { } outside)
                return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has descriptor {outside.Fd}, outside 0..{GuestProcess.MaxDescriptors - 1}");
            if (HasDuplicate(p.Attachments.Select(a => a.Address), out var address)) return Refuse(RestartRefusal.DuplicateId, $"process {p.Pid} has two segments attached at 0x{address:x}");
            if (p.Attachments.Any(a => a.Address < GuestProcess.FirstAttachAddress || a.Address >= p.NextAttachAddress))
                return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has an attachment outside 0x{GuestProcess.FirstAttachAddress:x}..0x{p.NextAttachAddress:x}");
            if (HasDuplicate(p.SemaphoreUndo.Select(u => ((long)u.SetId << 32) | (uint)u.Number), out _))
                return Refuse(RestartRefusal.DuplicateId, $"process {p.Pid} has two undo values for one semaphore");
            if (HasDuplicate(p.OpenSemaphores.Select(o => o.Handle), out var handle)) return Refuse(RestartRefusal.DuplicateId, $"process {p.Pid} has semaphore {handle} open twice over");
        }
        return null;
    }

    private RestartRefused? CheckSysV()
    {
        if (HasDuplicate(image.MessageQueues.Select(q => (long)q.Id), out var queueId)) return Refuse(RestartRefusal.DuplicateId, $"message queue {queueId} is used twice");
        if (HasDuplicate(image.SemaphoreSets.Select(s => (long)s.Id), out var setId)) return Refuse(RestartRefusal.DuplicateId, $"semaphore set {setId} is used twice");
        if (HasDuplicate(image.SharedMemorySegments.Select(s => (long)s.Id), out var segmentId)) return Refuse(RestartRefusal.DuplicateId, $"segment {segmentId} is used twice");
        if (HasDuplicate(image.MessageQueues.Select(q => (long)q.Permissions.Key).Where(k => k != IpcPermissions.PrivateKey), out var queueKey))
            return Refuse(RestartRefusal.DuplicateId, $"two message queues have key {queueKey}");
        if (HasDuplicate(image.SemaphoreSets.Select(s => (long)s.Permissions.Key).Where(k => k != IpcPermissions.PrivateKey), out var setKey))
            return Refuse(RestartRefusal.DuplicateId, $"two semaphore sets have key {setKey}");
        if (HasDuplicate(image.SharedMemorySegments.Select(s => (long)s.Permissions.Key).Where(k => k != IpcPermissions.PrivateKey), out var segmentKey))
            return Refuse(RestartRefusal.DuplicateId, $"two segments have key {segmentKey}");

        foreach (var q in image.MessageQueues)
        {
            if ((CheckId("message queue", q.Id, image.Counters.MessageQueue) ?? CheckPermissions("message queue", q.Id, q.Permissions)) is { } bad) return bad;
            if (q.MaxBytes is < 1 or > 65536) return Refuse(RestartRefusal.InvalidValue, $"message queue {q.Id} has msg_qbytes {q.MaxBytes}");
            if (q.Messages.FirstOrDefault(m => m.Type < 1 || m.Data.Length > SysVMessageQueue.MaxMessageBytes) is { } message)
                return Refuse(RestartRefusal.InvalidValue, $"message queue {q.Id} holds a message of type {message.Type} and {message.Data.Length} bytes");
            if ((CheckPid("message queue", q.Id, q.LastSendPid) ?? CheckPid("message queue", q.Id, q.LastReceivePid)) is { } pid) return pid;
        }
        foreach (var s in image.SemaphoreSets)
        {
            if ((CheckId("semaphore set", s.Id, image.Counters.SemaphoreSet) ?? CheckPermissions("semaphore set", s.Id, s.Permissions)) is { } bad) return bad;
            if (s.Values.Length is < 1 or > SemaphoreSet.MaxSemaphores || s.LastPids.Length != s.Values.Length)
                return Refuse(RestartRefusal.InvalidValue, $"semaphore set {s.Id} has {s.Values.Length} values and {s.LastPids.Length} last pids");
            if (s.Values.Any(v => v is < 0 or > SemaphoreSet.MaxValue)) return Refuse(RestartRefusal.InvalidValue, $"semaphore set {s.Id} has a value outside 0..{SemaphoreSet.MaxValue}");
            foreach (var pid in s.LastPids)
            {
                if (CheckPid("semaphore set", s.Id, pid) is { } dangling) return dangling;
            }
            _semaphoreCounts.Add(s.Id, s.Values.Length);
        }
        var attachments = image.Processes.SelectMany(p => p.Attachments).GroupBy(a => a.SegmentId).ToDictionary(g => g.Key, g => g.Count());
        foreach (var s in image.SharedMemorySegments)
        {
            if ((CheckId("segment", s.Id, image.Counters.SharedMemory) ?? CheckPermissions("segment", s.Id, s.Permissions)) is { } bad) return bad;
            if (s.Bytes.Length is < 1 or > SharedMemorySegment.MaxSize) return Refuse(RestartRefusal.InvalidValue, $"segment {s.Id} has {s.Bytes.Length} bytes");
            if ((CheckPid("segment", s.Id, s.CreatorPid) ?? CheckPid("segment", s.Id, s.LastPid)) is { } pid) return pid;
            var attached = attachments.GetValueOrDefault(s.Id);
            if (s.Attachments != attached) return Refuse(RestartRefusal.InvalidValue, $"segment {s.Id} records {s.Attachments} attachments, the processes hold {attached}");
            if (s.Removed && (s.Attachments == 0 || s.Permissions.Key != IpcPermissions.PrivateKey))
                return Refuse(RestartRefusal.InvalidValue, $"segment {s.Id} is marked for removal but is unattached or keeps key {s.Permissions.Key}");
            _segmentSizes.Add(s.Id, s.Bytes.Length);
        }
        return null;
    }

    private RestartRefused? CheckPosix()
    {
        // Queues and semaphores share the WPAR's table of virtual kernel handles.
        if (HasDuplicate(image.PosixQueues.Select(q => q.Handle).Concat(image.PosixSemaphores.Select(s => s.Handle)), out var handle))
            return Refuse(RestartRefusal.DuplicateId, $"POSIX handle {handle} is used twice");
        if (HasDuplicate(image.PosixQueues.Where(q => !q.Unlinked).Select(q => q.Name), out var queueName)) return Refuse(RestartRefusal.DuplicateId, $"two message queues are named {queueName}");
        if (HasDuplicate(image.PosixSemaphores.Where(s => !s.Unlinked).Select(s => s.Name), out var semaphoreName)) return Refuse(RestartRefusal.DuplicateId, $"two semaphores are named {semaphoreName}");
        if (HasDuplicate(image.PosixSharedMemory.Where(s => !s.Unlinked).Select(s => s.Name), out var sharedName)) return Refuse(RestartRefusal.DuplicateId, $"two shared memory objects are named {sharedName}");

        var held = image.Processes.SelectMany(p => p.Descriptors).Select(d => (d.Kind, d.Target)).ToHashSet();
        var openSemaphores = image.Processes.SelectMany(p => p.OpenSemaphores).Select(o => o.Handle).ToHashSet();
        foreach (var q in image.PosixQueues)
        {
            if ((CheckHandle(q.Handle) ?? CheckPosixObject("message queue", q.Name, q.Mode, q.Uid, q.Gid)) is { } bad) return bad;
            if (q.MaxMessages is < 1 or > PosixMessageQueue.MaxMessagesLimit || q.MaxMessageSize is < 1 or > PosixMessageQueue.MaxMessageSizeLimit || q.Messages.Length > q.MaxMessages)
                return Refuse(RestartRefusal.InvalidValue, $"message queue {q.Name} has mq_maxmsg {q.MaxMessages}, mq_msgsize {q.MaxMessageSize} and {q.Messages.Length} messages");
            for (var i = 0; i < q.Messages.Length; i++)
            {
                var m = q.Messages[i];
                if (m.Priority is < 0 or > 31 || m.Data.Length > q.MaxMessageSize || (i > 0 && q.Messages[i - 1].Priority < m.Priority))
                    return Refuse(RestartRefusal.InvalidValue, $"message {i} of queue {q.Name} (priority {m.Priority}, {m.Data.Length} bytes) is out of range or out of priority order");
            }
            if (q.Unlinked && !held.Contains((DescriptorKind.PosixQueue, q.Handle)))
                return Refuse(RestartRefusal.InvalidValue, $"message queue {q.Name} is unlinked and no descriptor holds it");
            _posixQueues.Add(q.Handle);
        }
        foreach (var s in image.PosixSemaphores)
        {
            if ((CheckHandle(s.Handle) ?? CheckPosixObject("semaphore", s.Name, s.Mode, s.Uid, s.Gid)) is { } bad) return bad;
            if (s.Value is < 0 or > PosixSemaphore.MaxValue) return Refuse(RestartRefusal.InvalidValue, $"semaphore {s.Name} has value {s.Value}");
            if (s.Unlinked && !openSemaphores.Contains(s.Handle))
                return Refuse(RestartRefusal.InvalidValue, $"semaphore {s.Name} is unlinked and no process holds it open");
            _posixSemaphores.Add(s.Handle);
        }
        for (var i = 0; i < image.PosixSharedMemory.Length; i++)
        {
            var s = image.PosixSharedMemory[i];
            if (CheckPosixObject("shared memory object", s.Name, s.Mode, s.Uid, s.Gid) is { } bad) return bad;
            if (s.Bytes.Length > PosixSharedMemory.MaxSize) return Refuse(RestartRefusal.InvalidValue, $"shared memory object {s.Name} has {s.Bytes.Length} bytes");
            if (s.Unlinked && !held.Contains((DescriptorKind.PosixSharedMemory, i)))
                return Refuse(RestartRefusal.InvalidValue, $"shared memory object {s.Name} is unlinked and no descriptor holds it");
        }
        return null;
    }

    // S6: every slave descriptor must have its master somewhere in the WPAR, and each pty one master.
    private RestartRefused? CheckPtys()
    {
        foreach (var p in image.Ptys)
        {
            if (p.Number < 0) return Refuse(RestartRefusal.InvalidValue, $"pty number {p.Number} is negative");
            if (!_ptys.Add(p.Number)) return Refuse(RestartRefusal.DuplicateId, $"pty {p.Number} is recorded twice");
            if (p.Settings.Problem() is { } problem) return Refuse(RestartRefusal.InvalidValue, $"pty {p.Number}: {problem}");
            if (p.ToSlave.Length > Pty.QueueLimit || p.ToMaster.Length > Pty.QueueLimit + 3)
                return Refuse(RestartRefusal.InvalidValue, $"pty {p.Number} holds {p.ToSlave.Length} input and {p.ToMaster.Length} output bytes");
        }
        var masters = steps.Where(s => s.Master).ToList();
        if (masters.GroupBy(s => s.Number).FirstOrDefault(g => g.Count() > 1) is { } twice)
            return Refuse(RestartRefusal.DuplicateId, $"pty {twice.Key} has {twice.Count()} masters open ({string.Join(", ", twice)})");
        var withMaster = masters.Select(s => s.Number).ToHashSet();
        if (steps.FirstOrDefault(s => !s.Master && !withMaster.Contains(s.Number)) is { } orphan)
            return Refuse(RestartRefusal.SlaveWithoutMaster, $"pty slave /dev/pts/{orphan.Number} is open as descriptor {orphan.Fd} of process {orphan.Pid}, but no process holds its master");
        if (masters.FirstOrDefault(s => !_ptys.Contains(s.Number)) is { } unknown)
            return Refuse(RestartRefusal.DanglingReference, $"process {unknown.Pid} holds the master of pty {unknown.Number} as descriptor {unknown.Fd}, but the image has no pty {unknown.Number}");
        if (_ptys.FirstOrDefault(n => !withMaster.Contains(n), -1) is var idle and >= 0)
            return Refuse(RestartRefusal.InvalidValue, $"pty {idle} is recorded but no process holds its master");
        return null;
    }

    // S11: each stream's modules are its whole stack: positions 0..n-1 once each, identities this kernel has, states they accept.
    private RestartRefused? CheckStreams()
    {
        foreach (var s in image.Streams)
        {
            if (s.Id < 1 || s.Id >= image.Counters.Stream) return Refuse(RestartRefusal.InvalidValue, $"stream {s.Id} is outside 1..{image.Counters.Stream - 1}");
            if (!_streams.Add(s.Id)) return Refuse(RestartRefusal.DuplicateId, $"stream {s.Id} is used twice");
            if (s.Modules.Length > StreamHead.MaxModules) return Refuse(RestartRefusal.InvalidValue, $"stream {s.Id} records {s.Modules.Length} modules, more than {StreamHead.MaxModules}");
            if (s.Modules.GroupBy(m => m.Position).FirstOrDefault(g => g.Count() > 1) is { } twice)
                return Refuse(RestartRefusal.DuplicateId, $"stream {s.Id} records {twice.Count()} modules at position {twice.Key}");
            for (var position = 0; position < s.Modules.Length; position++)
            {
                if (!s.Modules.Any(m => m.Position == position))
                {
                    var recorded = string.Join(", ", s.Modules.OrderBy(m => m.Position).Select(m => $"{m.Position} {m.Identity}"));
                    return Refuse(RestartRefusal.MissingModule, $"stream {s.Id} has no module at position {position} of its {s.Modules.Length}-module stack (recorded: {recorded})");
                }
            }
            foreach (var m in s.Modules.OrderBy(m => m.Position))
            {
                if (!kernel.Modules.TryCreate(m.Identity, out var module))
                    return Refuse(RestartRefusal.MissingModule, $"stream {s.Id}: module {m.Identity} at position {m.Position} is not one {kernel.Identity.Node} has ({string.Join(", ", kernel.Modules.Identities)})");
                if (!module.TryRestoreState(m.State.Span))
                    return Refuse(RestartRefusal.BadModuleState, $"stream {s.Id}: {m.Identity} at position {m.Position} refuses its recorded state {m.State}");
            }
            if (!s.Frozen && s.Queued.Length > 0) return Refuse(RestartRefusal.InvalidValue, $"stream {s.Id} was not frozen yet holds {s.Queued.Length} queued blocks");
            if (s.Queued.FirstOrDefault(q => q.Position < 0 || q.Position > s.Modules.Length) is { } outside)
                return Refuse(RestartRefusal.DanglingReference, $"stream {s.Id} holds a block queued at position {outside.Position} of a {s.Modules.Length}-module stack");
            if (s.Queued.FirstOrDefault(q => q.Type is not (MessageType.Data or MessageType.Control)) is { } checkpoint)
                return Refuse(RestartRefusal.InvalidValue, $"stream {s.Id} holds a queued {checkpoint.Type} block; checkpoint messages are never queued");
        }
        var holders = image.Processes.SelectMany(p => p.Descriptors.Where(d => d.Kind == DescriptorKind.Stream)).GroupBy(d => d.Target).ToDictionary(g => g.Key, g => g.Count());
        if (holders.FirstOrDefault(h => h.Value > 1) is { Value: > 1 } shared) return Refuse(RestartRefusal.DuplicateId, $"stream {shared.Key} is open in {shared.Value} descriptors");
        if (_streams.FirstOrDefault(id => !holders.ContainsKey(id), -1) is var unheld and >= 0)
            return Refuse(RestartRefusal.InvalidValue, $"stream {unheld} is recorded but no descriptor holds it");
        return null;
    }

    private RestartRefused? CheckPerProcessData()
    {
        foreach (var p in image.Processes)
        {
            foreach (var d in p.Descriptors)
            {
                var known = d.Kind switch
                {
                    DescriptorKind.PtyMaster or DescriptorKind.PtySlave or DescriptorKind.HungUp => true,
                    DescriptorKind.Stream => _streams.Contains(d.Target),
                    DescriptorKind.PosixQueue => _posixQueues.Contains(d.Target),
                    DescriptorKind.PosixSharedMemory => d.Target >= 0 && d.Target < image.PosixSharedMemory.Length,
                    _ => false,
                };
                if (!known) return Refuse(RestartRefusal.DanglingReference, $"descriptor {d.Fd} of process {p.Pid} is a {d.Kind} on {d.Target}, which the image does not have");
                if (d.Kind == DescriptorKind.PosixSharedMemory && d.Access == PosixAccess.WriteOnly)
                    return Refuse(RestartRefusal.InvalidValue, $"descriptor {d.Fd} of process {p.Pid} holds a shared memory object write-only");
            }
            foreach (var a in p.Attachments)
            {
                if (!_segmentSizes.ContainsKey(a.SegmentId)) return Refuse(RestartRefusal.DanglingReference, $"process {p.Pid} has segment {a.SegmentId} attached, which the image does not have");
            }
            foreach (var u in p.SemaphoreUndo)
            {
                if (!_semaphoreCounts.TryGetValue(u.SetId, out var count) || u.Number < 0 || u.Number >= count)
                    return Refuse(RestartRefusal.DanglingReference, $"process {p.Pid} has an undo value for semaphore {u.Number} of set {u.SetId}, which the image does not have");
                if (u.Adjustment == 0 || Math.Abs(u.Adjustment) > SemaphoreSet.MaxValue)
                    return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has undo value {u.Adjustment} for semaphore {u.Number} of set {u.SetId}");
            }
            foreach (var o in p.OpenSemaphores)
            {
                if (!_posixSemaphores.Contains(o.Handle)) return Refuse(RestartRefusal.DanglingReference, $"process {p.Pid} has semaphore {o.Handle} open, which the image does not have");
                if (o.Opens < 1) return Refuse(RestartRefusal.InvalidValue, $"process {p.Pid} has semaphore {o.Handle} open {o.Opens} times");
            }
        }
        return null;
    }

    private RestartRefused? CheckRoom()
    {
        if (kernel.MessageQueueIdSpace.Available < image.MessageQueues.Length
            || kernel.SemaphoreIdSpace.Available < image.SemaphoreSets.Length
            || kernel.SharedMemoryIdSpace.Available < image.SharedMemorySegments.Length)
            return Refuse(RestartRefusal.NoSpace, $"{kernel.Identity.Node} has no room for {image.MessageQueues.Length} message queues, {image.SemaphoreSets.Length} semaphore sets and {image.SharedMemorySegments.Length} segments");
        return kernel.Ptys.HasRoom(image.Ptys.Length) ? null : Refuse(RestartRefusal.NoSpace, $"{kernel.Identity.Node} has no room for {image.Ptys.Length} ptys");
    }

    private RestartRefused? CheckOrder()
    {
        if (order is null) return null;
        if (order.Count != steps.Length || order.Any(i => i < 0 || i >= steps.Length) || order.Distinct().Count() != steps.Length)
            return Refuse(RestartRefusal.BadReopenOrder, $"the reopening order [{string.Join(", ", order)}] is not a permutation of the {steps.Length} pty reopen steps");
        return null;
    }

    private static RestartRefused? CheckId(string what, int id, long counter) =>
        id < 0 || id >= counter ? Refuse(RestartRefusal.InvalidValue, $"{what} {id} is outside 0..{counter - 1} (the WPAR's counter)") : null;

    private RestartRefused? CheckHandle(long handle) =>
        handle < 1 || handle >= image.Counters.PosixHandle ? Refuse(RestartRefusal.InvalidValue, $"POSIX handle {handle} is outside 1..{image.Counters.PosixHandle - 1}") : null;

    private static RestartRefused? CheckPermissions(string what, int id, IpcPermissions permissions) =>
        permissions.Mode is < 0 or > 0x1FF || permissions.Uid < 0 || permissions.Gid < 0 || permissions.CreatorUid < 0 || permissions.CreatorGid < 0
            ? Refuse(RestartRefusal.InvalidValue, $"{what} {id} has permissions {permissions}")
            : null;

    private static RestartRefused? CheckPosixObject(string what, string objectName, int mode, int uid, int gid)
    {
        if (PosixObject.NameProblem(objectName) is { } problem) return Refuse(RestartRefusal.InvalidValue, $"{what}: {problem}");
        return mode is < 0 or > 0x1FF || uid < 0 || gid < 0 ? Refuse(RestartRefusal.InvalidValue, $"{what} {objectName} has mode {mode}, uid {uid}, gid {gid}") : null;
    }

    private RestartRefused? CheckPid(string what, int id, int pid) =>
        pid == 0 || _pids.Contains(pid) ? null : Refuse(RestartRefusal.DanglingReference, $"{what} {id} records process {pid}, which the image does not have");

    private static bool HasDuplicate<T>(IEnumerable<T> values, out T duplicate)
    {
        var seen = new HashSet<T>();
        foreach (var value in values)
        {
            if (!seen.Add(value))
            {
                duplicate = value;
                return true;
            }
        }
        duplicate = default!;
        return false;
    }
}
