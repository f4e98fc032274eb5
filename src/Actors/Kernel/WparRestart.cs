using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

/// <summary>Why a WPAR image was not restarted.</summary>
public enum RestartRefusal
{
    /// <summary>The image bytes end early.</summary>
    Truncated,

    /// <summary>The image bytes do not hash to their checksum.</summary>
    ChecksumMismatch,

    /// <summary>The image bytes are not a WPAR image (magic, version, lengths, a value that does not parse).</summary>
    MalformedImage,

    /// <summary>The target kernel has a WPAR of that name, or the name is not one.</summary>
    NameUnusable,

    /// <summary>A virtual id (or pid, descriptor, pty number, address, name) appears twice where it must be unique.</summary>
    DuplicateId,

    /// <summary>S6: a pty slave is open but no process holds its master.</summary>
    SlaveWithoutMaster,

    /// <summary>S11: a stream's recorded modules do not form its stack: a position with no module, or a module this kernel does not have.</summary>
    MissingModule,

    /// <summary>A module refuses the state recorded for it.</summary>
    BadModuleState,

    /// <summary>Something refers to an object, process or position the image does not have.</summary>
    DanglingReference,

    /// <summary>A value out of its range, or values that contradict each other.</summary>
    InvalidValue,

    /// <summary>The target kernel has no room for the objects.</summary>
    NoSpace,

    /// <summary>The requested pty reopening order is not a permutation of the reopen steps.</summary>
    BadReopenOrder,
}

/// <summary>How to restart an image.</summary>
/// <param name="Name">The WPAR's name on the target kernel; null keeps the image's.</param>
/// <param name="PtyReopenOrder">
/// S6: the order in which the pty ends are reopened, as a permutation of the indices of
/// <see cref="GuestKernel.PtyReopenSteps"/>; null reopens them in process and descriptor order.
/// </param>
public sealed record RestartOptions(string? Name = null, IReadOnlyList<int>? PtyReopenOrder = null);

/// <summary>The outcome of a restart.</summary>
public abstract record RestartResult;

/// <summary>The WPAR runs on the target kernel.</summary>
public sealed record WparRestarted(int WparId, string Name) : RestartResult;

/// <summary>The image was refused before anything on the target kernel changed.</summary>
public sealed record RestartRefused(RestartRefusal Refusal, string Reason) : RestartResult
{
    public override string ToString() => $"{Refusal}: {Reason}";
}

/// <summary>S6: reopening one pty end of one process's descriptor during a restart.</summary>
public sealed record PtyReopenStep(int Pid, int Fd, bool Master, int Number)
{
    public override string ToString() => $"pid {Pid} fd {Fd}: {(Master ? "/dev/ptc" : "/dev/pts/")}{(Master ? $" (pty {Number})" : Number)}";
}

public sealed partial class GuestKernel
{
    /// <summary>The pty ends of an image's processes, in process and descriptor order: the steps a restart takes, in any order (S6).</summary>
    public static ImmutableArray<PtyReopenStep> PtyReopenSteps(WparImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return
        [
            .. image.Processes.SelectMany(p => p.Descriptors
                .Where(d => d.Kind is DescriptorKind.PtyMaster or DescriptorKind.PtySlave)
                .Select(d => new PtyReopenStep(p.Pid, d.Fd, d.Kind == DescriptorKind.PtyMaster, (int)d.Target))),
        ];
    }

    /// <summary>Decodes and restarts image bytes; damaged bytes are refused like a bad image.</summary>
    public RestartResult Restart(ReadOnlySpan<byte> image, RestartOptions? options = null)
    {
        if (!WparImageCodec.TryDecode(image, out var decoded, out var error))
        {
            var refusal = error!.Kind switch
            {
                WparImageError.Truncated => RestartRefusal.Truncated,
                WparImageError.ChecksumMismatch => RestartRefusal.ChecksumMismatch,
                _ => RestartRefusal.MalformedImage,
            };
            return new RestartRefused(refusal, error.Message);
        }
        return Restart(decoded!, options);
    }

    /// <summary>
    /// Restarts a checkpointed WPAR on this kernel. The whole image is checked first; a refused image
    /// leaves this kernel as it was. Then, per S7 and S9, for each IPC object the WPAR registers the
    /// virtual id (or, for a POSIX queue or semaphore, the virtual kernel handle under its name and the
    /// new WPAR id) it wants, the kernel creates a new object with a new real id and maps it, and the
    /// saved data and control information is overlaid; POSIX shared memory objects are recreated by
    /// name. Pty ends are reopened in the given order, matched up through the list of open slave devices
    /// (S6). Streams are rebuilt in recorded module order, frozen, handed their states in a restart
    /// message, and thawed unless they were frozen at the checkpoint (S10, S11). Per-process data last.
    /// </summary>
    public RestartResult Restart(WparImage image, RestartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        options ??= new RestartOptions();
        var name = options.Name ?? image.Name;
        var steps = PtyReopenSteps(image);
        if (new RestartValidator(this, image, name, steps, options.PtyReopenOrder).Validate() is { } refused) return refused;
        var wpar = Restore(image, name, options.PtyReopenOrder is { } order ? [.. order.Select(i => steps[i])] : steps);
        return new WparRestarted(wpar.Id, wpar.Name);
    }

    /// <summary>
    /// Moves a WPAR: checkpoint on <paramref name="source"/>, encode, decode, restart on
    /// <paramref name="target"/>; on success the source WPAR is removed. A refused restart leaves both
    /// kernels as they were.
    /// </summary>
    public static MigrationResult Migrate(GuestKernel source, int wparId, GuestKernel target, RestartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        var before = source.RealIds(wparId);
        var bytes = WparImageCodec.Encode(source.Checkpoint(wparId));
        var result = target.Restart(bytes, options);
        if (result is WparRestarted) source.RemoveWpar(wparId);
        return new MigrationResult(result, bytes.Length, before, result is WparRestarted r ? target.RealIds(r.WparId) : []);
    }

    private Wpar Restore(WparImage image, string name, ImmutableArray<PtyReopenStep> ptySteps)
    {
        var wpar = new Wpar(this, _nextWparId++, name) { Clock = image.Clock };
        _wpars.Add(wpar.Id, wpar);

        // Processes first: every later step names them by pid.
        var processes = new Dictionary<int, GuestProcess>();
        foreach (var p in image.Processes)
        {
            wpar.Pids.Register(p.Pid);
            var process = NewProcess(p.Uid, p.Gid, p.Command);
            wpar.Pids.Map(process.RealPid);
            process.Exited = p.Exited;
            process.NextAttachAddress = p.NextAttachAddress;
            processes.Add(p.Pid, process);
        }

        // S7: register the virtual id wanted, create with a new real id, map, overlay.
        var sets = new Dictionary<int, SemaphoreSet>();
        var segments = new Dictionary<int, SharedMemorySegment>();
        foreach (var q in image.MessageQueues)
        {
            wpar.MessageQueueIds.Register(q.Id);
            var queue = NewMessageQueue(q.Permissions, q.MaxBytes)!;
            wpar.MapMessageQueue(queue);
            queue.Messages.AddRange(q.Messages);
            queue.Bytes = q.Messages.Sum(m => m.Data.Length);
            (queue.LastSendPid, queue.LastReceivePid) = (wpar.RealPid(q.LastSendPid), wpar.RealPid(q.LastReceivePid));
            (queue.SendTime, queue.ReceiveTime, queue.ChangeTime) = (q.SendTime, q.ReceiveTime, q.ChangeTime);
        }
        foreach (var s in image.SemaphoreSets)
        {
            wpar.SemaphoreSetIds.Register(s.Id);
            var set = NewSemaphoreSet(s.Permissions, s.Values.Length)!;
            wpar.MapSemaphoreSet(set);
            s.Values.CopyTo(set.Values);
            for (var i = 0; i < s.LastPids.Length; i++) set.LastPids[i] = wpar.RealPid(s.LastPids[i]);
            (set.OperationTime, set.ChangeTime) = (s.OperationTime, s.ChangeTime);
            sets.Add(s.Id, set);
        }
        foreach (var s in image.SharedMemorySegments)
        {
            wpar.SharedMemoryIds.Register(s.Id);
            var segment = NewSharedMemorySegment(s.Permissions, s.Bytes.Length)!;
            wpar.MapSegment(segment);
            s.Bytes.Span.CopyTo(segment.Bytes);
            (segment.CreatorPid, segment.LastPid, segment.Attachments) = (wpar.RealPid(s.CreatorPid), wpar.RealPid(s.LastPid), s.Attachments);
            (segment.AttachTime, segment.DetachTime, segment.ChangeTime, segment.Removed) = (s.AttachTime, s.DetachTime, s.ChangeTime, s.Removed);
            segments.Add(s.Id, segment);
        }

        // S9: for a queue or semaphore, register the handle wanted under (name, WPAR id), ask for a
        // create by name and WPAR id, which finds the entry and maps its handle to the new real one,
        // then overlay. Unlinked objects first, so their names are free again for linked namesakes.
        var posix = new Dictionary<long, PosixObject>();
        foreach (var q in image.PosixQueues.OrderBy(q => !q.Unlinked))
        {
            PosixNames.Register(wpar.Id, PosixObjectKind.MessageQueue, q.Name, q.Handle);
            var queue = (PosixMessageQueue)wpar.CreatePosixObject(PosixObjectKind.MessageQueue, q.Name,
                handle => new PosixMessageQueue(handle, q.Name, q.Mode, q.Uid, q.Gid, q.MaxMessages, q.MaxMessageSize));
            queue.Messages.AddRange(q.Messages);
            Unlink(wpar, PosixObjectKind.MessageQueue, queue, q.Unlinked);
            posix.Add(q.Handle, queue);
        }
        foreach (var s in image.PosixSemaphores.OrderBy(s => !s.Unlinked))
        {
            PosixNames.Register(wpar.Id, PosixObjectKind.Semaphore, s.Name, s.Handle);
            var semaphore = (PosixSemaphore)wpar.CreatePosixObject(PosixObjectKind.Semaphore, s.Name,
                handle => new PosixSemaphore(handle, s.Name, s.Mode, s.Uid, s.Gid, s.Value));
            Unlink(wpar, PosixObjectKind.Semaphore, semaphore, s.Unlinked);
            posix.Add(s.Handle, semaphore);
        }

        // S9: shared memory objects take their own path: recreated by name, no handle to register.
        var sharedMemory = new PosixSharedMemory[image.PosixSharedMemory.Length];
        foreach (var (s, index) in image.PosixSharedMemory.Select((s, i) => (s, i)).OrderBy(e => !e.s.Unlinked))
        {
            var shared = NewSharedMemoryObject(wpar.Id, s.Name, s.Mode, s.Uid, s.Gid);
            shared.Bytes = s.Bytes.ToArray();
            if (s.Unlinked)
            {
                SharedMemoryObjects.Remove((wpar.Id, s.Name));
                shared.Unlinked = true;
            }
            sharedMemory[index] = shared;
        }

        // S6: reopen the pty ends in the order given, matched through the list of open slave devices.
        var ptyImages = image.Ptys.ToDictionary(p => p.Number);
        var openSlaves = new OpenSlaveList();
        foreach (var step in ptySteps)
        {
            var process = processes[step.Pid];
            Pty Allocate()
            {
                var device = Ptys.Allocate()!;
                var saved = ptyImages[step.Number];
                device.Settings = saved.Settings;
                device.ToSlave.AddRange(saved.ToSlave.Span);
                device.ToMaster.AddRange(saved.ToMaster.Span);
                return device;
            }

            if (step.Master)
            {
                var device = openSlaves.FindForMaster(step.Number) ?? Allocate();
                device.MasterOpen = true;
                wpar.PtyNumbers.Register(step.Number);
                wpar.PtyNumbers.Map(device.RealNumber);
                process.Descriptors.Add(step.Fd, new PtyMasterDescriptor(device));
            }
            else
            {
                var masterBack = wpar.PtyNumbers.TryReal(step.Number, out var real) ? Ptys.Get((int)real) : null;
                var device = openSlaves.AddSlave(step.Number, masterBack, Allocate);
                device.SlaveOpens++;
                process.Descriptors.Add(step.Fd, new PtySlaveDescriptor(device));
            }
        }
        if (openSlaves.WithoutMaster().Any())
            throw new InvalidOperationException($"ptys {string.Join(", ", openSlaves.WithoutMaster())} have a slave and no master after a validated image");

        // S10, S11: rebuild each stack in recorded order, frozen; hand each module its state; thaw.
        var streams = new Dictionary<long, StreamHead>();
        foreach (var s in image.Streams)
        {
            var stream = NewStream();
            wpar.StreamIds.Register(s.Id);
            wpar.StreamIds.Map(stream.RealId);
            var recorded = s.Modules.OrderBy(m => m.Position).ToList();
            for (var i = recorded.Count - 1; i >= 0; i--)
            {
                Modules.TryCreate(recorded[i].Identity, out var module);
                stream.Push(module);
            }
            stream.Freeze();
            var restart = new MessageBlock(MessageType.Restart, ByteString.Empty,
                EquatableArray.From(recorded.Select(m => new ModuleState(m.Identity, m.State))));
            if (stream.Restart(restart) is { } problem) throw new InvalidOperationException($"stream {s.Id}: {problem} after a validated image");
            foreach (var q in s.Queued) stream.Enqueue(q.Position, new MessageBlock(q.Type, q.Payload, default));
            stream.RestoreReadQueue(s.Readable.Span);
            if (!s.Frozen) stream.Thaw();
            streams.Add(s.Id, stream);
        }

        // Per-process data (S7): the other descriptors, attachments, undo values, open semaphores.
        foreach (var p in image.Processes)
        {
            var process = processes[p.Pid];
            foreach (var d in p.Descriptors)
            {
                Descriptor? descriptor = d.Kind switch
                {
                    DescriptorKind.HungUp => new HungUpDescriptor(),
                    DescriptorKind.Stream => new StreamDescriptor(streams[d.Target]),
                    DescriptorKind.PosixQueue => new PosixQueueDescriptor((PosixMessageQueue)posix[d.Target], d.Access),
                    DescriptorKind.PosixSharedMemory => new PosixSharedMemoryDescriptor(sharedMemory[d.Target], d.Access),
                    _ => null,
                };
                if (descriptor is null) continue;
                process.Descriptors.Add(d.Fd, descriptor);
                if (descriptor is PosixQueueDescriptor queue) queue.Queue.Opens++;
                if (descriptor is PosixSharedMemoryDescriptor shared) shared.Object.Opens++;
            }
            foreach (var a in p.Attachments) process.Attachments.Add(a.Address, new Attachment(segments[a.SegmentId], a.ReadOnly));
            foreach (var u in p.SemaphoreUndo) process.SemaphoreUndo.Add((sets[u.SetId], u.Number), u.Adjustment);
            foreach (var o in p.OpenSemaphores)
            {
                var semaphore = (PosixSemaphore)posix[o.Handle];
                process.OpenSemaphores.Add(semaphore, o.Opens);
                semaphore.Opens += o.Opens;
            }
        }

        var counters = image.Counters;
        wpar.Pids.RestoreNext(counters.Pid);
        wpar.MessageQueueIds.RestoreNext(counters.MessageQueue);
        wpar.SemaphoreSetIds.RestoreNext(counters.SemaphoreSet);
        wpar.SharedMemoryIds.RestoreNext(counters.SharedMemory);
        wpar.PosixHandles.RestoreNext(counters.PosixHandle);
        wpar.StreamIds.RestoreNext(counters.Stream);
        return wpar;
    }

    private void Unlink(Wpar wpar, PosixObjectKind kind, PosixObject posix, bool unlinked)
    {
        if (!unlinked) return;
        PosixNames.Remove(wpar.Id, kind, posix.Name);
        posix.Unlinked = true;
    }
}

/// <summary>What <see cref="GuestKernel.Migrate"/> did: the restart's outcome, the image size, and the real ids on both sides.</summary>
public sealed record MigrationResult(RestartResult Result, int ImageBytes, ImmutableArray<IdMapping> SourceRealIds, ImmutableArray<IdMapping> TargetRealIds);
