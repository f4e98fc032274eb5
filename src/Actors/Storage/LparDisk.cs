namespace Vios.Actors.Storage;

/// <summary>
/// The disk an LPAR uses: the top of a stack of devices, a base <see cref="VirtualDisk"/> and the
/// copy-on-write layers put over it at checkpoints. The guest's I/O goes to <see cref="Top"/>.
/// </summary>
/// <remarks>
/// <see cref="SwitchTo"/> (S24: the stopped VM "is switched to use the COW disk file") waits for I/O
/// under way to finish, so a write that returned before it is in the parent and a write that starts
/// after it is in the layer: the parent the checkpoint retains holds no write made after the switch.
/// The stack does not own its devices; whoever opened them closes them.
/// </remarks>
public sealed class LparDisk : IDisposable
{
    // Guest I/O holds it shared; a switch holds it exclusively. Readers do not wait for each other.
    private readonly ReaderWriterLockSlim _switch = new(LockRecursionPolicy.NoRecursion);
    private IBlockDevice _top;

    public LparDisk(IBlockDevice disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        _top = disk;
    }

    /// <summary>The device the guest's I/O goes to now.</summary>
    public IBlockDevice Top => Volatile.Read(ref _top);

    public long BlockCount => Top.BlockCount;

    public void Read(long block, Span<byte> destination)
    {
        _switch.EnterReadLock();
        try
        {
            _top.Read(block, destination);
        }
        finally
        {
            _switch.ExitReadLock();
        }
    }

    public void Write(long block, ReadOnlySpan<byte> source)
    {
        _switch.EnterReadLock();
        try
        {
            _top.Write(block, source);
        }
        finally
        {
            _switch.ExitReadLock();
        }
    }

    public void Flush()
    {
        _switch.EnterReadLock();
        try
        {
            _top.Flush();
        }
        finally
        {
            _switch.ExitReadLock();
        }
    }

    /// <summary>
    /// Sends the guest's I/O to <paramref name="layer"/> from now on (S24 step 5). The current top is
    /// flushed first: it becomes the checkpoint's disk, so all it was given must be durable.
    /// </summary>
    /// <exception cref="ArgumentException">The layer was not created over the current top.</exception>
    public void SwitchTo(CowDiskLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        _switch.EnterWriteLock();
        try
        {
            if (!ReferenceEquals(layer.Parent, _top))
            {
                throw new ArgumentException(
                    $"the layer {layer.Path} sits on {layer.Parent.Path}, not on {_top.Path}, which this LPAR's disk uses now",
                    nameof(layer));
            }

            _top.Flush();
            Volatile.Write(ref _top, layer);
        }
        finally
        {
            _switch.ExitWriteLock();
        }
    }

    /// <summary>
    /// Commits the top layer into its parent and makes the parent the top again, with I/O held off
    /// meanwhile. Returns the layer, now redundant, for the caller to close and delete.
    /// </summary>
    /// <exception cref="InvalidOperationException">The top is not a copy-on-write layer.</exception>
    public CowDiskLayer CommitTop()
    {
        _switch.EnterWriteLock();
        try
        {
            if (_top is not CowDiskLayer layer)
            {
                throw new InvalidOperationException($"{_top.Path} is the base disk: there is no copy-on-write layer to commit");
            }

            layer.CommitInto(layer.Parent);
            Volatile.Write(ref _top, layer.Parent);
            return layer;
        }
        finally
        {
            _switch.ExitWriteLock();
        }
    }

    /// <summary>Releases the switch lock; the devices stay open.</summary>
    public void Dispose() => _switch.Dispose();
}
