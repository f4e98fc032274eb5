using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Vios.Actors.Storage;

/// <summary>What a compare-and-write found: it wrote, or the sector held something else (returned).</summary>
public readonly record struct AtsResult(bool Written, byte[] Found);

/// <summary>
/// A storage unit's metadata file, opened once per process and shared by every user in it: whole
/// sectors read and written at their offsets, and ATS, the short disk-level lock hosts coordinate
/// through (SCSI COMPARE AND WRITE: the sector is replaced only if it still holds what the caller
/// read, atomically with respect to every other host). Across processes the atomicity is a
/// byte-range lock on the sector (<c>fcntl</c> F_SETLK, which .NET's <see cref="FileStream.Lock"/>
/// takes); those locks belong to the process, so within one a lock object per sector does the same,
/// and the file is never opened twice by a process (closing any descriptor of a file drops every
/// lock the process holds on it). No single actor owns a unit: each host works on it as hosts on a
/// SAN do.
/// </summary>
public sealed class SectorFile : IDisposable
{
    private static readonly ConcurrentDictionary<string, SectorFile> Open = new(StringComparer.Ordinal);
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(2);

    private readonly FileStream _stream;
    private readonly SafeFileHandle _handle;
    private readonly ConcurrentDictionary<long, object> _sectorLocks = new();
    private int _users;

    private SectorFile(string path, long minimumLength)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0, FileOptions.RandomAccess);
        _handle = _stream.SafeFileHandle;
        if (_stream.Length < minimumLength) _stream.SetLength(minimumLength);
    }

    public string Path { get; }

    /// <summary>The file at <paramref name="path"/>, opened or shared; each call needs one <see cref="Dispose"/>.</summary>
    public static SectorFile OpenShared(string path, long minimumLength)
    {
        var full = System.IO.Path.GetFullPath(path);
        lock (Open)
        {
            var file = Open.GetOrAdd(full, p => new SectorFile(p, minimumLength));
            file._users++;
            return file;
        }
    }

    public long Length => RandomAccess.GetLength(_handle);

    /// <summary>Reads the sector at <paramref name="offset"/>; past the end of a truncated file it is short, which the sector's reader reports.</summary>
    public byte[] Read(long offset)
    {
        var sector = new byte[UnitLayout.SectorSize];
        var read = RandomAccess.Read(_handle, sector, offset);
        return read == sector.Length ? sector : sector[..read];
    }

    /// <summary>Writes a whole sector (only under the sector's lock: <see cref="CompareAndWrite"/>, or a heartbeat slot this host owns).</summary>
    public void Write(long offset, ReadOnlySpan<byte> sector)
    {
        if (sector.Length != UnitLayout.SectorSize) throw new ArgumentException($"a sector is {UnitLayout.SectorSize} bytes; got {sector.Length}", nameof(sector));
        RandomAccess.Write(_handle, sector, offset);
    }

    /// <summary>
    /// ATS: replaces the sector at <paramref name="offset"/> with <paramref name="replacement"/> if it
    /// still holds <paramref name="expected"/>, under the sector's lock; otherwise returns what it holds
    /// (SCSI's miscompare, 0Eh 1Dh/00h). Waits up to 2 s for a sector another host holds locked.
    /// </summary>
    public AtsResult CompareAndWrite(long offset, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> replacement)
    {
        if (OperatingSystem.IsMacOS()) throw new PlatformNotSupportedException("storage units need byte-range file locks, which .NET does not offer on macOS");
        lock (_sectorLocks.GetOrAdd(offset, _ => new object()))
        {
            LockRange(offset);
            try
            {
                var current = Read(offset);
                if (!current.AsSpan().SequenceEqual(expected)) return new AtsResult(false, current);
                Write(offset, replacement);
                return new AtsResult(true, replacement.ToArray());
            }
            finally
            {
                _stream.Unlock(offset, UnitLayout.SectorSize);
            }
        }
    }

    private void LockRange(long offset)
    {
        if (OperatingSystem.IsMacOS()) throw new PlatformNotSupportedException("storage units need byte-range file locks");
        var waited = Stopwatch.StartNew();
        var delay = 1;
        while (true)
        {
            try
            {
                _stream.Lock(offset, UnitLayout.SectorSize);
                return;
            }
            catch (IOException) when (waited.Elapsed < LockWait)
            {
                // Another process holds the sector for its compare-and-write, which takes microseconds.
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 20);
            }
            catch (IOException e)
            {
                throw new IOException($"{Path}: the sector at 0x{offset:x} stayed locked by another host for {LockWait.TotalSeconds:0} s: {e.Message}", e);
            }
        }
    }

    public void Dispose()
    {
        lock (Open)
        {
            if (--_users > 0) return;
            Open.TryRemove(Path, out _);
            _stream.Dispose();
        }
    }
}
