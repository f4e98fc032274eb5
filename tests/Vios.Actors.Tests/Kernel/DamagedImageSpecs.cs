using System.Collections.Immutable;
using CsCheck;
using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// A damaged WPAR image is refused with a reason naming the problem, before the target kernel changes:
/// its WPARs, views and real ids stay as they were, and it hands out afterwards exactly the real ids
/// it would have handed out had it never seen the image.
/// </summary>
public sealed class DamagedImageSpecs
{
    private static readonly KernelIdentity TargetIdentity = new("node1", SequenceSeed: 7, ReservedSlots: 13, FirstHandle: 50_000, FirstPty: 300, FirstPid: 40_000);

    private readonly WparImage _image;

    public DamagedImageSpecs()
    {
        var source = new GuestKernel(KernelIdentity.Default);
        var session = ScriptedSession.Run(source, "web").Value;
        var wpar = source.Wpar(session.WparId);
        var pid = session.OrderDaemon;
        // More to damage: a three-module stream, a second pty, System V semaphores and a segment attached.
        var stream = wpar.OpenStream(pid).Value;
        foreach (var module in new[] { "adler32", "seqno", "ldterm" }) wpar.PushModule(pid, stream, module);
        wpar.Write(pid, stream, "line\nhalf"u8);
        var pty = wpar.OpenPtyMaster(pid).Value;
        wpar.OpenPtySlave(session.Shell, pty.Number);
        var set = wpar.SemaphoreGet(pid, 77, 2, IpcCreate.Create, 0x1B6).Value;
        wpar.SemaphoreOperate(pid, set, [new SemaphoreOperation(0, 2, Undo: true)]);
        var segment = wpar.SharedMemoryGet(pid, 78, 64, IpcCreate.Create, 0x1B6).Value;
        wpar.SharedMemoryAttach(pid, segment, readOnly: false);
        wpar.PosixQueueOpen(pid, "/jobs", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6);
        _image = source.Checkpoint(session.WparId);
    }

    /// <summary>A target with a WPAR of its own, and its twin that never sees the damaged image.</summary>
    private static GuestKernel Target()
    {
        var kernel = new GuestKernel(TargetIdentity);
        ScriptedSession.Run(kernel, "resident");
        return kernel;
    }

    private static string Fingerprint(GuestKernel kernel) => string.Join("\n",
        kernel.ListWpars().Select(w => $"{w}\n{kernel.View(w.Id).Render()}\n{string.Join(", ", kernel.RealIds(w.Id))}"));

    /// <summary>Restarts <paramref name="damaged"/>, expects a refusal, and checks that the target is as it was.</summary>
    private RestartRefused AssertRefusedAndUnchanged(Func<GuestKernel, RestartResult> restartDamaged, RestartRefusal expected)
    {
        var target = Target();
        var twin = Target();
        var before = Fingerprint(target);

        var refused = Assert.IsType<RestartRefused>(restartDamaged(target));

        Assert.Equal(expected, refused.Refusal);
        Assert.Equal(before, Fingerprint(target));
        // Nothing was allocated either: the good image gets the same real ids here as on the twin.
        var here = Assert.IsType<WparRestarted>(target.Restart(_image));
        var there = Assert.IsType<WparRestarted>(twin.Restart(_image));
        Assert.Equal(string.Join("\n", twin.RealIds(there.WparId)), string.Join("\n", target.RealIds(here.WparId)));
        return refused;
    }

    private static ImmutableArray<ProcessImage> Without(ImmutableArray<ProcessImage> processes, DescriptorKind kind) =>
        [.. processes.Select(p => p with { Descriptors = [.. p.Descriptors.Where(d => d.Kind != kind)] })];

    [Fact]
    public void A_pty_slave_without_its_master_is_refused()
    {
        var steps = GuestKernel.PtyReopenSteps(_image);
        var master = steps.First(s => s.Master);
        var damaged = _image with
        {
            Processes = [.. _image.Processes.Select(p => p.Pid != master.Pid ? p : p with { Descriptors = [.. p.Descriptors.Where(d => d.Fd != master.Fd)] })],
        };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.SlaveWithoutMaster);

        Assert.Equal($"pty slave /dev/pts/{master.Number} is open as descriptor {steps.First(s => !s.Master && s.Number == master.Number).Fd} of process {steps.First(s => !s.Master && s.Number == master.Number).Pid}, but no process holds its master", refused.Reason);
    }

    [Fact]
    public void The_same_bytes_refused_after_encoding_name_the_same_problem()
    {
        var damaged = _image with { Processes = Without(_image.Processes, DescriptorKind.PtyMaster) };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(WparImageCodec.Encode(damaged)), RestartRefusal.SlaveWithoutMaster);

        Assert.StartsWith("pty slave /dev/pts/0 is open as descriptor", refused.Reason);
    }

    [Fact]
    public void A_virtual_id_used_twice_is_refused()
    {
        var queue = _image.MessageQueues[0];
        var damaged = _image with { MessageQueues = [queue, queue with { Permissions = queue.Permissions with { Key = 99 } }] };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.DuplicateId);

        Assert.Equal($"message queue {queue.Id} is used twice", refused.Reason);
    }

    [Fact]
    public void A_posix_handle_used_by_a_queue_and_a_semaphore_is_refused()
    {
        var damaged = _image with { PosixQueues = [_image.PosixQueues[0] with { Handle = _image.PosixSemaphores[0].Handle }] };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.DuplicateId);

        Assert.Equal($"POSIX handle {_image.PosixSemaphores[0].Handle} is used twice", refused.Reason);
    }

    [Fact]
    public void A_stream_with_a_module_missing_from_its_recorded_stack_is_refused()
    {
        var stream = _image.Streams.Single(s => s.Modules.Length == 3);
        var damaged = _image with { Streams = _image.Streams.Replace(stream, stream with { Modules = stream.Modules.RemoveAt(1) }) };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.MissingModule);

        Assert.Equal($"stream {stream.Id} has no module at position 1 of its 2-module stack (recorded: 0 ldterm, 2 adler32)", refused.Reason);
    }

    [Fact]
    public void A_module_the_target_kernel_does_not_have_is_refused()
    {
        var stream = _image.Streams.Single(s => s.Modules.Length == 3);
        var damaged = _image with { Streams = _image.Streams.Replace(stream, stream with { Modules = stream.Modules.SetItem(1, stream.Modules[1] with { Identity = "tcpip" }) }) };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.MissingModule);

        Assert.Equal($"stream {stream.Id}: module tcpip at position 1 is not one node1 has (adler32, ldterm, seqno, toupper)", refused.Reason);
    }

    [Fact]
    public void A_module_state_the_module_does_not_accept_is_refused()
    {
        var stream = _image.Streams.Single(s => s.Modules.Length == 3);
        var damaged = _image with { Streams = _image.Streams.Replace(stream, stream with { Modules = stream.Modules.SetItem(1, stream.Modules[1] with { State = ByteString.Of([1, 2, 3]) }) }) };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.BadModuleState);

        Assert.Equal($"stream {stream.Id}: seqno at position 1 refuses its recorded state \"\\x01\\x02\\x03\"", refused.Reason);
    }

    [Fact]
    public void A_segment_attached_in_a_process_but_missing_from_the_image_is_refused()
    {
        var damaged = _image with { SharedMemorySegments = [] };

        var refused = AssertRefusedAndUnchanged(target => target.Restart(damaged), RestartRefusal.DanglingReference);

        Assert.Contains("has segment 0 attached, which the image does not have", refused.Reason);
    }

    [Fact]
    public void A_name_the_target_already_has_is_refused()
    {
        var refused = AssertRefusedAndUnchanged(target => target.Restart(_image, new RestartOptions(Name: "resident")), RestartRefusal.NameUnusable);

        Assert.Equal("node1 has a WPAR named resident", refused.Reason);
    }

    [Fact]
    public void Bytes_that_fail_their_checksum_are_refused()
    {
        var bytes = WparImageCodec.Encode(_image);
        bytes[bytes.Length / 2] ^= 0x10;

        var refused = AssertRefusedAndUnchanged(target => target.Restart(bytes), RestartRefusal.ChecksumMismatch);

        Assert.StartsWith("ChecksumMismatch: the header carries XxHash64 0x", refused.Reason);
    }

    [Fact]
    public void Truncated_bytes_are_refused()
    {
        var bytes = WparImageCodec.Encode(_image);

        var refused = AssertRefusedAndUnchanged(target => target.Restart(bytes.AsSpan(0, bytes.Length - 7)), RestartRefusal.Truncated);

        Assert.Equal($"Truncated: the header declares a {bytes.Length - WparImageLayout.HeaderLength}-byte body, {bytes.Length - WparImageLayout.HeaderLength - 7} bytes follow it", refused.Reason);
    }

    [Fact]
    public void Any_cut_or_any_changed_byte_is_refused_and_leaves_the_target_as_it_was()
    {
        var bytes = WparImageCodec.Encode(_image);
        var target = Target();
        var before = Fingerprint(target);

        Gen.Select(Gen.Int[0, bytes.Length - 1], Gen.Byte[1, 255], Gen.Bool).Sample((at, flip, cut) =>
        {
            var damaged = cut ? bytes[..at] : (byte[])bytes.Clone();
            if (!cut) damaged[at] ^= flip;
            lock (target) Assert.IsType<RestartRefused>(target.Restart(damaged));
        }, iter: 2000);

        Assert.Equal(before, Fingerprint(target));
    }
}
