using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

/// <summary>
/// Builds packets byte by byte from the documented layout, independently of <see cref="FrameCodec"/>,
/// with a valid checksum, so a test can put exactly one fault behind it.
/// </summary>
internal sealed class RawPacket
{
    public uint Magic { get; set; } = FrameLayout.Magic;
    public byte Version { get; set; } = FrameLayout.CurrentVersion;
    public byte Kind { get; set; } = (byte)MessageKind.Send;
    public byte Flags { get; set; }
    public byte HeaderReserved { get; set; }
    public ulong MessageId { get; set; } = 7;
    public ulong SourceNode { get; set; } = 1;
    public ulong DestinationNode { get; set; } = 2;
    public ushort LengthReserved { get; set; }

    public List<(ushort Type, byte[] Value)> Entries { get; } =
    [
        (FrameLayout.EntrySendingDaemon, "sender"u8.ToArray()),
        (FrameLayout.EntryReceivingDaemon, "receiver"u8.ToArray()),
    ];

    /// <summary>Replaces the entries with raw sub-header bytes when set.</summary>
    public byte[]? RawSubHeader { get; set; }

    public byte[] Payload { get; set; } = [1, 2, 3];

    public RawPacket With(ushort type, byte[] value)
    {
        Entries.Add((type, value));
        return this;
    }

    public RawPacket Without(ushort type)
    {
        Entries.RemoveAll(e => e.Type == type);
        return this;
    }

    public byte[] SubHeader()
    {
        if (RawSubHeader is not null)
        {
            return RawSubHeader;
        }

        var bytes = new List<byte>();
        foreach (var (type, value) in Entries)
        {
            bytes.AddRange(U16(type));
            bytes.AddRange(U16((ushort)value.Length));
            bytes.AddRange(value);
        }

        return [.. bytes];
    }

    public byte[] Build()
    {
        var subHeader = SubHeader();
        var packet = new byte[44 + subHeader.Length + Payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(0), Magic);
        packet[4] = Version;
        packet[5] = Kind;
        packet[6] = Flags;
        packet[7] = HeaderReserved;
        BinaryPrimitives.WriteUInt64BigEndian(packet.AsSpan(8), MessageId);
        BinaryPrimitives.WriteUInt64BigEndian(packet.AsSpan(16), SourceNode);
        BinaryPrimitives.WriteUInt64BigEndian(packet.AsSpan(24), DestinationNode);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(32), (ushort)subHeader.Length);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(34), LengthReserved);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(36), (uint)Payload.Length);
        subHeader.CopyTo(packet, 44);
        Payload.CopyTo(packet, 44 + subHeader.Length);
        // Bytes 40..43 are still zero here, as the checksum is defined.
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(40), Crc32.HashToUInt32(packet.AsSpan(0, 44 + subHeader.Length)));
        return packet;
    }

    public static byte[] U16(ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
