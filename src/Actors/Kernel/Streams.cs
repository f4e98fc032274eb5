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
