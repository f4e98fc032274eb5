using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Vios.Actors.Kernel;

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
