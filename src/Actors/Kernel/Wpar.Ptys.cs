namespace Vios.Actors.Kernel;

/// <summary>What opening <c>/dev/ptc</c> gives: the master's descriptor and the pty number of its slave (<c>/dev/pts/N</c>).</summary>
public sealed record PtyOpened(int Fd, int Number)
{
    public string SlavePath => $"/dev/pts/{Number}";
}

public sealed partial class Wpar
{
    /// <summary>open("/dev/ptc"): a new pty; its number is the lowest free in this WPAR's <c>/dev/pts</c>.</summary>
    public KernelResult<PtyOpened> OpenPtyMaster(int pid)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (process.LowestFreeDescriptor() < 0) return Fail.With(Errno.NoSpace, $"process {pid} has {GuestProcess.MaxDescriptors} descriptors open");
        if (_kernel.Ptys.Allocate() is not { } pty) return Fail.With(Errno.NoSpace, $"the kernel has {PtyTable.MaxPtys} ptys");
        pty.MasterOpen = true;
        var number = (int)PtyNumbers.Map(pty.RealNumber);
        AddDescriptor(process, new PtyMasterDescriptor(pty), out var fd, out _);
        return new PtyOpened(fd, number);
    }

    /// <summary>open("/dev/pts/N"): the slave of a pty whose master is open.</summary>
    public KernelResult<int> OpenPtySlave(int pid, int number)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!PtyNumbers.TryReal(number, out var real) || _kernel.Ptys.Get((int)real) is not { } pty)
            return Fail.With(Errno.NoEntry, $"no /dev/pts/{number}");
        if (!AddDescriptor(process, new PtySlaveDescriptor(pty), out var fd, out error)) return error;
        pty.SlaveOpens++;
        return fd;
    }

    /// <summary>tcgetattr and TIOCGWINSZ, on either end.</summary>
    public KernelResult<TerminalSettings> GetTerminalSettings(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        return TerminalOf(process, fd, out var pty, out error) ? pty.Settings : error;
    }

    /// <summary>tcsetattr and TIOCSWINSZ, on either end: takes effect for bytes written after it.</summary>
    public KernelResult<Done> SetTerminalSettings(int pid, int fd, TerminalSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!Enter(pid, out var process, out var error)) return error;
        if (!TerminalOf(process, fd, out var pty, out error)) return error;
        if (settings.Problem() is { } problem) return Fail.With(Errno.Invalid, problem);
        pty.Settings = settings;
        return new Done();
    }

    private static bool TerminalOf(GuestProcess process, int fd, out Pty pty, out KernelError error)
    {
        switch (process.Descriptors.GetValueOrDefault(fd))
        {
            case PtyMasterDescriptor master:
                (pty, error) = (master.Pty, null!);
                return true;
            case PtySlaveDescriptor slave:
                (pty, error) = (slave.Pty, null!);
                return true;
            case null:
                (pty, error) = (null!, BadDescriptor(fd));
                return false;
            default:
                (pty, error) = (null!, Fail.With(Errno.Invalid, $"descriptor {fd} is not a terminal"));
                return false;
        }
    }

    private int PtyNumber(Pty pty) => (int)PtyNumbers.Virtual(pty.RealNumber);

    // The last master closed: every slave descriptor of the pty in the WPAR is hung up, and the
    // device and its number are free again.
    private void HangUp(Pty pty)
    {
        pty.MasterOpen = false;
        foreach (var process in Processes())
        {
            foreach (var (fd, descriptor) in process.Descriptors.ToList())
            {
                if (descriptor is PtySlaveDescriptor slave && slave.Pty == pty) process.Descriptors[fd] = new HungUpDescriptor();
            }
        }
        pty.SlaveOpens = 0;
        PtyNumbers.Unmap(PtyNumber(pty));
        _kernel.Ptys.Free(pty);
    }
}
