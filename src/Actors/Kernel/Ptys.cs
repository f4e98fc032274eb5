using System.Runtime.InteropServices;

namespace Vios.Actors.Kernel;

/// <summary>Input modes of a terminal (the <c>c_iflag</c> bits this model implements).</summary>
[Flags]
public enum TerminalInputFlags : uint
{
    None = 0,

    /// <summary>ICRNL: a carriage return typed on the master reaches the slave as a newline.</summary>
    MapCrToNewline = 1,

    /// <summary>IGNCR: carriage returns typed on the master are dropped.</summary>
    IgnoreCr = 2,
}

/// <summary>Output modes (<c>c_oflag</c>).</summary>
[Flags]
public enum TerminalOutputFlags : uint
{
    None = 0,

    /// <summary>OPOST: output processing on.</summary>
    PostProcess = 1,

    /// <summary>ONLCR: with OPOST, a newline written on the slave reaches the master as CR NL.</summary>
    MapNewlineToCrNewline = 2,
}

/// <summary>Local modes (<c>c_lflag</c>).</summary>
[Flags]
public enum TerminalLocalFlags : uint
{
    None = 0,

    /// <summary>ECHO: input is echoed back to the master.</summary>
    Echo = 1,

    /// <summary>ICANON: the slave reads whole lines, and the erase and kill characters edit the line.</summary>
    Canonical = 2,

    /// <summary>ECHOE: an erase is echoed as backspace, space, backspace.</summary>
    EchoErase = 4,
}

/// <summary>The window size a terminal reports (TIOCGWINSZ).</summary>
public readonly record struct WindowSize(ushort Rows, ushort Columns)
{
    public override string ToString() => $"{Rows}x{Columns}";
}

/// <summary>The control characters of a terminal (<c>c_cc</c>) this model acts on or keeps.</summary>
public readonly record struct ControlCharacters(byte Interrupt, byte Quit, byte Erase, byte Kill, byte EndOfFile)
{
    /// <summary>^C, ^\, DEL, ^U, ^D.</summary>
    public static ControlCharacters Default { get; } = new(0x03, 0x1C, 0x7F, 0x15, 0x04);
}

/// <summary>Terminal settings, termios-like: what <c>tcgetattr</c> returns and <c>tcsetattr</c> sets.</summary>
public sealed record TerminalSettings(
    TerminalInputFlags Input, TerminalOutputFlags Output, TerminalLocalFlags Local, int Speed, WindowSize Window, ControlCharacters Characters)
{
    /// <summary>A login terminal: ICRNL, OPOST|ONLCR, ECHO|ICANON|ECHOE, 38400 baud, 24x80.</summary>
    public static TerminalSettings Default { get; } = new(
        TerminalInputFlags.MapCrToNewline,
        TerminalOutputFlags.PostProcess | TerminalOutputFlags.MapNewlineToCrNewline,
        TerminalLocalFlags.Echo | TerminalLocalFlags.Canonical | TerminalLocalFlags.EchoErase,
        38400,
        new WindowSize(24, 80),
        ControlCharacters.Default);

    /// <summary>Raw mode: no processing, no echo, byte-at-a-time reads.</summary>
    public static TerminalSettings Raw { get; } = Default with
    {
        Input = TerminalInputFlags.None, Output = TerminalOutputFlags.None, Local = TerminalLocalFlags.None,
    };

    internal const TerminalInputFlags KnownInput = TerminalInputFlags.MapCrToNewline | TerminalInputFlags.IgnoreCr;
    internal const TerminalOutputFlags KnownOutput = TerminalOutputFlags.PostProcess | TerminalOutputFlags.MapNewlineToCrNewline;
    internal const TerminalLocalFlags KnownLocal = TerminalLocalFlags.Echo | TerminalLocalFlags.Canonical | TerminalLocalFlags.EchoErase;

    /// <summary>Why these settings cannot be set, or null.</summary>
    internal string? Problem() =>
        (Input & ~KnownInput) != 0 ? $"unknown input flags 0x{(uint)(Input & ~KnownInput):x}"
        : (Output & ~KnownOutput) != 0 ? $"unknown output flags 0x{(uint)(Output & ~KnownOutput):x}"
        : (Local & ~KnownLocal) != 0 ? $"unknown local flags 0x{(uint)(Local & ~KnownLocal):x}"
        : Speed is < 0 or > 4_000_000 ? $"speed {Speed} is out of range"
        : null;
}

/// <summary>
/// One pseudo-terminal device of the kernel: a master (<c>/dev/ptc</c>) and slave (<c>/dev/pts/N</c>)
/// pair with a queue in each direction and the line discipline between them.
/// </summary>
internal sealed class Pty(int realNumber)
{
    /// <summary>Bytes a queue holds before writes are refused and echo is dropped (MAX_INPUT); output may pass it by the 3 bytes of one echoed erase.</summary>
    public const int QueueLimit = 4096;

    public int RealNumber { get; } = realNumber;

    public TerminalSettings Settings { get; set; } = TerminalSettings.Default;

    /// <summary>Input: typed on the master, read on the slave.</summary>
    public List<byte> ToSlave { get; } = [];

    /// <summary>Output: written on the slave (and echo), read on the master.</summary>
    public List<byte> ToMaster { get; } = [];

    public bool MasterOpen { get; set; }

    public int SlaveOpens { get; set; }

    /// <summary>Types <paramref name="data"/> on the master; returns the bytes taken (fewer when the input queue fills).</summary>
    public int WriteMaster(ReadOnlySpan<byte> data)
    {
        var taken = 0;
        var canonical = (Settings.Local & TerminalLocalFlags.Canonical) != 0;
        var echo = (Settings.Local & TerminalLocalFlags.Echo) != 0;
        foreach (var typed in data)
        {
            var b = typed;
            if (b == '\r' && (Settings.Input & TerminalInputFlags.IgnoreCr) != 0)
            {
                taken++;
                continue;
            }
            if (b == '\r' && (Settings.Input & TerminalInputFlags.MapCrToNewline) != 0) b = (byte)'\n';

            if (canonical && b == Settings.Characters.Erase)
            {
                if (PartialLineLength() > 0)
                {
                    ToSlave.RemoveAt(ToSlave.Count - 1);
                    if (echo && (Settings.Local & TerminalLocalFlags.EchoErase) != 0 && ToMaster.Count < QueueLimit) ToMaster.AddRange("\b \b"u8);
                }
                taken++;
                continue;
            }
            if (canonical && b == Settings.Characters.Kill)
            {
                ToSlave.RemoveRange(ToSlave.Count - PartialLineLength(), PartialLineLength());
                if (echo) Echo(b);
                taken++;
                continue;
            }

            if (ToSlave.Count >= QueueLimit) break;
            ToSlave.Add(b);
            if (echo) Echo(b);
            taken++;
        }
        return taken;
    }

    /// <summary>Writes <paramref name="data"/> on the slave, with output processing; returns the bytes taken.</summary>
    public int WriteSlave(ReadOnlySpan<byte> data)
    {
        var taken = 0;
        foreach (var b in data)
        {
            if (ToMaster.Count >= QueueLimit) break;
            Output(b);
            taken++;
        }
        return taken;
    }

    /// <summary>What a read on the slave returns: a whole line in canonical mode; null when it would block.</summary>
    public ByteString? ReadSlave(int max)
    {
        int count;
        if ((Settings.Local & TerminalLocalFlags.Canonical) != 0)
        {
            var newline = ToSlave.IndexOf((byte)'\n');
            if (newline < 0) return null;
            count = Math.Min(max, newline + 1);
        }
        else
        {
            if (ToSlave.Count == 0) return null;
            count = Math.Min(max, ToSlave.Count);
        }
        return Take(ToSlave, count);
    }

    /// <summary>What a read on the master returns; null when it would block.</summary>
    public ByteString? ReadMaster(int max) => ToMaster.Count == 0 ? null : Take(ToMaster, Math.Min(max, ToMaster.Count));

    private static ByteString Take(List<byte> queue, int count)
    {
        var bytes = ByteString.Of(CollectionsMarshal.AsSpan(queue)[..count]);
        queue.RemoveRange(0, count);
        return bytes;
    }

    // Echo is dropped while the output queue is full, so the queue stays within a few bytes of its
    // limit however long the master goes without reading.
    private void Echo(byte b)
    {
        if (ToMaster.Count < QueueLimit) Output(b);
    }

    private void Output(byte b)
    {
        if (b == '\n' && (Settings.Output & (TerminalOutputFlags.PostProcess | TerminalOutputFlags.MapNewlineToCrNewline))
            == (TerminalOutputFlags.PostProcess | TerminalOutputFlags.MapNewlineToCrNewline))
        {
            ToMaster.Add((byte)'\r');
        }
        ToMaster.Add(b);
    }

    private int PartialLineLength() => ToSlave.Count - (ToSlave.LastIndexOf((byte)'\n') + 1);
}

/// <summary>The kernel's pty devices by real number: the lowest free number at or above the identity's first.</summary>
internal sealed class PtyTable(int first)
{
    /// <summary>Pty devices a kernel has at most.</summary>
    public const int MaxPtys = 1 << 16;

    private readonly SortedDictionary<int, Pty> _devices = [];
    private readonly SortedSet<int> _freed = [];
    private int _nextUnused = Math.Max(0, first);

    public int Count => _devices.Count;

    public bool HasRoom(int more) => _devices.Count + more <= MaxPtys;

    public Pty? Get(int realNumber) => _devices.GetValueOrDefault(realNumber);

    public Pty? Allocate()
    {
        if (!HasRoom(1)) return null;
        int number;
        if (_freed.Count > 0)
        {
            number = _freed.Min;
            _freed.Remove(number);
        }
        else
        {
            number = _nextUnused++;
        }
        var pty = new Pty(number);
        _devices.Add(number, pty);
        return pty;
    }

    public void Free(Pty pty)
    {
        if (_devices.Remove(pty.RealNumber)) _freed.Add(pty.RealNumber);
    }
}

/// <summary>
/// S6: the list of open pty slave devices, kept while a restarting WPAR's descriptors are reopened
/// from its checkpoint in whatever order they come. A slave reopened before its master gets a
/// device that waits in this list, marked open; the master, when it is reopened, looks its number
/// up here and takes over that device instead of allocating another. A slave reopened after its
/// master finds the device through the WPAR's pty numbers and is added to the list, marked open.
/// Either way master and slave end up on one device.
/// </summary>
internal sealed class OpenSlaveList
{
    private readonly Dictionary<long, Entry> _entries = [];

    private sealed class Entry(Pty device)
    {
        public Pty Device { get; } = device;

        public int SlavesOpen { get; set; }

        public bool MasterFound { get; set; }
    }

    /// <summary>Marks one more open slave of pty <paramref name="number"/>, on <paramref name="device"/> if its master is already back.</summary>
    public Pty AddSlave(long number, Pty? device, Func<Pty> allocate)
    {
        if (!_entries.TryGetValue(number, out var entry))
        {
            entry = new Entry(device ?? allocate()) { MasterFound = device is not null };
            _entries.Add(number, entry);
        }
        entry.SlavesOpen++;
        return entry.Device;
    }

    /// <summary>The device a slave of pty <paramref name="number"/> reopened earlier is waiting on, or null.</summary>
    public Pty? FindForMaster(long number)
    {
        if (!_entries.TryGetValue(number, out var entry)) return null;
        entry.MasterFound = true;
        return entry.Device;
    }

    /// <summary>Pty numbers with a slave open whose master never came back (none after a validated image).</summary>
    public IEnumerable<long> WithoutMaster() => _entries.Where(e => !e.Value.MasterFound).Select(e => e.Key).Order();
}
