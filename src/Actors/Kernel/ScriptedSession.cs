using System.Collections.Immutable;

namespace Vios.Actors.Kernel;

/// <summary>
/// A demo WPAR set up by <see cref="ScriptedSession.Run"/>: a login on a pty, an order queue, a lock, a
/// stream. <paramref name="Steps"/> says what was done, in the WPAR's ids.
/// </summary>
public sealed record ScriptedSessionResult(
    int WparId, string Name, int Telnetd, int Shell, int OrderDaemon, PtyOpened Master, int SlaveFd, int MessageQueue, long Semaphore, int StreamFd, ImmutableArray<string> Steps);

/// <summary>Sets up a WPAR with something in every kind of kernel state, for demos and the <c>wpar</c> palette.</summary>
public static class ScriptedSession
{
    /// <summary>System V key of the demo's order queue ("OR").</summary>
    public const int OrderQueueKey = 0x4F52;

    public const string LockName = "/demo.lock";

    /// <summary>
    /// Creates WPAR <paramref name="name"/> on <paramref name="kernel"/> and runs a short session in it:
    /// telnetd opens a pty and a shell its slave (window 40x120); a command is typed and answered, and
    /// a second command is half typed; an order daemon fills a System V queue with three messages and
    /// holds a POSIX semaphore; a stream with ldterm over toupper has one line through and a partial
    /// line buffered. Fails (with the call's error) only if the name is taken or not a name.
    /// </summary>
    public static KernelResult<ScriptedSessionResult> Run(GuestKernel kernel, string name = "demo")
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var created = kernel.CreateWpar(name);
        if (!created.Ok) return created.Error!;
        var wpar = created.Value;
        var steps = ImmutableArray.CreateBuilder<string>();

        var telnetd = wpar.Spawn(0, 0, "telnetd").Value;
        var shell = wpar.Spawn(100, 100, "ksh").Value;
        var orders = wpar.Spawn(100, 100, "orderd").Value;
        steps.Add($"spawned telnetd (pid {telnetd}), ksh (pid {shell}, uid 100) and orderd (pid {orders}, uid 100)");

        var master = wpar.OpenPtyMaster(telnetd).Value;
        var slave = wpar.OpenPtySlave(shell, master.Number).Value;
        var settings = wpar.GetTerminalSettings(telnetd, master.Fd).Value;
        wpar.SetTerminalSettings(telnetd, master.Fd, settings with { Window = new WindowSize(40, 120) });
        steps.Add($"telnetd opened /dev/ptc (fd {master.Fd}), ksh opened {master.SlavePath} (fd {slave}); window 40x120");

        wpar.Write(telnetd, master.Fd, "ls -l\r"u8);
        var line = wpar.Read(shell, slave, 256).Value;
        wpar.Write(shell, slave, "total 0\n$ "u8);
        wpar.Write(telnetd, master.Fd, "cat /etc/mot"u8);
        steps.Add($"typed \"ls -l\", ksh read {line} and answered; \"cat /etc/mot\" typed, not yet entered; the echo and answer wait for telnetd");

        var queue = wpar.MessageQueueGet(orders, OrderQueueKey, IpcCreate.Create, 0x1B0).Value;
        wpar.MessageSend(orders, queue, 1, "order 1001: 3 widgets"u8);
        wpar.MessageSend(orders, queue, 2, "cancel 0999"u8);
        wpar.MessageSend(orders, queue, 1, "order 1002: 1 gadget"u8);
        steps.Add($"orderd created message queue {queue} (key 0x{OrderQueueKey:x}, mode 0660) holding 3 messages");

        var semaphore = wpar.PosixSemaphoreOpen(orders, LockName, IpcCreate.Create, 0x1B0, 1).Value;
        wpar.PosixSemaphoreTryWait(orders, semaphore);
        steps.Add($"orderd created POSIX semaphore {LockName} (handle {semaphore}) and took it: value 0");

        var stream = wpar.OpenStream(orders).Value;
        wpar.PushModule(orders, stream, "toupper");
        wpar.PushModule(orders, stream, "ldterm");
        wpar.Write(orders, stream, "hello world\n"u8);
        wpar.Write(orders, stream, "partial"u8);
        steps.Add($"orderd opened a stream (fd {stream}) with ldterm over toupper: \"HELLO WORLD\\n\" waits to be read, \"partial\" is buffered in ldterm");

        return new ScriptedSessionResult(wpar.Id, wpar.Name, telnetd, shell, orders, master, slave, queue, semaphore, stream, steps.ToImmutable());
    }
}
