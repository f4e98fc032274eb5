using System.Buffers.Binary;
using CsCheck;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

/// <summary>Whatever arrives, the decoder answers with a frame or a <see cref="ProtocolException"/>.</summary>
public sealed class FrameDecoderRobustnessSpecs
{
    private static readonly ushort[] InterestingEntryTypes =
    [
        FrameLayout.EntrySendingDaemon, FrameLayout.EntryReceivingDaemon, FrameLayout.EntryResponseRequired,
        FrameLayout.EntryExpectedResponses, FrameLayout.EntryCorrelationId, FrameLayout.EntryTimeout,
        0x0077, 0x8077, 0x0001, 0xFFFF, 0x0000,
    ];

    [Fact]
    public void Random_bytes_never_raise_anything_but_a_protocol_exception()
    {
        var magicAndVersion = new byte[] { 0x56, 0x49, 0x4F, 0x53, FrameLayout.CurrentVersion };
        Gen.Frequency(
                (1, Gen.Byte.Array[0, 200]),
                // Past the magic and version checks, so the length and checksum checks see random input.
                (3, Gen.Byte.Array[0, 300].Select(rest => (byte[])[.. magicAndVersion, .. rest])))
            .Sample(packet => { Decoding.DecodesOrRefuses(packet); }, iter: 5000);
    }

    [Fact]
    public void Random_sub_headers_behind_a_valid_checksum_never_raise_anything_but_a_protocol_exception()
    {
        // Without a valid checksum random input dies at the checksum; this reaches the entry parser.
        var entry = Gen.Select(Gen.Int[0, InterestingEntryTypes.Length], Gen.UShort, Gen.Byte.Array[0, 12], Gen.Int[0, 3])
            .Select((index, anyType, value, lengthSkew) =>
            {
                var type = index == InterestingEntryTypes.Length ? anyType : InterestingEntryTypes[index];
                // Mostly an honest length; sometimes one that overruns or stops short.
                var length = lengthSkew == 0 ? (ushort)(value.Length + 3) : (ushort)value.Length;
                return (byte[])[.. RawPacket.U16(type), .. RawPacket.U16(length), .. value];
            });
        var daemonEntries = (byte[])[.. RawPacket.U16(FrameLayout.EntrySendingDaemon), 0, 1, (byte)'s', .. RawPacket.U16(FrameLayout.EntryReceivingDaemon), 0, 1, (byte)'r'];

        // Mostly a valid kind, so that most packets get past the header to the entries.
        var kinds = Gen.Frequency((9, Gen.Byte[1, 3]), (1, Gen.Byte[0, 4]));
        var decoded = 0;
        Gen.Select(entry.Array[0, 8], Gen.Bool, Gen.Byte[0, 255], kinds, Gen.Byte.Array[0, 6])
            .Select((entries, withDaemons, flags, kind, trailing) => new RawPacket
            {
                Kind = kind,
                Flags = (byte)(flags & 0x03),
                DestinationNode = (flags & 0x01) != 0 ? NodeIds.None : 2,
                RawSubHeader = [.. withDaemons ? daemonEntries : [], .. entries.SelectMany(e => e), .. flags > 250 ? trailing : []],
            }.Build())
            .Sample(packet =>
            {
                if (Decoding.DecodesOrRefuses(packet) is not null)
                {
                    Interlocked.Increment(ref decoded);
                }
            }, iter: 5000);

        // The generator must reach the end of the entry parser, not only its error paths.
        Assert.True(decoded > 0, "no random sub-header decoded");
    }

    [Fact]
    public void A_flipped_bit_in_header_or_sub_header_is_refused_and_in_the_payload_changes_only_that_bit()
    {
        ProtocolErrorKind[] earlierOrChecksum =
        [
            ProtocolErrorKind.BadMagic, ProtocolErrorKind.UnsupportedVersion, ProtocolErrorKind.LengthMismatch,
            ProtocolErrorKind.Oversize, ProtocolErrorKind.ChecksumMismatch,
        ];

        Gen.Select(FrameGen.SmallFrame, Gen.Int[0, int.MaxValue], Gen.Int[0, 7]).Sample((frame, at, bit) =>
        {
            var packet = FrameCodec.Encode(frame);
            var position = at % packet.Length;
            packet[position] ^= (byte)(1 << bit);

            var protectedLength = packet.Length - frame.Payload.Length;
            if (position < protectedLength)
            {
                Assert.Contains(Decoding.Refused(packet).Kind, earlierOrChecksum);
            }
            else
            {
                var decoded = FrameCodec.Decode(packet);
                Assert.Equal(frame.Header, decoded.Header);
                Assert.Equal(frame.SubHeader, decoded.SubHeader);
                Assert.Equal(frame.Payload.Span[(position - protectedLength)] ^ (1 << bit), decoded.Payload.Span[position - protectedLength]);
            }
        }, iter: 3000);
    }

    [Fact]
    public void A_packet_cut_short_at_any_length_is_refused_as_truncated_or_a_length_mismatch()
    {
        Gen.Select(FrameGen.Frame(Gen.Byte.Array[0, 300]), Gen.Int[0, 2000]).Sample((frame, extra) =>
        {
            var packet = FrameCodec.Encode(frame);
            for (var length = 0; length < packet.Length; length++)
            {
                var error = Decoding.Refused(packet[..length]);
                Assert.Equal(length < FrameLayout.HeaderLength ? ProtocolErrorKind.Truncated : ProtocolErrorKind.LengthMismatch, error.Kind);
            }

            // And with bytes to spare.
            Assert.Equal(ProtocolErrorKind.LengthMismatch, Decoding.Refused([.. packet, .. new byte[extra + 1]]).Kind);
        }, iter: 60);
    }

    [Fact]
    public void An_inserted_or_removed_byte_anywhere_is_refused()
    {
        Gen.Select(FrameGen.SmallFrame, Gen.Int[0, int.MaxValue], Gen.Byte, Gen.Bool).Sample((frame, at, value, insert) =>
        {
            var packet = FrameCodec.Encode(frame);
            var position = at % (packet.Length + (insert ? 1 : 0));
            byte[] mutated = insert
                ? [.. packet.AsSpan(0, position), value, .. packet.AsSpan(position)]
                : [.. packet.AsSpan(0, position), .. packet.AsSpan(position + 1)];

            Decoding.Refused(mutated);
        }, iter: 3000);
    }

    [Fact]
    public void A_valid_packet_with_its_lengths_rewritten_is_refused()
    {
        Gen.Select(FrameGen.SmallFrame, Gen.UShort, Gen.UInt).Sample((frame, subHeaderLength, payloadLength) =>
        {
            var packet = FrameCodec.Encode(frame);
            var original = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(FrameLayout.SubHeaderLengthOffset));
            if (subHeaderLength == original)
            {
                return;
            }

            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(FrameLayout.SubHeaderLengthOffset), subHeaderLength);
            Decoding.Refused(packet);
            BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(FrameLayout.PayloadLengthOffset), payloadLength);
            Decoding.Refused(packet);
        }, iter: 1000);
    }
}
