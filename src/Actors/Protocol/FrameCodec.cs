using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Text;
using System.Text.Unicode;
using static Vios.Actors.Protocol.FrameLayout;

namespace Vios.Actors.Protocol;

/// <summary>
/// Reads and writes VIOS frames (S1). Reading follows Kestrel's <c>Http2FrameReader</c>: fixed
/// offsets from <see cref="FrameLayout"/>, <see cref="BinaryPrimitives"/>, and every declared
/// length checked against the bytes that are there before it is used. Bad input becomes a
/// <see cref="ProtocolException"/> naming what is wrong; nothing else escapes.
/// The codec refuses to write any frame it would refuse to read, so
/// <c>Decode(Encode(frame)) == frame</c> for every frame <c>Encode</c> accepts.
/// </summary>
public static class FrameCodec
{
    // Entries seen so far, one bit per known type, to refuse duplicates without allocating.
    private const int SeenSendingDaemon = 1 << 0;
    private const int SeenReceivingDaemon = 1 << 1;
    private const int SeenResponseRequired = 1 << 2;
    private const int SeenExpectedResponses = 1 << 3;
    private const int SeenCorrelationId = 1 << 4;
    private const int SeenTimeout = 1 << 5;

    // The decoder checksums a copy of header and sub-header with the checksum field zeroed, on
    // the stack when it is this small (always, for the entries this version writes); one-shot
    // Crc32 over one span is about twice as fast as appending the pieces to an instance.
    private const int StackChecksumLimit = 1024;

    // For larger sub-headers (unknown optional entries from a newer writer): the pieces appended
    // to one Crc32 per thread, reset after use, so decoding still allocates nothing for it.
    [ThreadStatic]
    private static Crc32? t_crc;

    /// <summary>Bytes <see cref="Encode(ViosFrame, IBufferWriter{byte}, int)"/> writes for this frame.</summary>
    public static int EncodedLength(ViosFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var sub = frame.SubHeader;
        return HeaderLength + SubHeaderLength(sub, DaemonIdByteCount(sub.SendingDaemon), DaemonIdByteCount(sub.ReceivingDaemon)) + frame.Payload.Length;
    }

    /// <summary>Encodes into a new array. A frame the codec would not read back raises <see cref="ProtocolException"/>.</summary>
    public static byte[] Encode(ViosFrame frame, int maxPayload = DefaultMaxPayload)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        var sizes = Validate(frame, maxPayload);
        var packet = new byte[HeaderLength + sizes.SubHeader + frame.Payload.Length];
        Write(frame, sizes, packet);
        return packet;
    }

    /// <summary>
    /// Encodes into <paramref name="output"/> and returns the bytes written; allocates nothing
    /// beyond what the writer hands out. On <see cref="ProtocolException"/> nothing is advanced.
    /// </summary>
    public static int Encode(ViosFrame frame, IBufferWriter<byte> output, int maxPayload = DefaultMaxPayload)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        var sizes = Validate(frame, maxPayload);
        var length = HeaderLength + sizes.SubHeader + frame.Payload.Length;
        Write(frame, sizes, output.GetSpan(length)[..length]);
        output.Advance(length);
        return length;
    }

    /// <summary>
    /// Decodes one whole packet. The payload of the result is a slice of <paramref name="packet"/>
    /// (no copy), so the caller must not reuse that memory while the frame is in use.
    /// </summary>
    /// <exception cref="ProtocolException">The packet is not a valid frame; <see cref="ProtocolException.Kind"/> says why.</exception>
    public static ViosFrame Decode(ReadOnlyMemory<byte> packet, int maxPayload = DefaultMaxPayload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        var error = DecodeCore(packet, maxPayload, out var frame);
        if (error is not null)
        {
            throw error;
        }

        return frame!;
    }

    /// <summary>Like <see cref="Decode"/>, but reports bad input through <paramref name="error"/> instead of throwing.</summary>
    public static bool TryDecode(
        ReadOnlyMemory<byte> packet,
        int maxPayload,
        [NotNullWhen(true)] out ViosFrame? frame,
        [NotNullWhen(false)] out ProtocolException? error)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        error = DecodeCore(packet, maxPayload, out frame);
        return error is null;
    }

    // ---- decoding ------------------------------------------------------------------------

    // Checks run from the cheapest and most specific to the general: size, magic, version,
    // declared lengths, checksum, then the meaning of each field. Returns the error, or null
    // with the frame; the error is built but not thrown, so TryDecode costs no exception.
    private static ProtocolException? DecodeCore(ReadOnlyMemory<byte> packet, int maxPayload, out ViosFrame? frame)
    {
        frame = null;
        var span = packet.Span;

        if (span.Length < HeaderLength)
        {
            return new(ProtocolErrorKind.Truncated,
                $"Truncated: the packet has {span.Length} bytes, fewer than the {HeaderLength}-byte VIOS frame header");
        }

        var magic = BinaryPrimitives.ReadUInt32BigEndian(span[MagicOffset..]);
        if (magic != Magic)
        {
            return new(ProtocolErrorKind.BadMagic,
                $"BadMagic: the packet starts with magic 0x{magic:X8}, not 0x{Magic:X8} (\"VIOS\")");
        }

        var version = span[VersionOffset];
        if (version != CurrentVersion)
        {
            return UnsupportedVersion(version);
        }

        int subHeaderLength = BinaryPrimitives.ReadUInt16BigEndian(span[SubHeaderLengthOffset..]);
        var payloadLength = BinaryPrimitives.ReadUInt32BigEndian(span[PayloadLengthOffset..]);
        if (payloadLength > (uint)maxPayload)
        {
            return Oversize(payloadLength, maxPayload);
        }

        var declared = (long)HeaderLength + subHeaderLength + payloadLength;
        if (declared != span.Length)
        {
            return new(ProtocolErrorKind.LengthMismatch,
                $"LengthMismatch: header ({HeaderLength}) + sub-header length ({subHeaderLength}) + payload length ({payloadLength}) = {declared} bytes, but the packet has {span.Length}");
        }

        var subHeader = span.Slice(HeaderLength, subHeaderLength);
        var stored = BinaryPrimitives.ReadUInt32BigEndian(span[ChecksumOffset..]);
        var computed = ChecksumOf(span[..(HeaderLength + subHeaderLength)]);
        if (stored != computed)
        {
            return new(ProtocolErrorKind.ChecksumMismatch,
                $"ChecksumMismatch: the header carries checksum 0x{stored:X8}, but header and sub-header hash to 0x{computed:X8}");
        }

        if (span[HeaderReservedOffset] != 0 || BinaryPrimitives.ReadUInt16BigEndian(span[LengthReservedOffset..]) != 0)
        {
            return new(ProtocolErrorKind.MalformedHeader,
                $"MalformedHeader: reserved header bytes (offsets {HeaderReservedOffset} and {LengthReservedOffset}..{LengthReservedOffset + 1}) must be zero");
        }

        var kind = span[KindOffset];
        var flags = span[FlagsOffset];
        var messageId = BinaryPrimitives.ReadUInt64BigEndian(span[MessageIdOffset..]);
        var sourceNode = BinaryPrimitives.ReadUInt64BigEndian(span[SourceNodeOffset..]);
        var destinationNode = BinaryPrimitives.ReadUInt64BigEndian(span[DestinationNodeOffset..]);
        var headerError = CheckHeaderFields(kind, flags, messageId, sourceNode, destinationNode);
        if (headerError is not null)
        {
            return headerError;
        }

        var subHeaderError = ReadSubHeader(subHeader, out var fields);
        if (subHeaderError is not null)
        {
            return subHeaderError;
        }

        var header = new FrameHeader((MessageKind)kind, (FrameFlags)flags, messageId, sourceNode, destinationNode);
        var consistencyError = CheckConsistency(header, fields.ResponseRequired, fields.ExpectedResponses, fields.CorrelationId);
        if (consistencyError is not null)
        {
            return consistencyError;
        }

        var sub = new SubHeader(fields.SendingDaemon!, fields.ReceivingDaemon!)
        {
            ResponseRequired = fields.ResponseRequired,
            ExpectedResponses = fields.ExpectedResponses,
            CorrelationId = fields.CorrelationId,
            Timeout = fields.Timeout,
        };
        frame = new ViosFrame(header, sub, packet.Slice(HeaderLength + subHeaderLength, (int)payloadLength));
        return null;
    }

    private struct SubHeaderFields
    {
        public string? SendingDaemon;
        public string? ReceivingDaemon;
        public bool ResponseRequired;
        public int ExpectedResponses;
        public ulong CorrelationId;
        public TimeSpan? Timeout;
    }

    private static ProtocolException? ReadSubHeader(ReadOnlySpan<byte> subHeader, out SubHeaderFields fields)
    {
        fields = default;
        var seen = 0;
        var offset = 0;
        while (offset < subHeader.Length)
        {
            var remaining = subHeader.Length - offset;
            if (remaining < EntryHeaderLength)
            {
                return new(ProtocolErrorKind.LengthMismatch,
                    $"LengthMismatch: the sub-header ends {remaining} bytes into the {EntryHeaderLength}-byte header of the entry at sub-header offset {offset}");
            }

            var type = BinaryPrimitives.ReadUInt16BigEndian(subHeader[(offset + EntryTypeOffset)..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(subHeader[(offset + EntryLengthOffset)..]);
            var valueOffset = offset + EntryHeaderLength;
            if (length > subHeader.Length - valueOffset)
            {
                return new(ProtocolErrorKind.LengthMismatch,
                    $"LengthMismatch: sub-header entry {EntryName(type)} at sub-header offset {offset} declares {length} bytes, but only {subHeader.Length - valueOffset} remain");
            }

            var value = subHeader.Slice(valueOffset, length);
            offset = valueOffset + length;

            var bit = SeenBit(type);
            if (bit == 0)
            {
                if ((type & EntryMandatoryBit) != 0)
                {
                    return new(ProtocolErrorKind.UnknownMandatoryEntry,
                        $"UnknownMandatoryEntry: sub-header entry type 0x{type:X4} is unknown and marked mandatory");
                }

                continue; // an optional entry from a newer writer: skip it
            }

            if ((seen & bit) != 0)
            {
                return Malformed($"sub-header entry {EntryName(type)} appears more than once");
            }

            seen |= bit;
            ProtocolException? error;
            switch (type)
            {
                case EntrySendingDaemon:
                    error = ReadDaemonId(type, value, out fields.SendingDaemon);
                    break;
                case EntryReceivingDaemon:
                    error = ReadDaemonId(type, value, out fields.ReceivingDaemon);
                    break;
                case EntryResponseRequired:
                    error = CheckEntryLength(type, value, 0);
                    fields.ResponseRequired = true;
                    break;
                case EntryExpectedResponses:
                    error = CheckEntryLength(type, value, ExpectedResponsesSize);
                    if (error is null)
                    {
                        var expected = BinaryPrimitives.ReadUInt32BigEndian(value);
                        if (expected > int.MaxValue)
                        {
                            error = Malformed($"sub-header entry {EntryName(type)} holds {expected}, more than {int.MaxValue}");
                        }

                        fields.ExpectedResponses = (int)expected;
                    }

                    break;
                case EntryCorrelationId:
                    error = CheckEntryLength(type, value, CorrelationIdSize);
                    if (error is null)
                    {
                        fields.CorrelationId = BinaryPrimitives.ReadUInt64BigEndian(value);
                    }

                    break;
                case EntryTimeout:
                    error = CheckEntryLength(type, value, TimeoutSize);
                    if (error is null)
                    {
                        fields.Timeout = TimeSpan.FromTicks(BinaryPrimitives.ReadUInt32BigEndian(value) * TimeSpan.TicksPerMillisecond);
                    }

                    break;
                default:
                    throw new UnreachableException($"entry 0x{type:X4} has a seen-bit but no reader");
            }

            if (error is not null)
            {
                return error;
            }
        }

        if ((seen & SeenSendingDaemon) == 0)
        {
            return Malformed($"the sub-header has no {EntryName(EntrySendingDaemon)} entry");
        }

        if ((seen & SeenReceivingDaemon) == 0)
        {
            return Malformed($"the sub-header has no {EntryName(EntryReceivingDaemon)} entry");
        }

        return null;
    }

    private static int SeenBit(ushort type) => type switch
    {
        EntrySendingDaemon => SeenSendingDaemon,
        EntryReceivingDaemon => SeenReceivingDaemon,
        EntryResponseRequired => SeenResponseRequired,
        EntryExpectedResponses => SeenExpectedResponses,
        EntryCorrelationId => SeenCorrelationId,
        EntryTimeout => SeenTimeout,
        _ => 0,
    };

    private static ProtocolException? CheckEntryLength(ushort type, ReadOnlySpan<byte> value, int expected) =>
        value.Length == expected
            ? null
            : Malformed($"sub-header entry {EntryName(type)} is {value.Length} bytes long, its type needs exactly {expected}");

    private static ProtocolException? ReadDaemonId(ushort type, ReadOnlySpan<byte> value, out string? id)
    {
        id = null;
        if (value.Length is < MinDaemonIdBytes or > MaxDaemonIdBytes)
        {
            return Malformed($"sub-header entry {EntryName(type)} is {value.Length} bytes long; a daemon id is {MinDaemonIdBytes}..{MaxDaemonIdBytes} bytes of UTF-8");
        }

        if (!Utf8.IsValid(value))
        {
            return Malformed($"sub-header entry {EntryName(type)} is not valid UTF-8");
        }

        id = Encoding.UTF8.GetString(value);
        return null;
    }

    // ---- rules shared by reading and writing ---------------------------------------------------

    private static ProtocolException? CheckHeaderFields(byte kind, byte flags, ulong messageId, ulong sourceNode, ulong destinationNode)
    {
        if (kind is < (byte)MessageKind.Send or > (byte)MessageKind.Error)
        {
            return MalformedHeader($"message kind {kind} is not Send (1), Response (2) or Error (3)");
        }

        if ((flags & ~KnownFlags) != 0)
        {
            return MalformedHeader($"flags 0x{flags:X2} set bits this version does not define (known: 0x{KnownFlags:X2})");
        }

        if (messageId == 0)
        {
            return MalformedHeader("message id is 0, which is reserved (a correlation id of 0 means none)");
        }

        if (sourceNode == NodeIds.None)
        {
            return MalformedHeader("source node is NodeIds.None");
        }

        var broadcast = (flags & (byte)FrameFlags.Broadcast) != 0;
        if (broadcast && destinationNode != NodeIds.None)
        {
            return MalformedHeader($"a broadcast names destination node {destinationNode}; a broadcast's destination must be NodeIds.None");
        }

        // No destination without the broadcast flag is a send to several nodes: the daemon names them
        // to its VKE in the system call, and the VKE refuses such a packet without that list.
        return null;
    }

    private static ProtocolException? CheckConsistency(FrameHeader header, bool responseRequired, int expectedResponses, ulong correlationId)
    {
        if (header.IsResponseRequired != responseRequired)
        {
            return Malformed(responseRequired
                ? "the sub-header's ResponseRequired entry is present but the header's ResponseRequired flag is not set"
                : "the header's ResponseRequired flag is set but the sub-header has no ResponseRequired entry");
        }

        if (expectedResponses != 0 && !responseRequired)
        {
            return Malformed($"{expectedResponses} expected responses on a frame that requires none");
        }

        if (header.Kind is MessageKind.Response or MessageKind.Error && correlationId == 0)
        {
            return Malformed($"a {header.Kind} frame has no correlation id (the message id of the send it answers)");
        }

        return null;
    }

    // ---- encoding ---------------------------------------------------------------------------

    // Byte counts found while validating, so that writing does not count again.
    private readonly record struct EncodedSizes(int SendingDaemon, int ReceivingDaemon, int SubHeader);

    // Refuses what DecodeCore would refuse (a daemon id with no UTF-8 form is found by Write).
    private static EncodedSizes Validate(ViosFrame frame, int maxPayload)
    {
        var header = frame.Header;
        var sub = frame.SubHeader;

        if (header.Version != CurrentVersion)
        {
            throw UnsupportedVersion(header.Version);
        }

        var sendingDaemonBytes = DaemonIdByteCount(sub.SendingDaemon);
        var receivingDaemonBytes = DaemonIdByteCount(sub.ReceivingDaemon);
        var error = CheckHeaderFields((byte)header.Kind, (byte)header.Flags, header.MessageId, header.SourceNode, header.DestinationNode)
            ?? CheckDaemonIdForWriting(EntrySendingDaemon, sub.SendingDaemon, sendingDaemonBytes)
            ?? CheckDaemonIdForWriting(EntryReceivingDaemon, sub.ReceivingDaemon, receivingDaemonBytes)
            ?? CheckConsistency(header, sub.ResponseRequired, sub.ExpectedResponses, sub.CorrelationId);
        if (error is not null)
        {
            throw error;
        }

        if (sub.ExpectedResponses < 0)
        {
            throw Malformed($"expected responses is {sub.ExpectedResponses}; it cannot be negative");
        }

        if (sub.Timeout is { } timeout)
        {
            if (timeout < TimeSpan.Zero || timeout.Ticks / TimeSpan.TicksPerMillisecond > uint.MaxValue)
            {
                throw Malformed($"timeout {timeout} is outside 0..{uint.MaxValue} ms");
            }

            if (timeout.Ticks % TimeSpan.TicksPerMillisecond != 0)
            {
                throw Malformed($"timeout {timeout} is not a whole number of milliseconds (the wire carries uint32 ms)");
            }
        }

        if (frame.Payload.Length > maxPayload)
        {
            throw Oversize((uint)frame.Payload.Length, maxPayload);
        }

        return new EncodedSizes(sendingDaemonBytes, receivingDaemonBytes, SubHeaderLength(sub, sendingDaemonBytes, receivingDaemonBytes));
    }

    // bytes: the UTF-8 length, counting a lone surrogate as its 3-byte replacement character.
    private static ProtocolException? CheckDaemonIdForWriting(ushort type, string? id, int bytes) =>
        id is null
            ? Malformed($"{EntryName(type)} is null")
            : bytes is < MinDaemonIdBytes or > MaxDaemonIdBytes
                ? Malformed($"{EntryName(type)} is {bytes} bytes of UTF-8; a daemon id is {MinDaemonIdBytes}..{MaxDaemonIdBytes} bytes")
                : null;

    private static int SubHeaderLength(SubHeader sub, int sendingDaemonBytes, int receivingDaemonBytes)
    {
        var length = EntryHeaderLength + sendingDaemonBytes + EntryHeaderLength + receivingDaemonBytes;
        if (sub.ResponseRequired)
        {
            length += EntryHeaderLength;
        }

        if (sub.ExpectedResponses != 0)
        {
            length += EntryHeaderLength + ExpectedResponsesSize;
        }

        if (sub.CorrelationId != 0)
        {
            length += EntryHeaderLength + CorrelationIdSize;
        }

        if (sub.Timeout is not null)
        {
            length += EntryHeaderLength + TimeoutSize;
        }

        return length;
    }

    private static int DaemonIdByteCount(string? id) => id is null ? 0 : Encoding.UTF8.GetByteCount(id);

    // Writes a validated frame; destination is exactly the encoded length. The caller commits
    // the bytes only after this returns, so a throw here leaves nothing behind.
    private static void Write(ViosFrame frame, EncodedSizes sizes, Span<byte> destination)
    {
        var header = frame.Header;
        var sub = frame.SubHeader;
        var subHeaderLength = sizes.SubHeader;

        BinaryPrimitives.WriteUInt32BigEndian(destination[MagicOffset..], Magic);
        destination[VersionOffset] = header.Version;
        destination[KindOffset] = (byte)header.Kind;
        destination[FlagsOffset] = (byte)header.Flags;
        destination[HeaderReservedOffset] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(destination[MessageIdOffset..], header.MessageId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[SourceNodeOffset..], header.SourceNode);
        BinaryPrimitives.WriteUInt64BigEndian(destination[DestinationNodeOffset..], header.DestinationNode);
        BinaryPrimitives.WriteUInt16BigEndian(destination[SubHeaderLengthOffset..], (ushort)subHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination[LengthReservedOffset..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[PayloadLengthOffset..], (uint)frame.Payload.Length);

        var subHeader = destination.Slice(HeaderLength, subHeaderLength);
        var offset = WriteDaemonId(subHeader, 0, EntrySendingDaemon, sub.SendingDaemon, sizes.SendingDaemon);
        offset = WriteDaemonId(subHeader, offset, EntryReceivingDaemon, sub.ReceivingDaemon, sizes.ReceivingDaemon);
        if (sub.ResponseRequired)
        {
            offset = WriteEntryHeader(subHeader, offset, EntryResponseRequired, 0);
        }

        if (sub.ExpectedResponses != 0)
        {
            offset = WriteEntryHeader(subHeader, offset, EntryExpectedResponses, ExpectedResponsesSize);
            BinaryPrimitives.WriteUInt32BigEndian(subHeader[offset..], (uint)sub.ExpectedResponses);
            offset += ExpectedResponsesSize;
        }

        if (sub.CorrelationId != 0)
        {
            offset = WriteEntryHeader(subHeader, offset, EntryCorrelationId, CorrelationIdSize);
            BinaryPrimitives.WriteUInt64BigEndian(subHeader[offset..], sub.CorrelationId);
            offset += CorrelationIdSize;
        }

        if (sub.Timeout is { } timeout)
        {
            offset = WriteEntryHeader(subHeader, offset, EntryTimeout, TimeoutSize);
            BinaryPrimitives.WriteUInt32BigEndian(subHeader[offset..], (uint)(timeout.Ticks / TimeSpan.TicksPerMillisecond));
            offset += TimeoutSize;
        }

        Debug.Assert(offset == subHeaderLength, "SubHeaderLength and Write disagree");

        // The checksum is computed with its own field zeroed.
        BinaryPrimitives.WriteUInt32BigEndian(destination[ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ChecksumOffset..], Crc32.HashToUInt32(destination[..(HeaderLength + subHeaderLength)]));
        frame.Payload.Span.CopyTo(destination[(HeaderLength + subHeaderLength)..]);
    }

    private static int WriteEntryHeader(Span<byte> subHeader, int offset, ushort type, int length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(subHeader[(offset + EntryTypeOffset)..], type);
        BinaryPrimitives.WriteUInt16BigEndian(subHeader[(offset + EntryLengthOffset)..], (ushort)length);
        return offset + EntryHeaderLength;
    }

    private static int WriteDaemonId(Span<byte> subHeader, int offset, ushort type, string id, int bytes)
    {
        var value = subHeader.Slice(offset + EntryHeaderLength, bytes);
        var status = Utf8.FromUtf16(id, value, out _, out var written, replaceInvalidSequences: false);
        if (status != OperationStatus.Done || written != bytes)
        {
            // Only a lone surrogate makes the strict conversion stop short of GetByteCount's figure.
            throw Malformed($"{EntryName(type)} \"{id}\" contains a lone surrogate and has no UTF-8 form");
        }

        return WriteEntryHeader(subHeader, offset, type, bytes) + bytes;
    }

    // ---- shared ------------------------------------------------------------------------------

    // CRC-32 of header and sub-header as they would be with the checksum field zeroed, without
    // writing to the packet (it is read-only and may be shared).
    private static uint ChecksumOf(ReadOnlySpan<byte> headerAndSubHeader)
    {
        if (headerAndSubHeader.Length <= StackChecksumLimit)
        {
            Span<byte> copy = stackalloc byte[headerAndSubHeader.Length];
            headerAndSubHeader.CopyTo(copy);
            copy.Slice(ChecksumOffset, ChecksumSize).Clear();
            return Crc32.HashToUInt32(copy);
        }

        var crc = t_crc ??= new Crc32();
        crc.Append(headerAndSubHeader[..ChecksumOffset]);
        crc.Append([0, 0, 0, 0]);
        crc.Append(headerAndSubHeader[HeaderLength..]);
        var value = crc.GetCurrentHashAsUInt32();
        crc.Reset();
        return value;
    }

    private static string EntryName(ushort type) => type switch
    {
        EntrySendingDaemon => "SendingDaemon (0x8001)",
        EntryReceivingDaemon => "ReceivingDaemon (0x8002)",
        EntryResponseRequired => "ResponseRequired (0x8003)",
        EntryExpectedResponses => "ExpectedResponses (0x8004)",
        EntryCorrelationId => "CorrelationId (0x8005)",
        EntryTimeout => "Timeout (0x0006)",
        _ => $"0x{type:X4}",
    };

    private static ProtocolException Malformed(string reason) => new(ProtocolErrorKind.MalformedEntry, "MalformedEntry: " + reason);

    private static ProtocolException MalformedHeader(string reason) => new(ProtocolErrorKind.MalformedHeader, "MalformedHeader: " + reason);

    private static ProtocolException UnsupportedVersion(byte version) =>
        new(ProtocolErrorKind.UnsupportedVersion, $"UnsupportedVersion: frame version {version} is not supported; this codec reads version {CurrentVersion}");

    private static ProtocolException Oversize(uint payloadLength, int maxPayload) =>
        new(ProtocolErrorKind.Oversize, $"Oversize: a payload of {payloadLength} bytes exceeds the maximum of {maxPayload} bytes");
}
