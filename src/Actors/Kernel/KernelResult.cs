namespace Vios.Actors.Kernel;

/// <summary>Why a guest kernel call failed, as the errno a guest process would see.</summary>
public enum Errno
{
    /// <summary>ENOENT: no object with that key, name, id or number.</summary>
    NoEntry,

    /// <summary>EEXIST: create-exclusive of a key or name that exists.</summary>
    Exists,

    /// <summary>EINVAL: an argument out of range, or an id the WPAR does not have.</summary>
    Invalid,

    /// <summary>EACCES / EPERM: the process's uid and gid do not allow it.</summary>
    Access,

    /// <summary>EAGAIN: the call would block (a full queue, a semaphore at zero, no data).</summary>
    Again,

    /// <summary>ENOSPC: the kernel's table for that kind of object is full.</summary>
    NoSpace,

    /// <summary>EBADF: no such descriptor, or one of another kind.</summary>
    BadDescriptor,

    /// <summary>E2BIG / EMSGSIZE: a message larger than the receiver's buffer or the queue's limit.</summary>
    TooBig,

    /// <summary>ENOMSG: no message of the requested type.</summary>
    NoMessage,

    /// <summary>ERANGE: a semaphore value would leave its range.</summary>
    Range,

    /// <summary>EIDRM: the object is marked for removal.</summary>
    Removed,

    /// <summary>EIO: the terminal was hung up.</summary>
    InputOutput,

    /// <summary>ESRCH: no such process in the WPAR, or it has exited.</summary>
    NoProcess,
}

/// <summary>A failed guest kernel call: the errno and a sentence naming what was wrong (in the WPAR's ids).</summary>
public sealed record KernelError(Errno Errno, string Message)
{
    public override string ToString() => $"{Errno}: {Message}";
}

/// <summary>
/// The outcome of a guest kernel call: a value, or the <see cref="KernelError"/> a process sees.
/// Failures are ordinary results here (a full queue is not exceptional), so they are returned, not thrown.
/// </summary>
public readonly struct KernelResult<T> : IEquatable<KernelResult<T>>
{
    private readonly T _value;

    private KernelResult(T value, KernelError? error) => (_value, Error) = (value, error);

    /// <summary>Null when the call succeeded.</summary>
    public KernelError? Error { get; }

    public bool Ok => Error is null;

    /// <summary>The value; reading it after a failure is a programming error.</summary>
    public T Value => Error is null ? _value : throw new InvalidOperationException($"the call failed: {Error}");

    public static implicit operator KernelResult<T>(T value) => new(value, null);

    public static implicit operator KernelResult<T>(KernelError error) => new(default!, error ?? throw new ArgumentNullException(nameof(error)));

    public bool Equals(KernelResult<T> other) =>
        Equals(Error, other.Error) && (Error is not null || EqualityComparer<T>.Default.Equals(_value, other._value));

    public override bool Equals(object? obj) => obj is KernelResult<T> other && Equals(other);

    public override int GetHashCode() => Error is null ? HashCode.Combine(_value) : Error.GetHashCode();

    public static bool operator ==(KernelResult<T> left, KernelResult<T> right) => left.Equals(right);

    public static bool operator !=(KernelResult<T> left, KernelResult<T> right) => !left.Equals(right);

    public override string ToString() => Error is null ? $"ok {_value}" : Error.ToString();
}

/// <summary>The value of a call that returns nothing but success.</summary>
public readonly record struct Done
{
    public override string ToString() => "done";
}

internal static class Fail
{
    public static KernelError With(Errno errno, string message) => new(errno, message);
}
