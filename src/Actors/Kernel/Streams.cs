using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Vios.Actors.Kernel;

/// <summary>Types of STREAMS message block.</summary>
public enum MessageType : byte
{
    /// <summary>M_DATA: bytes written by the process.</summary>
    Data = 1,

    /// <summary>M_CTL / I_STR: a command for the modules ("flush", "reset", "upper").</summary>
    Control = 2,

    /// <summary>S10: asks each module for its internal state; the only message a frozen stream passes.</summary>
    Checkpoint = 3,

    /// <summary>S10, S11: a checkpoint message filled with every module's state, handed back to rebuilt modules.</summary>
    Restart = 4,
}

/// <summary>The internal state one module wrote into a checkpoint message block (S10), with its identity (S11).</summary>
public sealed record ModuleState(string Identity, ByteString State);

/// <summary>A STREAMS message block.</summary>
public sealed record MessageBlock(MessageType Type, ByteString Payload, EquatableArray<ModuleState> States)
{
    public static MessageBlock Data(ReadOnlySpan<byte> bytes) => new(MessageType.Data, ByteString.Of(bytes), default);

    public static MessageBlock Control(string command) => new(MessageType.Control, ByteString.Of(command), default);

    public static MessageBlock Checkpoint() => new(MessageType.Checkpoint, ByteString.Empty, default);

    /// <summary>True for checkpoint and restart messages: they pass a frozen stream.</summary>
    public bool IsCheckpointMessage => Type is MessageType.Checkpoint or MessageType.Restart;

    /// <summary>The command of a control block.</summary>
    public string Command => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>
/// A STREAMS module: a put procedure for the blocks that come down from the stream head, and internal
/// state it can write into a checkpoint message (S10) and take back from a restart message.
/// </summary>
public abstract class StreamModule
{
    /// <summary>The module's name, as I_PUSH takes it and the checkpoint records it (S11).</summary>
    public abstract string Identity { get; }

    /// <summary>Handles a data or control block from above; appends what it sends on down to <paramref name="downstream"/>.</summary>
    public abstract void Put(MessageBlock block, List<MessageBlock> downstream);

    /// <summary>S10: the module's internal state, to be written into the checkpoint message block.</summary>
    public abstract ByteString SaveState();

    /// <summary>Takes a state <see cref="SaveState"/> wrote; false, and no change, when the bytes are not one.</summary>
    public abstract bool TryRestoreState(ReadOnlySpan<byte> state);

    /// <summary>The state in words, for views and <c>wpar show</c>.</summary>
    public abstract string DescribeState();
}

/// <summary>
/// "ldterm": a line discipline. Buffers data until a newline and sends each whole line on as one
/// block; the partial line is its state. Control "flush" sends the partial line on as it is.
/// </summary>
public sealed class LineDisciplineModule : StreamModule
{
    /// <summary>A partial line longer than this is sent on unfinished.</summary>
    public const int MaxLine = 1024;

    private readonly List<byte> _partial = [];

    public override string Identity => "ldterm";

    public override void Put(MessageBlock block, List<MessageBlock> downstream)
    {
        if (block.Type == MessageType.Control)
        {
            if (block.Command == "flush")
            {
                if (_partial.Count > 0) downstream.Add(MessageBlock.Data(CollectionsMarshal.AsSpan(_partial)));
                _partial.Clear();
                return;
            }
            downstream.Add(block);
            return;
        }

        foreach (var b in block.Payload.Span)
        {
            _partial.Add(b);
            if (b == '\n' || _partial.Count >= MaxLine)
            {
                downstream.Add(MessageBlock.Data(CollectionsMarshal.AsSpan(_partial)));
                _partial.Clear();
            }
        }
    }

    public override ByteString SaveState() => ByteString.Of(CollectionsMarshal.AsSpan(_partial));

    public override bool TryRestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length >= MaxLine || state.Contains((byte)'\n')) return false;
        _partial.Clear();
        _partial.AddRange(state);
        return true;
    }

    public override string DescribeState() => $"partial line {ByteString.Of(CollectionsMarshal.AsSpan(_partial))}";
}

/// <summary>Modes of <see cref="CaseModule"/>.</summary>
public enum CaseMode : byte
{
    Off = 0,
    Upper = 1,
    Lower = 2,
}

/// <summary>
/// "toupper": changes the case of ASCII letters, upper by default; control "upper", "lower" or "off"
/// switches it. State: the mode and the count of letters changed.
/// </summary>
public sealed class CaseModule : StreamModule
{
    private const int StateLength = 9;

    public CaseMode Mode { get; private set; } = CaseMode.Upper;

    public long Changed { get; private set; }

    public override string Identity => "toupper";

    public override void Put(MessageBlock block, List<MessageBlock> downstream)
    {
        if (block.Type == MessageType.Control)
        {
            switch (block.Command)
            {
                case "upper": Mode = CaseMode.Upper; return;
                case "lower": Mode = CaseMode.Lower; return;
                case "off": Mode = CaseMode.Off; return;
                default: downstream.Add(block); return;
            }
        }

        var bytes = block.Payload.ToArray();
        for (var i = 0; i < bytes.Length; i++)
        {
            var b = bytes[i];
            var changed = Mode switch
            {
                CaseMode.Upper when b is >= (byte)'a' and <= (byte)'z' => (byte)(b - 32),
                CaseMode.Lower when b is >= (byte)'A' and <= (byte)'Z' => (byte)(b + 32),
                _ => b,
            };
            if (changed != b) Changed++;
            bytes[i] = changed;
        }
        downstream.Add(MessageBlock.Data(bytes));
    }

    public override ByteString SaveState()
    {
        Span<byte> state = stackalloc byte[StateLength];
        state[0] = (byte)Mode;
        BinaryPrimitives.WriteInt64LittleEndian(state[1..], Changed);
        return ByteString.Of(state);
    }

    public override bool TryRestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != StateLength || state[0] > (byte)CaseMode.Lower) return false;
        var changed = BinaryPrimitives.ReadInt64LittleEndian(state[1..]);
        if (changed < 0) return false;
        (Mode, Changed) = ((CaseMode)state[0], changed);
        return true;
    }

    public override string DescribeState() => $"mode {Mode.ToString().ToLowerInvariant()}, {Changed} letters changed";
}

/// <summary>
/// "seqno": numbers the data blocks, prefixing each with "n:" from a counter that is its state;
/// control "reset" starts again at 0.
/// </summary>
public sealed class SequenceModule : StreamModule
{
    public long Next { get; private set; }

    public override string Identity => "seqno";

    public override void Put(MessageBlock block, List<MessageBlock> downstream)
    {
        if (block.Type == MessageType.Control)
        {
            if (block.Command == "reset") Next = 0;
            else downstream.Add(block);
            return;
        }
        var prefix = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Next++}:"));
        downstream.Add(MessageBlock.Data([.. prefix, .. block.Payload.Span]));
    }

    public override ByteString SaveState()
    {
        Span<byte> state = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(state, Next);
        return ByteString.Of(state);
    }

    public override bool TryRestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != 8 || BinaryPrimitives.ReadInt64LittleEndian(state) < 0) return false;
        Next = BinaryPrimitives.ReadInt64LittleEndian(state);
        return true;
    }

    public override string DescribeState() => $"next block {Next}";
}

/// <summary>
/// "adler32": keeps a running Adler-32 over every data byte that passed and appends it to each block
/// as "#xxxxxxxx", so a receiver can check the stream so far. State: the two Adler sums and the byte
/// count. Control "reset" starts the sum again.
/// </summary>
public sealed class ChecksumModule : StreamModule
{
    private const uint Modulus = 65521;
    private const int StateLength = 16;

    private uint _a = 1;
    private uint _b;

    public long Bytes { get; private set; }

    public uint Checksum => _b << 16 | _a;

    public override string Identity => "adler32";

    public override void Put(MessageBlock block, List<MessageBlock> downstream)
    {
        if (block.Type == MessageType.Control)
        {
            if (block.Command == "reset") (_a, _b, Bytes) = (1, 0, 0);
            else downstream.Add(block);
            return;
        }
        foreach (var b in block.Payload.Span)
        {
            _a = (_a + b) % Modulus;
            _b = (_b + _a) % Modulus;
        }
        Bytes += block.Payload.Length;
        var trailer = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"#{Checksum:x8}"));
        downstream.Add(MessageBlock.Data([.. block.Payload.Span, .. trailer]));
    }

    public override ByteString SaveState()
    {
        Span<byte> state = stackalloc byte[StateLength];
        BinaryPrimitives.WriteUInt32LittleEndian(state, _a);
        BinaryPrimitives.WriteUInt32LittleEndian(state[4..], _b);
        BinaryPrimitives.WriteInt64LittleEndian(state[8..], Bytes);
        return ByteString.Of(state);
    }

    public override bool TryRestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != StateLength) return false;
        var (a, b, bytes) = (BinaryPrimitives.ReadUInt32LittleEndian(state), BinaryPrimitives.ReadUInt32LittleEndian(state[4..]), BinaryPrimitives.ReadInt64LittleEndian(state[8..]));
        if (a >= Modulus || b >= Modulus || bytes < 0) return false;
        (_a, _b, Bytes) = (a, b, bytes);
        return true;
    }

    public override string DescribeState() => string.Create(CultureInfo.InvariantCulture, $"adler32 {Checksum:x8} over {Bytes} bytes");
}

/// <summary>
/// The module kinds a kernel can push, by identity. Restart rebuilds a stack only from modules this
/// catalog knows; an identity it does not know makes the image unrestorable here.
/// </summary>
public sealed class StreamModuleCatalog
{
    private readonly ImmutableSortedDictionary<string, Func<StreamModule>> _factories;

    public StreamModuleCatalog(IEnumerable<Func<StreamModule>> factories) =>
        _factories = factories.ToImmutableSortedDictionary(factory => factory().Identity, factory => factory, StringComparer.Ordinal);

    /// <summary>ldterm, toupper, seqno, adler32.</summary>
    public static StreamModuleCatalog Standard { get; } = new(
        [() => new LineDisciplineModule(), () => new CaseModule(), () => new SequenceModule(), () => new ChecksumModule()]);

    public IEnumerable<string> Identities => _factories.Keys;

    public bool TryCreate(string identity, out StreamModule module)
    {
        if (_factories.TryGetValue(identity, out var factory))
        {
            module = factory();
            return true;
        }
        module = null!;
        return false;
    }
}

/// <summary>
/// A stream: the head a process writes to and reads from, a stack of modules (top first), and a
/// loopback driver at the bottom that turns data around to the head's read queue. Position i of the
/// write side is the queue in front of module i; position <c>Modules.Count</c> is the driver's.
/// </summary>
/// <remarks>
/// S10: while the stream is <see cref="Frozen"/>, no module (nor the head) may send anything but a
/// checkpoint message to the next: other blocks stay queued where they are, and flow on at
/// <see cref="Thaw"/>. Checkpoint messages travel in the priority band, past queued blocks.
/// </remarks>
public sealed class StreamHead
{
    /// <summary>Modules a stream holds at most (NSTRPUSH).</summary>
    public const int MaxModules = 8;

    private readonly List<StreamModule> _modules = [];
    private readonly List<Queue<MessageBlock>> _queues = [new()];
    private readonly List<byte> _readQueue = [];
    private readonly List<MessageBlock> _scratch = [];
    private MessageBlock? _returned;
    private string? _restartProblem;

    internal StreamHead(long realId) => RealId = realId;

    /// <summary>A stream outside any kernel, for tests of the module protocol.</summary>
    public StreamHead()
        : this(0)
    {
    }

    public long RealId { get; }

    public bool Frozen { get; private set; }

    /// <summary>Top (next to the head) first.</summary>
    public IReadOnlyList<StreamModule> Modules => _modules;

    /// <summary>Bytes the loopback driver turned around, waiting for a read.</summary>
    public int Readable => _readQueue.Count;

    /// <summary>Blocks waiting in front of position <paramref name="position"/> (module, or the driver at <c>Modules.Count</c>).</summary>
    public IReadOnlyCollection<MessageBlock> QueuedAt(int position) => _queues[position];

    public int QueuedBlocks => _queues.Sum(q => q.Count);

    /// <summary>I_PUSH: the module goes right below the head. Refused while frozen or full.</summary>
    public bool Push(StreamModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (Frozen || _modules.Count >= MaxModules) return false;
        _modules.Insert(0, module);
        _queues.Insert(1, new Queue<MessageBlock>());
        return true;
    }

    /// <summary>I_POP: removes the top module. Refused while frozen, with nothing to pop, or with blocks queued in front of it.</summary>
    public StreamModule? Pop()
    {
        if (Frozen || _modules.Count == 0 || _queues[0].Count > 0 || _queues[1].Count > 0) return null;
        var top = _modules[0];
        _modules.RemoveAt(0);
        _queues.RemoveAt(1);
        return top;
    }

    /// <summary>A process write: one data block into the head's queue, then down the stream unless frozen.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        _queues[0].Enqueue(MessageBlock.Data(data));
        Run();
    }

    /// <summary>I_STR: a control block for the modules.</summary>
    public void Control(string command)
    {
        _queues[0].Enqueue(MessageBlock.Control(command));
        Run();
    }

    /// <summary>Takes up to <paramref name="max"/> bytes the driver turned around.</summary>
    public ByteString Read(int max)
    {
        var count = Math.Min(max, _readQueue.Count);
        var bytes = ByteString.Of(CollectionsMarshal.AsSpan(_readQueue)[..count]);
        _readQueue.RemoveRange(0, count);
        return bytes;
    }

    /// <summary>
    /// putnext: position <paramref name="from"/> (-1 for the head) sends <paramref name="block"/> to
    /// the next position, which handles it at once. S10: refused while frozen unless it is a checkpoint
    /// message; the sender keeps a refused block.
    /// </summary>
    public bool PutNext(int from, MessageBlock block)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(from, -1);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(from, _modules.Count);
        if (Frozen && !block.IsCheckpointMessage) return false;
        Deliver(from + 1, block);
        Run();
        return true;
    }

    /// <summary>S10: from now on only checkpoint messages move.</summary>
    public void Freeze() => Frozen = true;

    /// <summary>Lets queued blocks flow on.</summary>
    public void Thaw()
    {
        Frozen = false;
        Run();
    }

    /// <summary>
    /// S10, S11: sends a checkpoint message down the frozen stream; each module writes its internal
    /// state into the block, which comes back from the driver as a restart message holding every
    /// module's identity and state in stack order.
    /// </summary>
    public MessageBlock Checkpoint()
    {
        if (!Frozen) throw new InvalidOperationException("a stream is checkpointed frozen (S10)");
        _returned = null;
        PutNext(-1, MessageBlock.Checkpoint());
        return _returned! with { Type = MessageType.Restart };
    }

    /// <summary>
    /// Restart: sends <paramref name="restart"/> down the rebuilt, frozen stack; each module takes its
    /// state by position. Returns why it cannot (then no module has changed), or null.
    /// </summary>
    public string? Restart(MessageBlock restart)
    {
        ArgumentNullException.ThrowIfNull(restart);
        if (!Frozen) throw new InvalidOperationException("a stream is restarted frozen (S10)");
        if (restart.Type != MessageType.Restart) return $"a {restart.Type} block is not a restart message";
        if (restart.States.Count != _modules.Count) return $"the restart message holds {restart.States.Count} module states for {_modules.Count} modules";
        for (var position = 0; position < _modules.Count; position++)
        {
            var (module, state) = (_modules[position], restart.States[position]);
            if (state.Identity != module.Identity) return $"position {position} holds {module.Identity}, the restart message's state is for {state.Identity}";
        }
        _restartProblem = null;
        PutNext(-1, restart);
        return _restartProblem;
    }

    internal void Enqueue(int position, MessageBlock block) => _queues[position].Enqueue(block);

    internal void RestoreReadQueue(ReadOnlySpan<byte> bytes) => _readQueue.AddRange(bytes);

    internal ReadOnlySpan<byte> ReadQueue => CollectionsMarshal.AsSpan(_readQueue);

    // Moves every queued block as far down as it goes; one pass top to bottom suffices, since a
    // position only sends to the one below it.
    private void Run()
    {
        for (var position = 0; position <= _modules.Count; position++)
        {
            var queue = _queues[position];
            while (queue.Count > 0)
            {
                if (Frozen) return;
                Deliver(position, queue.Dequeue());
            }
        }
    }

    private void Deliver(int position, MessageBlock block)
    {
        if (position == _modules.Count)
        {
            // The loopback driver: data goes back up to the head's read queue, a checkpoint or
            // restart message back to the head as it is, anything else ends here.
            if (block.Type == MessageType.Data) _readQueue.AddRange(block.Payload.Span);
            else if (block.IsCheckpointMessage) _returned = block;
            return;
        }

        var module = _modules[position];
        if (block.Type == MessageType.Checkpoint)
        {
            // S10: the module writes its internal state into the message block and sends it on.
            Deliver(position + 1, block with { States = block.States.Items.Add(new ModuleState(module.Identity, module.SaveState())) });
            return;
        }
        if (block.Type == MessageType.Restart)
        {
            if (position < block.States.Count && block.States[position].Identity == module.Identity)
            {
                if (!module.TryRestoreState(block.States[position].State.Span))
                    _restartProblem ??= $"{module.Identity} at position {position} refuses its state {block.States[position].State}";
            }
            else
            {
                _restartProblem ??= $"the restart message has no state for {module.Identity} at position {position}";
            }
            Deliver(position + 1, block);
            return;
        }

        _scratch.Clear();
        module.Put(block, _scratch);
        var output = _scratch.ToArray();
        foreach (var next in output) _queues[position + 1].Enqueue(next);
    }
}
