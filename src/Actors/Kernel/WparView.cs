using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Vios.Actors.Kernel;

/// <summary>
/// Everything a WPAR can observe of its kernel state, in its own ids: processes and what they hold,
/// IPC objects with their data and control information, ptys with settings and queued bytes, streams
/// with module order and state. Two views are equal exactly when the WPAR could not tell the two
/// states apart, whatever kernel and real ids are underneath.
/// </summary>
public sealed record WparView(
    string Name,
    long Clock,
    EquatableArray<ProcessView> Processes,
    EquatableArray<MessageQueueView> MessageQueues,
    EquatableArray<SemaphoreSetView> SemaphoreSets,
    EquatableArray<SharedMemoryView> SharedMemorySegments,
    EquatableArray<PosixQueueView> PosixQueues,
    EquatableArray<PosixSemaphoreView> PosixSemaphores,
    EquatableArray<PosixSharedMemoryView> PosixSharedMemory,
    EquatableArray<PtyView> Ptys,
    EquatableArray<StreamView> Streams)
{
    /// <summary>The view as text, one object a line (for <c>wpar show</c> and for test failures).</summary>
    /// <summary>Every field of every object, as the records print themselves: what comparisons across the wire use.</summary>
    public string RenderFull() => Render(full: true);

    /// <summary>The view as an operator reads it, one short line per object.</summary>
    public string Render() => Render(full: false);

    private string Render(bool full)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"WPAR {Name}, clock {Clock}\n");
        Section(text, "processes", Processes, full);
        Section(text, "System V message queues", MessageQueues, full);
        Section(text, "System V semaphore sets", SemaphoreSets, full);
        Section(text, "System V shared memory", SharedMemorySegments, full);
        Section(text, "POSIX message queues", PosixQueues, full);
        Section(text, "POSIX semaphores", PosixSemaphores, full);
        Section(text, "POSIX shared memory", PosixSharedMemory, full);
        Section(text, "ptys", Ptys, full);
        Section(text, "streams", Streams, full);
        return text.ToString();
    }

    private static void Section<T>(StringBuilder text, string title, EquatableArray<T> items, bool full)
    {
        if (items.Count == 0) return;
        text.Append(CultureInfo.InvariantCulture, $"{title}:\n");
        foreach (var item in items) text.Append("  ").Append(full ? item?.ToString() : Line(item)).Append('\n');
    }

    /// <summary>One object as an operator reads it; the record's own text for anything not listed.</summary>
    private static string Line(object? item) => item switch
    {
        ProcessView p => $"pid {p.Pid} {p.Command} (uid {p.Uid}){(p.Exited ? ", exited" : "")}: fds {string.Join(", ", p.Descriptors)}"
            + (p.Attachments.Count > 0 ? $"; attached {string.Join(", ", p.Attachments)}" : "")
            + (p.OpenSemaphores.Count > 0 ? $"; semaphores {string.Join(", ", p.OpenSemaphores)}" : ""),
        MessageQueueView q => $"msgq {q.Id} key {q.Permissions.Key} mode {Octal(q.Permissions.Mode)}: {q.Messages.Count} message(s), {q.Bytes} bytes"
            + (q.Messages.Count > 0 ? $": {string.Join("; ", q.Messages.Select(m => $"type {m.Type} {m.Data}"))}" : ""),
        SemaphoreSetView set => $"semset {set.Id} key {set.Permissions.Key} mode {Octal(set.Permissions.Mode)}: values {set.Values}",
        SharedMemoryView shm => $"shm {shm.Id} key {shm.Permissions.Key} mode {Octal(shm.Permissions.Mode)}: {shm.Bytes.Length} bytes, {shm.Attachments} attached{(shm.Removed ? ", removed" : "")}",
        PosixQueueView q => $"mq {q.Name}{(q.Unlinked ? " (unlinked)" : "")}: {q.Messages.Count} message(s){(q.Messages.Count > 0 ? $": {string.Join("; ", q.Messages.Select(m => $"prio {m.Priority} {m.Data}"))}" : "")}",
        PosixSemaphoreView sem => $"sem {sem.Name}{(sem.Unlinked ? " (unlinked)" : "")} mode {Octal(sem.Mode)}: value {sem.Value}, {sem.Opens} open",
        PosixSharedMemoryView shm => $"shm {shm.Name}{(shm.Unlinked ? " (unlinked)" : "")}: {shm.Bytes.Length} bytes, {shm.Opens} open",
        PtyView pty => $"pty {pty.Number}: window {pty.Settings.Window}, speed {pty.Settings.Speed}; to slave {pty.ToSlave}, to master {pty.ToMaster}",
        StreamView stream => $"stream {stream.Id}{(stream.Frozen ? " (frozen)" : "")}: modules {string.Join(" over ", stream.Modules.Select(m => $"{m.Identity} ({m.Description})"))}"
            + (stream.Queued.Count > 0 ? $"; queued {string.Join(", ", stream.Queued)}" : "") + $"; readable {stream.Readable}",
        _ => item?.ToString() ?? "",
    };

    private static string Octal(int mode) => Convert.ToString(mode, 8);
}

/// <summary>A process: pid, owner, command, and its per-process data described as the process sees it.</summary>
public sealed record ProcessView(
    int Pid, int Uid, int Gid, string Command, bool Exited, long NextAttachAddress,
    EquatableArray<string> Descriptors, EquatableArray<string> Attachments, EquatableArray<string> SemaphoreUndo, EquatableArray<string> OpenSemaphores);

public sealed record MessageQueueView(
    int Id, IpcPermissions Permissions, int MaxBytes, int Bytes, EquatableArray<SysVMessage> Messages,
    int LastSendPid, int LastReceivePid, long SendTime, long ReceiveTime, long ChangeTime);

public sealed record SemaphoreSetView(int Id, IpcPermissions Permissions, EquatableArray<int> Values, EquatableArray<int> LastPids, long OperationTime, long ChangeTime);

public sealed record SharedMemoryView(
    int Id, IpcPermissions Permissions, ByteString Bytes, int CreatorPid, int LastPid, int Attachments,
    long AttachTime, long DetachTime, long ChangeTime, bool Removed);

public sealed record PosixQueueView(
    long Handle, string Name, bool Unlinked, int Mode, int Uid, int Gid, int MaxMessages, int MaxMessageSize, EquatableArray<PosixMessage> Messages, int Opens);

public sealed record PosixSemaphoreView(long Handle, string Name, bool Unlinked, int Mode, int Uid, int Gid, int Value, int Opens);

public sealed record PosixSharedMemoryView(string Name, bool Unlinked, int Mode, int Uid, int Gid, ByteString Bytes, int Opens);

public sealed record PtyView(int Number, TerminalSettings Settings, ByteString ToSlave, ByteString ToMaster, bool MasterOpen, int SlaveOpens)
{
    public string SlavePath => $"/dev/pts/{Number}";
}

/// <summary>A stream module as the WPAR can see it: position, identity, state bytes and what they mean.</summary>
public sealed record ModuleView(int Position, string Identity, ByteString State, string Description);

public sealed record StreamView(long Id, bool Frozen, EquatableArray<ModuleView> Modules, EquatableArray<string> Queued, ByteString Readable);

/// <summary>What kind of object an <see cref="IdMapping"/> names.</summary>
public enum IdKind
{
    Process,
    MessageQueue,
    SemaphoreSet,
    SharedMemory,
    PosixMessageQueue,
    PosixSemaphore,
    PosixSharedMemory,
    Pty,
    Stream,
}

/// <summary>
/// One object's id as the WPAR sees it and as the kernel knows it (S7, S9). A POSIX shared memory
/// object has no virtual handle: its name stands in the virtual column and its inode in the real one.
/// </summary>
public sealed record IdMapping(IdKind Kind, string Virtual, long Real)
{
    public override string ToString() => $"{Kind} {Virtual} -> {Real}";
}

public sealed partial class GuestKernel
{
    /// <summary>Observes a WPAR: what its processes could find out through their calls, in their ids.</summary>
    public WparView View(int wparId)
    {
        var wpar = Wpar(wparId);
        var sharedMemory = SharedMemoryInImageOrder(wpar);
        return new WparView(
            wpar.Name,
            wpar.Clock,
            EquatableArray.From(wpar.Pids.Entries().Select(e => ViewProcess(wpar, (int)e.Virtual, Processes[(int)e.Real], sharedMemory))),
            EquatableArray.From(wpar.MessageQueueIds.Entries().Select(e =>
            {
                var q = MessageQueues[(int)e.Real];
                return new MessageQueueView((int)e.Virtual, q.Permissions, q.MaxBytes, q.Bytes, EquatableArray.From(q.Messages),
                    wpar.VirtualPid(q.LastSendPid), wpar.VirtualPid(q.LastReceivePid), q.SendTime, q.ReceiveTime, q.ChangeTime);
            })),
            EquatableArray.From(wpar.SemaphoreSetIds.Entries().Select(e =>
            {
                var s = SemaphoreSets[(int)e.Real];
                return new SemaphoreSetView((int)e.Virtual, s.Permissions, EquatableArray.From(s.Values), EquatableArray.From(s.LastPids.Select(wpar.VirtualPid)), s.OperationTime, s.ChangeTime);
            })),
            EquatableArray.From(wpar.SharedMemoryIds.Entries().Select(e =>
            {
                var s = SharedMemorySegments[(int)e.Real];
                return new SharedMemoryView((int)e.Virtual, s.Permissions, ByteString.Of(s.Bytes), wpar.VirtualPid(s.CreatorPid), wpar.VirtualPid(s.LastPid),
                    s.Attachments, s.AttachTime, s.DetachTime, s.ChangeTime, s.Removed);
            })),
            EquatableArray.From(wpar.PosixHandles.Entries().Select(e => (e.Virtual, Object: PosixObjects[e.Real])).Where(e => e.Object is PosixMessageQueue).Select(e =>
            {
                var q = (PosixMessageQueue)e.Object;
                return new PosixQueueView(e.Virtual, q.Name, q.Unlinked, q.Mode, q.Uid, q.Gid, q.MaxMessages, q.MaxMessageSize, EquatableArray.From(q.Messages), q.Opens);
            })),
            EquatableArray.From(wpar.PosixHandles.Entries().Select(e => (e.Virtual, Object: PosixObjects[e.Real])).Where(e => e.Object is PosixSemaphore).Select(e =>
            {
                var s = (PosixSemaphore)e.Object;
                return new PosixSemaphoreView(e.Virtual, s.Name, s.Unlinked, s.Mode, s.Uid, s.Gid, s.Value, s.Opens);
            })),
            EquatableArray.From(sharedMemory.Select(o => new PosixSharedMemoryView(o.Name, o.Unlinked, o.Mode, o.Uid, o.Gid, ByteString.Of(o.Bytes), o.Opens))),
            EquatableArray.From(wpar.PtyNumbers.Entries().Select(e =>
            {
                var p = Ptys.Get((int)e.Real)!;
                return new PtyView((int)e.Virtual, p.Settings, ByteString.Of([.. p.ToSlave]), ByteString.Of([.. p.ToMaster]), p.MasterOpen, p.SlaveOpens);
            })),
            EquatableArray.From(wpar.StreamIds.Entries().Select(e =>
            {
                var s = Streams[e.Real];
                var queued = Enumerable.Range(0, s.Modules.Count + 1).SelectMany(position => s.QueuedAt(position).Select(b => $"{position}: {b.Type} {b.Payload}"));
                return new StreamView(
                    e.Virtual, s.Frozen,
                    EquatableArray.From(s.Modules.Select((m, position) => new ModuleView(position, m.Identity, m.SaveState(), m.DescribeState()))),
                    EquatableArray.From(queued),
                    ByteString.Of(s.ReadQueue));
            })));
    }

    /// <summary>
    /// Each object of the WPAR with its virtual and real id, by kind and virtual id (for <c>wpar show</c>,
    /// and to see that a restart changed the real ids and nothing the WPAR sees).
    /// </summary>
    public ImmutableArray<IdMapping> RealIds(int wparId)
    {
        var wpar = Wpar(wparId);
        static IEnumerable<IdMapping> Of(IdKind kind, VirtualIdTable table) =>
            table.Entries().Select(e => new IdMapping(kind, e.Virtual.ToString(CultureInfo.InvariantCulture), e.Real));
        return
        [
            .. Of(IdKind.Process, wpar.Pids),
            .. Of(IdKind.MessageQueue, wpar.MessageQueueIds),
            .. Of(IdKind.SemaphoreSet, wpar.SemaphoreSetIds),
            .. Of(IdKind.SharedMemory, wpar.SharedMemoryIds),
            .. wpar.PosixHandles.Entries()
                .Select(e => new IdMapping(PosixObjects[e.Real] is PosixSemaphore ? IdKind.PosixSemaphore : IdKind.PosixMessageQueue, e.Virtual.ToString(CultureInfo.InvariantCulture), e.Real)),
            .. SharedMemoryInImageOrder(wpar).Select(o => new IdMapping(IdKind.PosixSharedMemory, o.Unlinked ? $"{o.Name} (unlinked)" : o.Name, o.RealHandle)),
            .. Of(IdKind.Pty, wpar.PtyNumbers),
            .. Of(IdKind.Stream, wpar.StreamIds),
        ];
    }

    private ProcessView ViewProcess(Wpar wpar, int pid, GuestProcess process, List<PosixSharedMemory> sharedMemory) => new(
        pid, process.Uid, process.Gid, process.Command, process.Exited, process.NextAttachAddress,
        EquatableArray.From(process.Descriptors.Select(e => e.Value switch
        {
            PtyMasterDescriptor master => $"{e.Key}: /dev/ptc (pty {wpar.PtyNumbers.Virtual(master.Pty.RealNumber)} master)",
            PtySlaveDescriptor slave => $"{e.Key}: /dev/pts/{wpar.PtyNumbers.Virtual(slave.Pty.RealNumber)}",
            HungUpDescriptor => $"{e.Key}: hung-up terminal",
            StreamDescriptor stream => $"{e.Key}: stream {wpar.StreamIds.Virtual(stream.Stream.RealId)}",
            PosixQueueDescriptor queue => $"{e.Key}: mq {queue.Queue.Name} (handle {wpar.PosixHandles.Virtual(queue.Queue.RealHandle)}) {queue.Access}",
            PosixSharedMemoryDescriptor shared => $"{e.Key}: shm {shared.Object.Name}{(shared.Object.Unlinked ? " (unlinked)" : "")} #{sharedMemory.IndexOf(shared.Object)} {shared.Access}",
            _ => $"{e.Key}: ?",
        })),
        EquatableArray.From(process.Attachments.Select(e =>
            string.Create(CultureInfo.InvariantCulture, $"0x{e.Key:x}: segment {wpar.SharedMemoryIds.Virtual(e.Value.Segment.RealId)}{(e.Value.ReadOnly ? " read-only" : "")}"))),
        EquatableArray.From(process.SemaphoreUndo
            .Select(e => (Set: wpar.SemaphoreSetIds.Virtual(e.Key.Set.RealId), e.Key.Number, e.Value))
            .OrderBy(u => u.Set).ThenBy(u => u.Number)
            .Select(u => $"set {u.Set} semaphore {u.Number}: {u.Value:+0;-0}")),
        EquatableArray.From(process.OpenSemaphores
            .Select(e => (Handle: wpar.PosixHandles.Virtual(e.Key.RealHandle), e.Key.Name, Opens: e.Value))
            .OrderBy(o => o.Handle)
            .Select(o => $"{o.Name} (handle {o.Handle}) x{o.Opens}")));
}
