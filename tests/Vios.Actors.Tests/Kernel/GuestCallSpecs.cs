using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>The calls behave as their System V, POSIX and terminal counterparts do (the state a checkpoint must carry).</summary>
public sealed class GuestCallSpecs
{
    private readonly GuestKernel _kernel = new(KernelIdentity.Default);
    private readonly Wpar _wpar;
    private readonly int _root;
    private readonly int _user;

    public GuestCallSpecs()
    {
        _wpar = _kernel.CreateWpar("calls").Value;
        _root = _wpar.Spawn(0, 0, "init").Value;
        _user = _wpar.Spawn(100, 100, "app").Value;
    }

    private static string Text(KernelResult<ByteString> read) => read.Ok ? WparRestartModelSpecs.Text(read.Value) : read.Error!.Errno.ToString();

    [Fact]
    public void Msgrcv_takes_the_first_message_of_the_type_its_selector_picks()
    {
        var queue = _wpar.MessageQueueGet(_root, 0, IpcCreate.Create, 0x1B6).Value;
        foreach (var (type, text) in new[] { (3L, "c"), (2L, "b1"), (1L, "a"), (2L, "b2") }) _wpar.MessageSend(_root, queue, type, System.Text.Encoding.ASCII.GetBytes(text));

        Assert.Equal("b1", WparRestartModelSpecs.Text(_wpar.MessageReceive(_root, queue, 2, 64).Value.Data));
        Assert.Equal("a", WparRestartModelSpecs.Text(_wpar.MessageReceive(_root, queue, -2, 64).Value.Data));
        Assert.Equal("c", WparRestartModelSpecs.Text(_wpar.MessageReceive(_root, queue, 0, 64).Value.Data));
        Assert.Equal(Errno.NoMessage, _wpar.MessageReceive(_root, queue, 1, 64).Error!.Errno);
        Assert.Equal(Errno.TooBig, _wpar.MessageReceive(_root, queue, 2, 1).Error!.Errno);
        var status = _wpar.MessageQueueStat(_root, queue).Value;
        Assert.Equal((1, 2, _root, _root), (status.Messages, status.Bytes, status.LastSendPid, status.LastReceivePid));
    }

    [Fact]
    public void Permissions_decide_who_may_send_and_who_may_remove()
    {
        var queue = _wpar.MessageQueueGet(_user, 5, IpcCreate.Create, 0x180).Value; // 0600, owner app
        var other = _wpar.Spawn(200, 200, "other").Value;

        Assert.Equal(Errno.Access, _wpar.MessageSend(other, queue, 1, "x"u8).Error!.Errno);
        Assert.Equal(Errno.Access, _wpar.RemoveMessageQueue(other, queue).Error!.Errno);
        Assert.True(_wpar.MessageSend(_user, queue, 1, "x"u8).Ok);
        Assert.True(_wpar.MessageQueueSet(_user, queue, 0x1B6, 64).Ok);
        Assert.True(_wpar.MessageSend(other, queue, 1, "y"u8).Ok);
        Assert.Equal(Errno.Again, _wpar.MessageSend(other, queue, 1, new byte[63]).Error!.Errno);
    }

    [Fact]
    public void Semop_applies_all_or_nothing_and_exit_gives_back_what_was_taken_with_undo()
    {
        var set = _wpar.SemaphoreGet(_root, 0, 2, IpcCreate.Create, 0x1B6).Value;
        _wpar.SemaphoreSetValue(_root, set, 0, 3);

        Assert.Equal(Errno.Again, _wpar.SemaphoreOperate(_user, set, [new(0, -1), new(1, -1)]).Error!.Errno);
        Assert.Equal([3, 0], _wpar.SemaphoreValues(_root, set).Value);
        Assert.True(_wpar.SemaphoreOperate(_user, set, [new(0, -2, Undo: true), new(1, 4, Undo: true)]).Ok);
        Assert.Equal([1, 4], _wpar.SemaphoreValues(_root, set).Value);
        Assert.Equal(["set 0 semaphore 0: +2", "set 0 semaphore 1: -4"], _kernel.View(_wpar.Id).Processes[1].SemaphoreUndo);

        Assert.True(_wpar.Exit(_user).Ok);

        Assert.Equal([3, 0], _wpar.SemaphoreValues(_root, set).Value);
        Assert.Equal(Errno.NoProcess, _wpar.Read(_user, 0, 1).Error!.Errno);
        Assert.Equal(_user, _kernel.View(_wpar.Id).SemaphoreSets[0].LastPids[0]);
    }

    [Fact]
    public void A_segment_removed_while_attached_lives_until_its_last_detach_and_frees_its_key_at_once()
    {
        var segment = _wpar.SharedMemoryGet(_root, 9, 100, IpcCreate.Create, 0x1B6).Value;
        var address = _wpar.SharedMemoryAttach(_user, segment, readOnly: false).Value;
        _wpar.SharedMemoryWrite(_user, address, 10, "data"u8);

        Assert.True(_wpar.RemoveSharedMemory(_root, segment).Ok);
        Assert.Equal("data", Text(_wpar.SharedMemoryRead(_user, address, 10, 4)));
        Assert.Equal(Errno.Removed, _wpar.SharedMemoryAttach(_root, segment, readOnly: true).Error!.Errno);
        var again = _wpar.SharedMemoryGet(_root, 9, 100, IpcCreate.Create | IpcCreate.Exclusive, 0x1B6).Value;
        Assert.Equal(1, again);
        Assert.True(_kernel.View(_wpar.Id).SharedMemorySegments[0].Removed);

        _wpar.SharedMemoryDetach(_user, address);

        Assert.Equal([1], _kernel.View(_wpar.Id).SharedMemorySegments.Select(s => s.Id));
        Assert.Equal(0x3000_0000, address);
    }

    [Fact]
    public void A_pty_edits_lines_echoes_and_maps_newlines_as_its_settings_say()
    {
        var master = _wpar.OpenPtyMaster(_root).Value;
        var slave = _wpar.OpenPtySlave(_user, master.Number).Value;

        _wpar.Write(_root, master.Fd, "lx\x7fs -a\x15ls\r"u8);
        Assert.Equal("ls\n", Text(_wpar.Read(_user, slave, 64)));
        Assert.Equal("lx\b \bs -a\x15ls\r\n", Text(_wpar.Read(_root, master.Fd, 64)));
        _wpar.Write(_user, slave, "a\nb"u8);
        Assert.Equal("a\r\nb", Text(_wpar.Read(_root, master.Fd, 64)));
        _wpar.Write(_root, master.Fd, "partial"u8);
        Assert.Equal("Again", Text(_wpar.Read(_user, slave, 64)));

        _wpar.SetTerminalSettings(_user, slave, TerminalSettings.Raw);
        Assert.Equal("part", Text(_wpar.Read(_user, slave, 4)));
        _wpar.Write(_root, master.Fd, "\r"u8);
        Assert.Equal("ial\r", Text(_wpar.Read(_user, slave, 64)));
        Assert.Equal("partial", Text(_wpar.Read(_root, master.Fd, 64)));
        Assert.Equal(Errno.Invalid, _wpar.SetTerminalSettings(_user, slave, TerminalSettings.Raw with { Local = (TerminalLocalFlags)64 }).Error!.Errno);
    }

    [Fact]
    public void Echo_stops_when_the_master_does_not_read_so_the_pty_stays_restorable()
    {
        var master = _wpar.OpenPtyMaster(_root).Value;
        var slave = _wpar.OpenPtySlave(_user, master.Number).Value;

        for (var i = 0; i < 3000; i++)
        {
            _wpar.Write(_root, master.Fd, "ab\x7f\r"u8);
            Assert.Equal("a\n", Text(_wpar.Read(_user, slave, 64)));
        }

        var output = _kernel.View(_wpar.Id).Ptys[0].ToMaster;
        Assert.InRange(output.Length, 4096, 4096 + 3);
        Assert.IsType<WparRestarted>(new GuestKernel(KernelIdentity.For("other")).Restart(WparImageCodec.Encode(_kernel.Checkpoint(_wpar.Id))));
    }

    [Fact]
    public void A_system_v_queue_bounds_its_message_count_by_its_byte_limit()
    {
        var queue = _wpar.MessageQueueGet(_root, 0, IpcCreate.Create, 0x1B6).Value;
        _wpar.MessageQueueSet(_root, queue, 0x1B6, 4);

        for (var i = 0; i < 4; i++) Assert.True(_wpar.MessageSend(_root, queue, 1, []).Ok);

        Assert.Equal(Errno.Again, _wpar.MessageSend(_root, queue, 1, []).Error!.Errno);
    }

    [Fact]
    public void Closing_the_master_hangs_up_its_slaves_and_frees_the_number()
    {
        var master = _wpar.OpenPtyMaster(_root).Value;
        var slave = _wpar.OpenPtySlave(_user, master.Number).Value;

        _wpar.Close(_root, master.Fd);

        Assert.Equal("", Text(_wpar.Read(_user, slave, 64)));
        Assert.Equal(Errno.InputOutput, _wpar.Write(_user, slave, "x"u8).Error!.Errno);
        Assert.Equal([$"{slave}: hung-up terminal"], _kernel.View(_wpar.Id).Processes[1].Descriptors);
        Assert.Equal(Errno.NoEntry, _wpar.OpenPtySlave(_user, master.Number).Error!.Errno);
        Assert.Equal(master.Number, _wpar.OpenPtyMaster(_root).Value.Number);
    }

    [Fact]
    public void A_posix_queue_delivers_by_priority_and_outlives_its_name_until_the_last_close()
    {
        var writer = _wpar.PosixQueueOpen(_root, "/jobs", PosixAccess.WriteOnly, IpcCreate.Create, 0x1B6, maxMessages: 3, maxMessageSize: 16).Value;
        var reader = _wpar.PosixQueueOpen(_user, "/jobs", PosixAccess.ReadOnly, IpcCreate.None, 0).Value;
        foreach (var (priority, text) in new[] { (1, "low"), (9, "high"), (1, "low2") }) _wpar.PosixQueueSend(_root, writer, priority, System.Text.Encoding.ASCII.GetBytes(text));

        Assert.Equal(Errno.Again, _wpar.PosixQueueSend(_root, writer, 5, "full"u8).Error!.Errno);
        Assert.Equal(Errno.BadDescriptor, _wpar.PosixQueueReceive(_root, writer, 16).Error!.Errno);
        Assert.True(_wpar.PosixQueueUnlink(_root, "/jobs").Ok);
        Assert.Equal(Errno.NoEntry, _wpar.PosixQueueOpen(_user, "/jobs", PosixAccess.ReadOnly, IpcCreate.None, 0).Error!.Errno);
        Assert.Equal(["high", "low", "low2"], Enumerable.Range(0, 3).Select(_ => WparRestartModelSpecs.Text(_wpar.PosixQueueReceive(_user, reader, 16).Value.Data)));
        Assert.True(_kernel.View(_wpar.Id).PosixQueues[0].Unlinked);

        _wpar.Close(_root, writer);
        _wpar.Close(_user, reader);

        Assert.Empty(_kernel.View(_wpar.Id).PosixQueues);
    }

    [Fact]
    public void Removing_a_wpar_frees_its_real_ids_for_the_next()
    {
        ScriptedSession.Run(_kernel, "gone");
        var id = _kernel.FindWpar("gone")!.Id;
        var before = _kernel.RealIds(id);

        Assert.True(_kernel.RemoveWpar(id));
        var again = ScriptedSession.Run(_kernel, "again").Value;

        var after = _kernel.RealIds(again.WparId);
        Assert.Equal(before.Single(m => m.Kind == IdKind.Pty).Real, after.Single(m => m.Kind == IdKind.Pty).Real);
        Assert.Equal(before.Single(m => m.Kind == IdKind.MessageQueue).Real + (1 << 17), after.Single(m => m.Kind == IdKind.MessageQueue).Real);
        Assert.Equal(["calls", "again"], _kernel.ListWpars().Select(w => w.Name));
    }
}
