namespace Vios.Actors.Kernel;

public sealed partial class Wpar
{
    /// <summary>Opens the loopback stream device: a new stream with no modules; returns its descriptor.</summary>
    public KernelResult<int> OpenStream(int pid)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (process.LowestFreeDescriptor() < 0) return Fail.With(Errno.NoSpace, $"process {pid} has {GuestProcess.MaxDescriptors} descriptors open");
        var stream = _kernel.NewStream();
        StreamIds.Map(stream.RealId);
        AddDescriptor(process, new StreamDescriptor(stream), out var fd, out _);
        return fd;
    }

    /// <summary>I_PUSH: the module named <paramref name="identity"/> goes right below the stream head.</summary>
    public KernelResult<Done> PushModule(int pid, int fd, string identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindStream(process, fd, out var stream, out error)) return error;
        if (!_kernel.Modules.TryCreate(identity, out var module)) return Fail.With(Errno.Invalid, $"no STREAMS module {identity}");
        if (stream.Frozen) return Fail.With(Errno.Again, $"stream {StreamIds.Virtual(stream.RealId)} is frozen");
        if (!stream.Push(module)) return Fail.With(Errno.Invalid, $"stream {StreamIds.Virtual(stream.RealId)} holds {StreamHead.MaxModules} modules");
        return new Done();
    }

    /// <summary>I_POP: removes the top module (and its state); returns its identity.</summary>
    public KernelResult<string> PopModule(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindStream(process, fd, out var stream, out error)) return error;
        if (stream.Modules.Count == 0) return Fail.With(Errno.Invalid, $"stream {StreamIds.Virtual(stream.RealId)} has no module");
        return stream.Pop() is { } popped ? popped.Identity : Fail.With(Errno.Again, $"stream {StreamIds.Virtual(stream.RealId)} is frozen or has blocks queued");
    }

    /// <summary>I_STR: a control command for the modules ("flush", "reset", "upper", "lower", "off").</summary>
    public KernelResult<Done> StreamControl(int pid, int fd, string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindStream(process, fd, out var stream, out error)) return error;
        if (command.Length is < 1 or > 64) return Fail.With(Errno.Invalid, "a control command has 1 to 64 characters");
        stream.Control(command);
        return new Done();
    }

    /// <summary>The identities of the stream's modules, top first (I_LIST).</summary>
    public KernelResult<EquatableArray<string>> ListModules(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindStream(process, fd, out var stream, out error)) return error;
        return EquatableArray.From(stream.Modules.Select(m => m.Identity));
    }

    /// <summary>S10: freezes the stream as a checkpoint does; blocks written stay queued until <see cref="ThawStream"/>.</summary>
    public KernelResult<Done> FreezeStream(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindStream(process, fd, out var stream, out error)) return error;
        stream.Freeze();
        return new Done();
    }

    /// <summary>Thaws the stream: queued blocks flow on.</summary>
    public KernelResult<Done> ThawStream(int pid, int fd)
    {
        if (!Enter(pid, out var process, out var error)) return error;
        if (!FindStream(process, fd, out var stream, out error)) return error;
        stream.Thaw();
        return new Done();
    }

    private static bool FindStream(GuestProcess process, int fd, out StreamHead stream, out KernelError error)
    {
        if (process.Descriptors.GetValueOrDefault(fd) is StreamDescriptor descriptor)
        {
            (stream, error) = (descriptor.Stream, null!);
            return true;
        }
        (stream, error) = (null!, Fail.With(Errno.BadDescriptor, $"descriptor {fd} is not a stream"));
        return false;
    }
}
