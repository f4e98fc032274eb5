using System.Text;
using CsCheck;
using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// A guest kernel call drawn at random: which call, and numbers the driver turns into its arguments
/// (which process, which object, flags, sizes) relative to what the programs know at that point.
/// </summary>
public sealed record GuestCall(int Kind, int A, int B, int C, int D, byte[] Data)
{
    public const int Kinds = 57;

    // Letters, a newline, a carriage return, DEL (erase) and ^U (kill): the bytes the line disciplines act on.
    private static readonly byte[] Alphabet = "abcXYZ 1\n\r\x7f\x15"u8.ToArray();

    public static readonly Gen<GuestCall> Any =
        Gen.Select(Gen.Int[0, Kinds - 1], Gen.Int[0, 1 << 20], Gen.Int[0, 1 << 20], Gen.Int[0, 1 << 20], Gen.Int[0, 1 << 20],
                Gen.Int[0, Alphabet.Length - 1].Array[0, 24])
            .Select((kind, a, b, c, d, letters) => new GuestCall(kind, a, b, c, d, [.. letters.Select(i => Alphabet[i])]));

    public override string ToString() => $"call {Kind}({A}, {B}, {C}, {D}, {ByteString.Of(Data)})";
}

/// <summary>
/// The programs of a WPAR, as a model test drives them: they remember the pids, ids, handles,
/// descriptors and addresses their calls returned, and make each <see cref="GuestCall"/> against
/// those. Stale ones stay in the lists, so calls on removed objects and closed descriptors happen
/// too. Every result is returned as text: two WPARs that cannot be told apart give the same text.
/// </summary>
public sealed class GuestPrograms
{
    private static readonly int[] Keys = [IpcPermissions.PrivateKey, 11, 12, 13];
    private static readonly int[] Modes = [0x1B6, 0x180, 0x1A0];
    private static readonly IpcCreate[] Creates = [IpcCreate.None, IpcCreate.Create, IpcCreate.Create | IpcCreate.Exclusive];
    private static readonly string[] ModuleNames = ["ldterm", "ldterm", "toupper", "seqno", "adler32", "bogus"];
    private static readonly string[] Commands = ["flush", "reset", "upper", "lower", "off", "noop"];

    private List<int> _pids = [];
    private List<int> _messageQueues = [];
    private List<int> _semaphoreSets = [];
    private List<int> _segments = [];
    private List<(int Pid, long Address)> _attachments = [];
    private List<(int Pid, int Fd)> _posixQueues = [];
    private List<(int Pid, long Handle)> _semaphores = [];
    private List<(int Pid, int Fd)> _sharedMemory = [];
    private List<int> _ptyNumbers = [];
    private List<(int Pid, int Fd)> _ptyEnds = [];
    private List<(int Pid, int Fd)> _streams = [];
    private List<(int Pid, int Fd)> _descriptors = [];

    /// <summary>Starts a root process and a user process, so the first calls have someone to make them.</summary>
    public void Start(Wpar wpar)
    {
        _pids.Add(wpar.Spawn(0, 0, "init").Value);
        _pids.Add(wpar.Spawn(100, 100, "app").Value);
    }

    public GuestPrograms Clone() => new()
    {
        _pids = [.. _pids], _messageQueues = [.. _messageQueues], _semaphoreSets = [.. _semaphoreSets], _segments = [.. _segments],
        _attachments = [.. _attachments], _posixQueues = [.. _posixQueues], _semaphores = [.. _semaphores], _sharedMemory = [.. _sharedMemory],
        _ptyNumbers = [.. _ptyNumbers], _ptyEnds = [.. _ptyEnds], _streams = [.. _streams], _descriptors = [.. _descriptors],
    };

    /// <summary>Makes the call; returns "kind: result".</summary>
    public string Run(Wpar wpar, GuestCall call)
    {
        var (a, b, c, d, data) = (call.A, call.B, call.C, call.D, call.Data);
        var pid = Pick(_pids, a, 1);
        object result = call.Kind switch
        {
            0 or 1 => Remember(wpar.Spawn(new[] { 0, 100, 200 }[b % 3], new[] { 0, 100 }[c % 2], $"p{_pids.Count}"), _pids),
            2 => c % 4 == 0 ? wpar.Exit(pid) : wpar.Read(pid, b % 8, 16),

            3 => Remember(wpar.MessageQueueGet(pid, Keys[b % 4], Creates[c % 3], Modes[d % 3]), _messageQueues),
            4 or 5 => wpar.MessageSend(pid, Pick(_messageQueues, b), 1 + c % 3, data),
            6 => wpar.MessageReceive(pid, Pick(_messageQueues, b), c % 7 - 3, new[] { 8, 64, 1024 }[d % 3]),
            7 => wpar.MessageQueueSet(pid, Pick(_messageQueues, b), Modes[c % 3], new[] { 16, 64, 512, 2048 }[d % 4]),
            8 => wpar.RemoveMessageQueue(pid, Pick(_messageQueues, b)),

            9 => Remember(wpar.SemaphoreGet(pid, new[] { 0, 21, 22 }[b % 3], 1 + c % 4, Creates[d % 3], Modes[a % 3]), _semaphoreSets),
            10 or 11 => wpar.SemaphoreOperate(pid, Pick(_semaphoreSets, b),
                [.. Enumerable.Range(0, 1 + c % 3).Select(k => new SemaphoreOperation((d >> (2 * k)) % 4, (d >> (3 * k + 6)) % 5 - 2, ((c >> (k + 4)) & 1) == 1))]),
            12 => wpar.SemaphoreSetValue(pid, Pick(_semaphoreSets, b), c % 4, d % 5),
            13 => wpar.SemaphoreValues(pid, Pick(_semaphoreSets, b)),
            14 => wpar.RemoveSemaphoreSet(pid, Pick(_semaphoreSets, b)),

            15 => Remember(wpar.SharedMemoryGet(pid, new[] { 0, 31, 32 }[b % 3], new[] { 16, 64, 100 }[c % 3], Creates[d % 3], Modes[a % 3]), _segments),
            16 => Attach(wpar, pid, Pick(_segments, b), c % 3 == 0),
            17 => Detach(wpar, Slot(_attachments, b, pid)),
            18 => wpar.SharedMemoryWrite(Slot(_attachments, b, pid).Item1, Slot(_attachments, b, pid).Item2, c % 20, data),
            19 => wpar.SharedMemoryRead(Slot(_attachments, b, pid).Item1, Slot(_attachments, b, pid).Item2, c % 20, d % 40),
            20 => wpar.RemoveSharedMemory(pid, Pick(_segments, b)),
            21 => b % 2 == 0 ? wpar.SharedMemoryStat(pid, Pick(_segments, c)) : wpar.MessageQueueStat(pid, Pick(_messageQueues, c)),

            22 => RememberDescriptor(pid, wpar.PosixQueueOpen(pid, new[] { "/a", "/b", "/c" }[b % 3], (PosixAccess)(c % 3), Creates[d % 3], Modes[a % 3], 4, 32), _posixQueues),
            23 or 24 => wpar.PosixQueueSend(Slot(_posixQueues, b, pid).Pid, Slot(_posixQueues, b, pid).Fd, c % 32, data),
            25 => wpar.PosixQueueReceive(Slot(_posixQueues, b, pid).Pid, Slot(_posixQueues, b, pid).Fd, new[] { 16, 32, 64 }[c % 3]),
            26 => wpar.PosixQueueUnlink(pid, new[] { "/a", "/b", "/c" }[b % 3]),
            27 => wpar.PosixQueueAttributes(Slot(_posixQueues, b, pid).Pid, Slot(_posixQueues, b, pid).Fd),

            28 => RememberHandle(pid, wpar.PosixSemaphoreOpen(pid, new[] { "/s1", "/s2" }[b % 2], Creates[c % 3], Modes[d % 3], a % 3)),
            29 => wpar.PosixSemaphorePost(Slot(_semaphores, b, pid).Pid, Slot(_semaphores, b, pid).Handle),
            30 => wpar.PosixSemaphoreTryWait(Slot(_semaphores, b, pid).Pid, Slot(_semaphores, b, pid).Handle),
            31 => wpar.PosixSemaphoreValue(Slot(_semaphores, b, pid).Pid, Slot(_semaphores, b, pid).Handle),
            32 => wpar.PosixSemaphoreClose(Slot(_semaphores, b, pid).Pid, Slot(_semaphores, b, pid).Handle),
            33 => wpar.PosixSemaphoreUnlink(pid, new[] { "/s1", "/s2" }[b % 2]),

            34 => RememberDescriptor(pid, wpar.PosixSharedMemoryOpen(pid, new[] { "/m1", "/m2" }[b % 2], c % 2 == 0 ? PosixAccess.ReadOnly : PosixAccess.ReadWrite, Creates[d % 3], Modes[a % 3]), _sharedMemory),
            35 => wpar.PosixSharedMemoryTruncate(Slot(_sharedMemory, b, pid).Pid, Slot(_sharedMemory, b, pid).Fd, new[] { 0, 8, 64, 64 }[c % 4]),
            36 => wpar.PosixSharedMemoryWrite(Slot(_sharedMemory, b, pid).Pid, Slot(_sharedMemory, b, pid).Fd, c % 10, data),
            37 => wpar.PosixSharedMemoryRead(Slot(_sharedMemory, b, pid).Pid, Slot(_sharedMemory, b, pid).Fd, c % 10, d % 30),
            38 => wpar.PosixSharedMemoryUnlink(pid, new[] { "/m1", "/m2" }[b % 2]),

            39 => OpenMaster(wpar, pid),
            40 => RememberDescriptor(pid, wpar.OpenPtySlave(pid, Pick(_ptyNumbers, b, b % 3)), _ptyEnds),
            41 or 42 => wpar.Write(Slot(_ptyEnds, b, pid).Pid, Slot(_ptyEnds, b, pid).Fd, data),
            43 => wpar.Read(Slot(_ptyEnds, b, pid).Pid, Slot(_ptyEnds, b, pid).Fd, new[] { 1, 8, 64 }[c % 3]),
            44 => wpar.SetTerminalSettings(Slot(_ptyEnds, b, pid).Pid, Slot(_ptyEnds, b, pid).Fd, Settings(c, d)),
            45 => wpar.GetTerminalSettings(Slot(_ptyEnds, b, pid).Pid, Slot(_ptyEnds, b, pid).Fd),

            46 => RememberDescriptor(pid, wpar.OpenStream(pid), _streams),
            47 => wpar.PushModule(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd, ModuleNames[c % ModuleNames.Length]),
            48 => wpar.PopModule(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd),
            49 or 50 => wpar.Write(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd, data),
            51 => wpar.StreamControl(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd, Commands[c % Commands.Length]),
            52 => wpar.Read(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd, new[] { 4, 64 }[c % 2]),
            53 => wpar.FreezeStream(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd),
            54 => wpar.ThawStream(Slot(_streams, b, pid).Pid, Slot(_streams, b, pid).Fd),

            55 => wpar.Close(Slot(_descriptors, b, pid).Pid, Slot(_descriptors, b, pid).Fd),
            _ => c % 2 == 0 ? wpar.Read(pid, b % 8, 16) : wpar.Write(pid, b % 8, data),
        };
        return $"{call.Kind}: {result}";
    }

    // Half the time one of the three most recent, so calls build on each other (attach, then write).
    private static T Pick<T>(List<T> known, int index, T none = default!) =>
        known.Count == 0 ? none : index % 2 == 0 ? known[known.Count - 1 - index / 2 % Math.Min(3, known.Count)] : known[index / 2 % known.Count];

    private static (int Pid, int Fd) Slot(List<(int Pid, int Fd)> known, int index, int pid) => Pick(known, index, (pid, 0));

    private static (int Pid, long Handle) Slot(List<(int Pid, long Handle)> known, int index, int pid) => Pick(known, index, (pid, 0L));

    private static KernelResult<T> Remember<T>(KernelResult<T> result, List<T> into)
    {
        if (result.Ok) into.Add(result.Value);
        return result;
    }

    private KernelResult<int> RememberDescriptor(int pid, KernelResult<int> result, List<(int Pid, int Fd)> into)
    {
        if (result.Ok)
        {
            into.Add((pid, result.Value));
            _descriptors.Add((pid, result.Value));
        }
        return result;
    }

    private KernelResult<long> RememberHandle(int pid, KernelResult<long> result)
    {
        if (result.Ok) _semaphores.Add((pid, result.Value));
        return result;
    }

    private KernelResult<long> Attach(Wpar wpar, int pid, int segment, bool readOnly)
    {
        var result = wpar.SharedMemoryAttach(pid, segment, readOnly);
        if (result.Ok) _attachments.Add((pid, result.Value));
        return result;
    }

    private static KernelResult<Done> Detach(Wpar wpar, (int Pid, long Address) attachment) => wpar.SharedMemoryDetach(attachment.Pid, attachment.Address);

    private KernelResult<PtyOpened> OpenMaster(Wpar wpar, int pid)
    {
        var result = wpar.OpenPtyMaster(pid);
        if (result.Ok)
        {
            _ptyNumbers.Add(result.Value.Number);
            _ptyEnds.Add((pid, result.Value.Fd));
            _descriptors.Add((pid, result.Value.Fd));
        }
        return result;
    }

    private static TerminalSettings Settings(int c, int d) => TerminalSettings.Default with
    {
        Local = (TerminalLocalFlags)(c % 8),
        Input = (TerminalInputFlags)(d % 4),
        Output = (TerminalOutputFlags)((c >> 3) % 4),
        Speed = new[] { 9600, 38400 }[(d >> 2) % 2],
        Window = new WindowSize((ushort)(10 + (c >> 5) % 50), (ushort)(40 + (d >> 3) % 100)),
    };

    /// <summary>Which kinds of state a WPAR holds, to check that the generator reaches all of them.</summary>
    public static IEnumerable<string> Coverage(WparImage image)
    {
        if (image.MessageQueues.Any(q => q.Messages.Length > 0)) yield return "System V messages queued";
        if (image.SemaphoreSets.Any(s => s.Values.Any(v => v > 0))) yield return "System V semaphore above zero";
        if (image.Processes.Any(p => p.SemaphoreUndo.Length > 0)) yield return "semaphore undo values";
        if (image.Processes.Any(p => p.Attachments.Length > 0)) yield return "segments attached";
        if (image.SharedMemorySegments.Any(s => s.Removed)) yield return "segment removed while attached";
        if (image.SharedMemorySegments.Any(s => s.Bytes.Span.ContainsAnyExcept((byte)0))) yield return "segment bytes written";
        if (image.PosixQueues.Any(q => q.Messages.Length > 0)) yield return "POSIX messages queued";
        if (image.PosixQueues.Any(q => q.Unlinked) || image.PosixSemaphores.Any(s => s.Unlinked) || image.PosixSharedMemory.Any(s => s.Unlinked)) yield return "POSIX object unlinked while open";
        if (image.PosixSemaphores.Length > 0) yield return "POSIX semaphores";
        if (image.PosixSharedMemory.Any(s => s.Bytes.Span.ContainsAnyExcept((byte)0))) yield return "POSIX shared memory written";
        if (image.Processes.Any(p => p.Descriptors.Any(d => d.Kind == DescriptorKind.PtySlave))) yield return "pty slave open";
        if (image.Ptys.Any(p => p.ToSlave.Length > 0 && p.ToMaster.Length > 0)) yield return "pty data queued both ways";
        if (image.Ptys.Any(p => p.Settings != TerminalSettings.Default)) yield return "pty settings changed";
        if (image.Processes.Any(p => p.Descriptors.Any(d => d.Kind == DescriptorKind.HungUp))) yield return "hung-up terminal";
        if (image.Streams.Any(s => s.Modules.Length >= 2)) yield return "stream with two modules";
        if (image.Streams.Any(s => s.Modules.Any(m => m.Identity == "ldterm" && m.State.Length > 0))) yield return "ldterm holding a partial line";
        if (image.Streams.Any(s => s.Frozen && s.Queued.Length > 0)) yield return "frozen stream with queued blocks";
        if (image.Streams.Any(s => s.Readable.Length > 0)) yield return "stream bytes unread";
        if (image.Processes.Any(p => p.Exited)) yield return "exited process";
    }

    public static string Describe(IEnumerable<string> results)
    {
        var text = new StringBuilder();
        foreach (var line in results) text.Append(line).Append('\n');
        return text.ToString();
    }
}
