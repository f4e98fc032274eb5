using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// S7 and S9 inside one kernel: WPARs see virtual ids of their own; the kernel's real System V ids are
/// slot and sequence; a POSIX name is looked up with the WPAR id, giving a virtual kernel handle.
/// </summary>
public sealed class VirtualIdSpecs
{
    /// <summary>SysVIdSpace.MaxSlots: a real id is sequence * 2^17 + slot.</summary>
    private const long Slots = 1 << 17;

    private readonly GuestKernel _kernel = new(new KernelIdentity("node0", SequenceSeed: 5, ReservedSlots: 2, FirstHandle: 700, FirstPty: 10, FirstPid: 300));

    private static long Real(GuestKernel kernel, Wpar wpar, IdKind kind, string id) => kernel.RealIds(wpar.Id).Single(m => m.Kind == kind && m.Virtual == id).Real;

    [Fact]
    public void A_real_system_v_id_is_slot_and_sequence_and_a_reused_slot_gets_the_next_sequence()
    {
        var wpar = _kernel.CreateWpar("w").Value;
        var pid = wpar.Spawn(0, 0, "init").Value;

        var first = wpar.MessageQueueGet(pid, 0, IpcCreate.Create, 0x1B6).Value;
        var realFirst = Real(_kernel, wpar, IdKind.MessageQueue, "0");
        Assert.Equal(5 * Slots + 2, realFirst);
        Assert.True(wpar.RemoveMessageQueue(pid, first).Ok);
        var second = wpar.MessageQueueGet(pid, 0, IpcCreate.Create, 0x1B6).Value;

        Assert.Equal((0, 1), (first, second));
        Assert.Equal(6 * Slots + 2, Real(_kernel, wpar, IdKind.MessageQueue, "1"));
        Assert.Equal(Errno.Invalid, wpar.MessageSend(pid, first, 1, "stale"u8).Error!.Errno);
    }

    [Fact]
    public void Two_wpars_using_the_same_key_and_ids_reach_only_their_own_objects()
    {
        var one = _kernel.CreateWpar("one").Value;
        var two = _kernel.CreateWpar("two").Value;
        var pidOne = one.Spawn(0, 0, "init").Value;
        var pidTwo = two.Spawn(0, 0, "init").Value;

        var queueOne = one.MessageQueueGet(pidOne, 42, IpcCreate.Create | IpcCreate.Exclusive, 0x1B6).Value;
        var queueTwo = two.MessageQueueGet(pidTwo, 42, IpcCreate.Create | IpcCreate.Exclusive, 0x1B6).Value;
        one.MessageSend(pidOne, queueOne, 1, "for one"u8);

        Assert.Equal((0, 0), (queueOne, queueTwo));
        Assert.Equal((1, 1), (pidOne, pidTwo));
        Assert.NotEqual(Real(_kernel, one, IdKind.MessageQueue, "0"), Real(_kernel, two, IdKind.MessageQueue, "0"));
        Assert.NotEqual(Real(_kernel, one, IdKind.Process, "1"), Real(_kernel, two, IdKind.Process, "1"));
        Assert.Equal(Errno.NoMessage, two.MessageReceive(pidTwo, queueTwo, 0, 64).Error!.Errno);
        Assert.Equal("for one", WparRestartModelSpecs.Text(one.MessageReceive(pidOne, queueOne, 0, 64).Value.Data));
        Assert.Equal(Errno.Invalid, two.SemaphoreValues(pidTwo, 0).Error!.Errno);
    }

    [Fact]
    public void A_posix_name_is_looked_up_with_the_wpar_id_and_gives_a_virtual_handle()
    {
        var one = _kernel.CreateWpar("one").Value;
        var two = _kernel.CreateWpar("two").Value;
        var pidOne = one.Spawn(0, 0, "init").Value;
        var pidTwo = two.Spawn(0, 0, "init").Value;

        var handleOne = one.PosixSemaphoreOpen(pidOne, "/lock", IpcCreate.Create, 0x1B6, 1).Value;
        var handleTwo = two.PosixSemaphoreOpen(pidTwo, "/lock", IpcCreate.Create | IpcCreate.Exclusive, 0x1B6, 5).Value;
        one.PosixSemaphoreTryWait(pidOne, handleOne);

        Assert.Equal((1L, 1L), (handleOne, handleTwo));
        Assert.True(Real(_kernel, one, IdKind.PosixSemaphore, "1") >= 700);
        Assert.NotEqual(Real(_kernel, one, IdKind.PosixSemaphore, "1"), Real(_kernel, two, IdKind.PosixSemaphore, "1"));
        Assert.Equal((0, 5), (one.PosixSemaphoreValue(pidOne, handleOne).Value, two.PosixSemaphoreValue(pidTwo, handleTwo).Value));
    }

    [Fact]
    public void A_restarted_wpar_gets_back_the_virtual_handle_it_registered_under_its_new_wpar_id()
    {
        var wpar = _kernel.CreateWpar("w").Value;
        var pid = wpar.Spawn(0, 0, "init").Value;
        for (var i = 0; i < 3; i++) wpar.PosixQueueOpen(pid, $"/q{i}", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6);
        wpar.PosixQueueUnlink(pid, "/q0");
        var image = _kernel.Checkpoint(wpar.Id);

        var target = WparRestartModelSpecs.OtherNode(2);
        var moved = target.Wpar(Assert.IsType<WparRestarted>(target.Restart(image)).WparId);

        Assert.NotEqual(wpar.Id, moved.Id);
        Assert.Equal(
            ["PosixMessageQueue 1", "PosixMessageQueue 2", "PosixMessageQueue 3"],
            target.RealIds(moved.Id).Where(m => m.Kind == IdKind.PosixMessageQueue).Select(m => $"{m.Kind} {m.Virtual}"));
        // The name finds the restored object; a new queue gets the next handle, as it would have on the source.
        Assert.Equal(Errno.Exists, moved.PosixQueueOpen(pid, "/q1", PosixAccess.ReadWrite, IpcCreate.Create | IpcCreate.Exclusive, 0x1B6).Error!.Errno);
        Assert.Equal(Errno.NoEntry, moved.PosixQueueOpen(pid, "/q0", PosixAccess.ReadWrite, IpcCreate.None, 0x1B6).Error!.Errno);
        moved.PosixQueueOpen(pid, "/q9", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6);
        wpar.PosixQueueOpen(pid, "/q9", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6);
        Assert.Equal(_kernel.View(wpar.Id).PosixQueues[^1].Handle, target.View(moved.Id).PosixQueues[^1].Handle);
        Assert.Equal(4, target.View(moved.Id).PosixQueues[^1].Handle);
    }

    [Fact]
    public void Wpar_show_lists_virtual_and_real_ids_side_by_side()
    {
        var session = ScriptedSession.Run(_kernel).Value;

        var ids = _kernel.RealIds(session.WparId);

        Assert.Equal(
            [IdKind.Process, IdKind.Process, IdKind.Process, IdKind.MessageQueue, IdKind.PosixSemaphore, IdKind.Pty, IdKind.Stream],
            ids.Select(m => m.Kind));
        Assert.Equal("Process 1 -> 300", ids[0].ToString());
        Assert.Equal($"MessageQueue 0 -> {5 * Slots + 2}", ids[3].ToString());
        Assert.Equal("Pty 0 -> 10", ids[5].ToString());
        Assert.Equal("Stream 1 -> 700", ids[6].ToString());
    }
}
