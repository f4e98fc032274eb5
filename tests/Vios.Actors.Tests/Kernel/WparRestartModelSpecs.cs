using System.Collections.Concurrent;
using CsCheck;
using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// The model-based property of S7, S9, S6, S10 and S11 together: after any sequence of guest calls,
/// a WPAR checkpointed, encoded, decoded and restarted on another kernel (whose real ids differ on
/// purpose) observes exactly what it observed before, although every real id changed; and the same
/// calls made afterwards on both kernels give the same results and the same views.
/// </summary>
public sealed class WparRestartModelSpecs
{
    /// <summary>A kernel on another node: its counters start elsewhere, and other WPARs already hold objects.</summary>
    internal static GuestKernel OtherNode(int neighbours)
    {
        var kernel = new GuestKernel(new KernelIdentity("node1", SequenceSeed: 7, ReservedSlots: 13, FirstHandle: 50_000, FirstPty: 300, FirstPid: 40_000));
        for (var n = 0; n < neighbours; n++)
        {
            var wpar = kernel.CreateWpar($"neighbour{n}").Value;
            var pid = wpar.Spawn(0, 0, "init").Value;
            wpar.MessageQueueGet(pid, 11, IpcCreate.Create, 0x1B6);
            wpar.SemaphoreGet(pid, 0, 2, IpcCreate.Create, 0x1B6);
            wpar.SharedMemoryGet(pid, 0, 64, IpcCreate.Create, 0x1B6);
            wpar.PosixQueueOpen(pid, "/a", PosixAccess.ReadWrite, IpcCreate.Create, 0x1B6);
            wpar.PosixSemaphoreOpen(pid, "/s1", IpcCreate.Create, 0x1B6, 1);
            wpar.OpenPtyMaster(pid);
            wpar.OpenStream(pid);
        }
        return kernel;
    }

    internal static void AssertSameView(WparView expected, WparView actual)
    {
        Assert.Equal(expected.Render(), actual.Render());
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_restarted_wpar_sees_what_it_saw_with_every_real_id_changed_and_cannot_tell_afterwards()
    {
        var reached = new ConcurrentDictionary<string, int>();
        Gen.Select(GuestCall.Any.Array[0, 300], GuestCall.Any.Array[0, 100], Gen.Int[0, 3]).Sample((before, after, neighbours) =>
        {
            var source = new GuestKernel(KernelIdentity.Default);
            var wpar = source.CreateWpar("web").Value;
            var programs = new GuestPrograms();
            programs.Start(wpar);
            foreach (var call in before) programs.Run(wpar, call);

            var seen = source.View(wpar.Id);
            var image = source.Checkpoint(wpar.Id);
            AssertSameView(seen, source.View(wpar.Id));
            foreach (var kind in GuestPrograms.Coverage(image)) reached.AddOrUpdate(kind, 1, (_, n) => n + 1);

            var target = OtherNode(neighbours);
            var restarted = Assert.IsType<WparRestarted>(target.Restart(WparImageCodec.Encode(image)));
            var moved = target.Wpar(restarted.WparId);
            AssertSameView(seen, target.View(moved.Id));

            var sourceIds = source.RealIds(wpar.Id);
            var targetIds = target.RealIds(moved.Id);
            Assert.Equal(sourceIds.Select(m => (m.Kind, m.Virtual)), targetIds.Select(m => (m.Kind, m.Virtual)));
            Assert.All(sourceIds.Zip(targetIds), pair => Assert.NotEqual(pair.Item1.Real, pair.Item2.Real));

            var programsThere = programs.Clone();
            var here = after.Select(call => programs.Run(wpar, call)).ToList();
            var there = after.Select(call => programsThere.Run(moved, call)).ToList();
            Assert.Equal(GuestPrograms.Describe(here), GuestPrograms.Describe(there));
            AssertSameView(source.View(wpar.Id), target.View(moved.Id));
        }, iter: 400);

        // The calls must reach every kind of state the image carries, or the property says little.
        var missing = new[]
        {
            "System V messages queued", "System V semaphore above zero", "semaphore undo values", "segments attached", "segment removed while attached",
            "segment bytes written", "POSIX messages queued", "POSIX object unlinked while open", "POSIX semaphores", "POSIX shared memory written",
            "pty slave open", "pty data queued both ways", "pty settings changed", "hung-up terminal", "stream with two modules",
            "ldterm holding a partial line", "frozen stream with queued blocks", "stream bytes unread", "exited process",
        }.Where(kind => reached.GetValueOrDefault(kind) < 10).ToList();
        Assert.True(missing.Count == 0, $"fewer than 10 of 400 images had: {string.Join("; ", missing)} (reached: {string.Join("; ", reached.Select(e => $"{e.Key} {e.Value}"))})");
    }

    [Fact]
    public void Checkpoint_and_restart_under_another_name_keeps_everything_but_the_name_and_migration_frees_the_source()
    {
        Gen.Select(GuestCall.Any.Array[1, 120], Gen.Int[0, 2]).Sample((calls, neighbours) =>
        {
            var source = new GuestKernel(KernelIdentity.For("vios1"));
            var wpar = source.CreateWpar("web").Value;
            var programs = new GuestPrograms();
            programs.Start(wpar);
            foreach (var call in calls) programs.Run(wpar, call);
            var seen = source.View(wpar.Id);
            var target = OtherNode(neighbours);
            var targetWparsBefore = target.ListWpars().Length;

            var migration = GuestKernel.Migrate(source, wpar.Id, target, new RestartOptions(Name: "web-moved"));

            var restarted = Assert.IsType<WparRestarted>(migration.Result);
            Assert.Equal("web-moved", restarted.Name);
            AssertSameView(seen with { Name = "web-moved" }, target.View(restarted.WparId));
            Assert.Null(source.FindWpar(wpar.Id));
            Assert.Empty(source.ListWpars());
            Assert.Equal(targetWparsBefore + 1, target.ListWpars().Length);
            Assert.Equal(migration.SourceRealIds.Length, migration.TargetRealIds.Length);
        }, iter: 100);
    }

    [Fact]
    public void A_wpar_restarted_twice_from_one_image_gives_two_independent_copies()
    {
        var source = new GuestKernel(KernelIdentity.Default);
        var session = ScriptedSession.Run(source).Value;
        var image = source.Checkpoint(session.WparId);
        var target = OtherNode(0);

        var first = Assert.IsType<WparRestarted>(target.Restart(image, new RestartOptions("copy1")));
        var second = Assert.IsType<WparRestarted>(target.Restart(image, new RestartOptions("copy2")));
        var one = target.Wpar(first.WparId);
        var two = target.Wpar(second.WparId);

        // Same virtual ids in both, different real objects: a message taken in one is still queued in the other.
        Assert.Equal(session.MessageQueue, target.View(one.Id).MessageQueues[0].Id);
        Assert.Equal(session.MessageQueue, target.View(two.Id).MessageQueues[0].Id);
        Assert.Equal("order 1001: 3 widgets", Text(one.MessageReceive(session.OrderDaemon, session.MessageQueue, 0, 1024).Value.Data));
        Assert.Equal(3, target.View(two.Id).MessageQueues[0].Messages.Count);
        Assert.Equal(2, target.View(one.Id).MessageQueues[0].Messages.Count);
        Assert.DoesNotContain(target.RealIds(one.Id), m => target.RealIds(two.Id).Contains(m));
    }

    [Fact]
    public void The_scripted_session_holds_each_kind_of_state_and_survives_a_move()
    {
        var source = new GuestKernel(KernelIdentity.For("vios1"));
        var session = ScriptedSession.Run(source).Value;
        var view = source.View(session.WparId);

        Assert.Equal(3, view.MessageQueues[0].Messages.Count);
        Assert.Equal(0, view.PosixSemaphores[0].Value);
        Assert.Equal(ScriptedSession.LockName, view.PosixSemaphores[0].Name);
        Assert.Equal(new WindowSize(40, 120), view.Ptys[0].Settings.Window);
        Assert.Equal("cat /etc/mot", Text(view.Ptys[0].ToSlave));
        Assert.Equal("ls -l\r\ntotal 0\r\n$ cat /etc/mot", Text(view.Ptys[0].ToMaster));
        Assert.Equal(["ldterm", "toupper"], view.Streams[0].Modules.Select(m => m.Identity));
        Assert.Equal("partial", Text(view.Streams[0].Modules[0].State));
        Assert.Equal("HELLO WORLD\n", Text(view.Streams[0].Readable));
        Assert.Equal(6, session.Steps.Length);

        var target = new GuestKernel(KernelIdentity.For("vios2"));
        var moved = Assert.IsType<WparRestarted>(GuestKernel.Migrate(source, session.WparId, target).Result);
        var wpar = target.Wpar(moved.WparId);
        AssertSameView(view, target.View(moved.WparId));

        // The half-typed command completes on the new node and the shell reads the whole line.
        Assert.Equal(2, wpar.Write(session.Telnetd, session.Master.Fd, "d\r"u8).Value);
        Assert.Equal("cat /etc/motd\n", Text(wpar.Read(session.Shell, session.SlaveFd, 256).Value));
        Assert.Equal("order 1001: 3 widgets", Text(wpar.MessageReceive(session.OrderDaemon, session.MessageQueue, 1, 1024).Value.Data));
        wpar.Write(session.OrderDaemon, session.StreamFd, "ly\n"u8);
        Assert.Equal("HELLO WORLD\nPARTIALLY\n", Text(wpar.Read(session.OrderDaemon, session.StreamFd, 256).Value));
    }

    internal static string Text(ByteString bytes) => System.Text.Encoding.UTF8.GetString(bytes.Span);
}
