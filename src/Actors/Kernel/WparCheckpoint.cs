using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

public sealed partial class GuestKernel
{
    /// <summary>
    /// Checkpoints a WPAR: every stream is frozen first (S10); then the list of virtual ids the WPAR
    /// uses for IPC objects, each object's data and control information, and each process's data
    /// (S7, S9); each pty's settings and queued data, with the open pty ends in the processes'
    /// descriptors (S6); and for each stream the checkpoint message its modules filled with their
    /// identities, order and state (S10, S11), with the blocks it held queued. Streams that were not
    /// frozen before are thawed after. The WPAR runs on unchanged.
    /// </summary>
    public WparImage Checkpoint(int wparId)
    {
        var wpar = Wpar(wparId);
        var streams = wpar.StreamIds.Entries().Select(e => (Id: e.Virtual, Stream: Streams[e.Real])).ToList();
        var wasFrozen = streams.Select(s => s.Stream.Frozen).ToList();
        foreach (var (_, stream) in streams) stream.Freeze();
        try
        {
            var sharedMemory = SharedMemoryInImageOrder(wpar);
            var sharedMemoryIndex = sharedMemory.Select((o, i) => (o, i)).ToDictionary(e => e.o, e => (long)e.i);

            return new WparImage(
                wpar.Name,
                wpar.Clock,
                new VirtualIdCounters(wpar.Pids.Next, wpar.MessageQueueIds.Next, wpar.SemaphoreSetIds.Next, wpar.SharedMemoryIds.Next, wpar.PosixHandles.Next, wpar.StreamIds.Next),
                [.. wpar.Pids.Entries().Select(e => CaptureProcess(wpar, (int)e.Virtual, Processes[(int)e.Real], sharedMemoryIndex))],
                [.. wpar.MessageQueueIds.Entries().Select(e => CaptureMessageQueue(wpar, (int)e.Virtual, MessageQueues[(int)e.Real]))],
                [.. wpar.SemaphoreSetIds.Entries().Select(e => CaptureSemaphoreSet(wpar, (int)e.Virtual, SemaphoreSets[(int)e.Real]))],
                [.. wpar.SharedMemoryIds.Entries().Select(e => CaptureSegment(wpar, (int)e.Virtual, SharedMemorySegments[(int)e.Real]))],
                [
                    .. wpar.PosixHandles.Entries().Select(e => (e.Virtual, Object: PosixObjects[e.Real])).Where(e => e.Object is PosixMessageQueue)
                        .Select(e => CapturePosixQueue(e.Virtual, (PosixMessageQueue)e.Object)),
                ],
                [
                    .. wpar.PosixHandles.Entries().Select(e => (e.Virtual, Object: PosixObjects[e.Real])).Where(e => e.Object is PosixSemaphore)
                        .Select(e => new PosixSemaphoreImage(e.Virtual, e.Object.Name, e.Object.Unlinked, e.Object.Mode, e.Object.Uid, e.Object.Gid, ((PosixSemaphore)e.Object).Value)),
                ],
                [.. sharedMemory.Select(o => new PosixSharedMemoryImage(o.Name, o.Unlinked, o.Mode, o.Uid, o.Gid, ByteString.Of(o.Bytes)))],
                [
                    .. wpar.PtyNumbers.Entries().Select(e => Ptys.Get((int)e.Real)!)
                        .Select(p => new PtyImage((int)wpar.PtyNumbers.Virtual(p.RealNumber), p.Settings, ByteString.Of([.. p.ToSlave]), ByteString.Of([.. p.ToMaster]))),
                ],
                [.. streams.Select((s, i) => CaptureStream(s.Id, s.Stream, wasFrozen[i]))]);
        }
        finally
        {
            for (var i = 0; i < streams.Count; i++)
            {
                if (!wasFrozen[i]) streams[i].Stream.Thaw();
            }
        }
    }

    /// <summary>
    /// The WPAR's POSIX shared memory objects in an order that depends only on what the WPAR sees:
    /// linked ones by name, then unlinked ones by name and the first (pid, descriptor) holding them.
    /// </summary>
    internal List<PosixSharedMemory> SharedMemoryInImageOrder(Wpar wpar)
    {
        var firstHolder = new Dictionary<PosixSharedMemory, (int Pid, int Fd)>();
        foreach (var (pid, real) in wpar.Pids.Entries())
        {
            foreach (var (fd, descriptor) in Processes[(int)real].Descriptors)
            {
                if (descriptor is PosixSharedMemoryDescriptor shared) firstHolder.TryAdd(shared.Object, ((int)pid, fd));
            }
        }
        return
        [
            .. SharedMemoryObjectsOf(wpar)
                .OrderBy(o => o.Unlinked)
                .ThenBy(o => o.Name, StringComparer.Ordinal)
                .ThenBy(o => firstHolder.GetValueOrDefault(o, (int.MaxValue, int.MaxValue))),
        ];
    }

    private static ProcessImage CaptureProcess(Wpar wpar, int pid, GuestProcess process, Dictionary<PosixSharedMemory, long> sharedMemoryIndex) => new(
        pid,
        process.Uid,
        process.Gid,
        process.Command,
        process.Exited,
        process.NextAttachAddress,
        [
            .. process.Descriptors.Select(e => e.Value switch
            {
                PtyMasterDescriptor master => new DescriptorImage(e.Key, DescriptorKind.PtyMaster, wpar.PtyNumbers.Virtual(master.Pty.RealNumber), PosixAccess.ReadWrite),
                PtySlaveDescriptor slave => new DescriptorImage(e.Key, DescriptorKind.PtySlave, wpar.PtyNumbers.Virtual(slave.Pty.RealNumber), PosixAccess.ReadWrite),
                HungUpDescriptor => new DescriptorImage(e.Key, DescriptorKind.HungUp, 0, PosixAccess.ReadWrite),
                StreamDescriptor stream => new DescriptorImage(e.Key, DescriptorKind.Stream, wpar.StreamIds.Virtual(stream.Stream.RealId), PosixAccess.ReadWrite),
                PosixQueueDescriptor queue => new DescriptorImage(e.Key, DescriptorKind.PosixQueue, wpar.PosixHandles.Virtual(queue.Queue.RealHandle), queue.Access),
                PosixSharedMemoryDescriptor shared => new DescriptorImage(e.Key, DescriptorKind.PosixSharedMemory, sharedMemoryIndex[shared.Object], shared.Access),
                _ => throw new InvalidOperationException($"descriptor {e.Key} is of an unknown kind"),
            }),
        ],
        [.. process.Attachments.Select(e => new AttachmentImage(e.Key, (int)wpar.SharedMemoryIds.Virtual(e.Value.Segment.RealId), e.Value.ReadOnly))],
        [
            .. process.SemaphoreUndo
                .Select(e => new SemaphoreUndoImage((int)wpar.SemaphoreSetIds.Virtual(e.Key.Set.RealId), e.Key.Number, e.Value))
                .OrderBy(u => u.SetId).ThenBy(u => u.Number),
        ],
        [.. process.OpenSemaphores.Select(e => new OpenSemaphoreImage(wpar.PosixHandles.Virtual(e.Key.RealHandle), e.Value)).OrderBy(o => o.Handle)]);

    private static MessageQueueImage CaptureMessageQueue(Wpar wpar, int id, SysVMessageQueue queue) => new(
        id, queue.Permissions, queue.MaxBytes, [.. queue.Messages],
        wpar.VirtualPid(queue.LastSendPid), wpar.VirtualPid(queue.LastReceivePid), queue.SendTime, queue.ReceiveTime, queue.ChangeTime);

    private static SemaphoreSetImage CaptureSemaphoreSet(Wpar wpar, int id, SemaphoreSet set) => new(
        id, set.Permissions, [.. set.Values], [.. set.LastPids.Select(wpar.VirtualPid)], set.OperationTime, set.ChangeTime);

    private static SharedMemorySegmentImage CaptureSegment(Wpar wpar, int id, SharedMemorySegment segment) => new(
        id, segment.Permissions, ByteString.Of(segment.Bytes), wpar.VirtualPid(segment.CreatorPid), wpar.VirtualPid(segment.LastPid),
        segment.Attachments, segment.AttachTime, segment.DetachTime, segment.ChangeTime, segment.Removed);

    private static PosixQueueImage CapturePosixQueue(long handle, PosixMessageQueue queue) => new(
        handle, queue.Name, queue.Unlinked, queue.Mode, queue.Uid, queue.Gid, queue.MaxMessages, queue.MaxMessageSize, [.. queue.Messages]);

    // S10, S11: the stream is frozen; its checkpoint message comes back with each module's identity
    // and state in stack order. Blocks it holds queued are kept, so none is lost.
    private static StreamImage CaptureStream(long id, StreamHead stream, bool wasFrozen)
    {
        var restart = stream.Checkpoint();
        var queued = ImmutableArray.CreateBuilder<QueuedBlockImage>();
        for (var position = 0; position <= stream.Modules.Count; position++)
        {
            foreach (var block in stream.QueuedAt(position)) queued.Add(new QueuedBlockImage(position, block.Type, block.Payload));
        }
        return new StreamImage(
            id, wasFrozen,
            [.. restart.States.Select((state, position) => new StreamModuleImage(position, state.Identity, state.State))],
            queued.ToImmutable(),
            ByteString.Of(stream.ReadQueue));
    }
}
