namespace Vios.Actors.Protocol;

/// <summary>
/// The byte layout of a VIOS frame (S1: header, sub-header, payload in one packet), in the
/// manner of Kestrel's <c>Http2Frame</c> constants: every offset and size has a name, and the
/// codec reads and writes only through them. All integers are big-endian (network byte order).
/// See <c>docs/protocol.md</c>.
/// </summary>
public static class FrameLayout
{
    /// <summary>The only header layout this codec reads and writes.</summary>
    public const byte CurrentVersion = 1;

    /// <summary>Largest payload accepted unless the caller configures another maximum: 1 MiB.</summary>
    public const int DefaultMaxPayload = 1024 * 1024;

    /// <summary>"VIOS" in ASCII, read as a big-endian uint32.</summary>
    public const uint Magic = 0x56_49_4F_53;

    // Fixed header: 44 bytes.
    public const int MagicOffset = 0;
    public const int MagicSize = sizeof(uint);
    public const int VersionOffset = MagicOffset + MagicSize;                 // 4
    public const int KindOffset = VersionOffset + sizeof(byte);              // 5
    public const int FlagsOffset = KindOffset + sizeof(byte);                // 6
    public const int HeaderReservedOffset = FlagsOffset + sizeof(byte);      // 7, must be zero
    public const int MessageIdOffset = HeaderReservedOffset + sizeof(byte);  // 8
    public const int SourceNodeOffset = MessageIdOffset + sizeof(ulong);     // 16
    public const int DestinationNodeOffset = SourceNodeOffset + sizeof(ulong); // 24
    public const int SubHeaderLengthOffset = DestinationNodeOffset + sizeof(ulong); // 32, uint16
    public const int LengthReservedOffset = SubHeaderLengthOffset + sizeof(ushort); // 34, uint16, must be zero
    public const int PayloadLengthOffset = LengthReservedOffset + sizeof(ushort);   // 36, uint32
    public const int ChecksumOffset = PayloadLengthOffset + sizeof(uint);           // 40, uint32
    public const int ChecksumSize = sizeof(uint);
    public const int HeaderLength = ChecksumOffset + ChecksumSize;                  // 44

    // The checksum is the CRC-32 of header and sub-header together, bytes [0, HeaderLength +
    // sub-header length), computed with the checksum field itself as four zero bytes.

    /// <summary>The sub-header length field is a uint16.</summary>
    public const int MaxSubHeaderLength = ushort.MaxValue;

    /// <summary>Bits of <see cref="FrameFlags"/> this version defines; any other bit is a malformed header.</summary>
    public const byte KnownFlags = (byte)(FrameFlags.Broadcast | FrameFlags.ResponseRequired);

    // Sub-header entry: type (uint16), length (uint16), value (length bytes).
    public const int EntryTypeOffset = 0;
    public const int EntryLengthOffset = EntryTypeOffset + sizeof(ushort);
    public const int EntryHeaderLength = EntryLengthOffset + sizeof(ushort);  // 4

    /// <summary>
    /// High bit of an entry type: a reader that does not know the type must refuse the frame
    /// (<see cref="ProtocolErrorKind.UnknownMandatoryEntry"/>); without it the reader skips the entry.
    /// Known types are matched on all 16 bits, mandatory bit included.
    /// </summary>
    public const ushort EntryMandatoryBit = 0x8000;

    /// <summary>UTF-8, <see cref="MinDaemonIdBytes"/>..<see cref="MaxDaemonIdBytes"/> bytes.</summary>
    public const ushort EntrySendingDaemon = EntryMandatoryBit | 0x0001;

    /// <summary>UTF-8, <see cref="MinDaemonIdBytes"/>..<see cref="MaxDaemonIdBytes"/> bytes.</summary>
    public const ushort EntryReceivingDaemon = EntryMandatoryBit | 0x0002;

    /// <summary>No value (length 0); present when a response is required.</summary>
    public const ushort EntryResponseRequired = EntryMandatoryBit | 0x0003;

    /// <summary>uint32; present only with <see cref="EntryResponseRequired"/>.</summary>
    public const ushort EntryExpectedResponses = EntryMandatoryBit | 0x0004;

    /// <summary>uint64, not zero: on a response or error, the message id of the send it answers.</summary>
    public const ushort EntryCorrelationId = EntryMandatoryBit | 0x0005;

    /// <summary>uint32 milliseconds. Optional: a receiver may ignore how long the sender will wait.</summary>
    public const ushort EntryTimeout = 0x0006;

    public const int ExpectedResponsesSize = sizeof(uint);
    public const int CorrelationIdSize = sizeof(ulong);
    public const int TimeoutSize = sizeof(uint);

    public const int MinDaemonIdBytes = 1;
    public const int MaxDaemonIdBytes = 255;
}
