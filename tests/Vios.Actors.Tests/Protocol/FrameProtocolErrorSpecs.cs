using Vios.Actors.Protocol;
using static Vios.Actors.Protocol.FrameLayout;

namespace Vios.Actors.Tests.Protocol;

/// <summary>One fault per test, built on an otherwise valid packet; the error names it.</summary>
public sealed class FrameProtocolErrorSpecs
{
    [Fact]
    public void A_valid_raw_packet_decodes()
    {
        var frame = FrameCodec.Decode(new RawPacket().Build());

        Assert.Equal(new FrameHeader(MessageKind.Send, FrameFlags.None, 7, 1, 2), frame.Header);
        Assert.Equal(new SubHeader("sender", "receiver"), frame.SubHeader);
    }

    [Fact]
    public void Fewer_bytes_than_the_header_is_truncated()
    {
        var error = Decoding.Refused(new RawPacket().Build()[..(HeaderLength - 1)]);

        Assert.Equal(ProtocolErrorKind.Truncated, error.Kind);
        Assert.Contains("43 bytes, fewer than the 44-byte", error.Message);
    }

    [Fact]
    public void An_empty_packet_is_truncated()
    {
        Assert.Equal(ProtocolErrorKind.Truncated, Decoding.Refused([]).Kind);
    }

    [Fact]
    public void A_wrong_magic_is_bad_magic()
    {
        var error = Decoding.Refused(new RawPacket { Magic = 0x48545450 }.Build()); // "HTTP"

        Assert.Equal(ProtocolErrorKind.BadMagic, error.Kind);
        Assert.Contains("magic 0x48545450", error.Message);
        Assert.Contains("\"VIOS\"", error.Message);
    }

    [Fact]
    public void Another_version_is_unsupported()
    {
        var error = Decoding.Refused(new RawPacket { Version = 2 }.Build());

        Assert.Equal(ProtocolErrorKind.UnsupportedVersion, error.Kind);
        Assert.Contains("version 2 is not supported", error.Message);
    }

    [Fact]
    public void A_packet_longer_than_its_declared_lengths_is_a_length_mismatch()
    {
        var packet = new RawPacket().Build();

        var error = Decoding.Refused([.. packet, 0]);

        Assert.Equal(ProtocolErrorKind.LengthMismatch, error.Kind);
        Assert.Contains($"= {packet.Length} bytes, but the packet has {packet.Length + 1}", error.Message);
    }

    [Fact]
    public void An_entry_longer_than_the_rest_of_the_sub_header_is_a_length_mismatch()
    {
        var packet = new RawPacket
        {
            RawSubHeader = [.. RawPacket.U16(EntrySendingDaemon), .. RawPacket.U16(10), (byte)'s'],
        }.Build();

        var error = Decoding.Refused(packet);

        Assert.Equal(ProtocolErrorKind.LengthMismatch, error.Kind);
        Assert.Contains("SendingDaemon (0x8001) at sub-header offset 0 declares 10 bytes, but only 1 remain", error.Message);
    }

    [Fact]
    public void A_sub_header_ending_inside_an_entry_header_is_a_length_mismatch()
    {
        var raw = new RawPacket();
        raw.RawSubHeader = [.. raw.SubHeader(), 0x80];

        var error = Decoding.Refused(raw.Build());

        Assert.Equal(ProtocolErrorKind.LengthMismatch, error.Kind);
        Assert.Contains("ends 1 bytes into the 4-byte header of the entry", error.Message);
    }

    [Fact]
    public void A_changed_header_byte_is_a_checksum_mismatch()
    {
        var packet = new RawPacket().Build();
        packet[MessageIdOffset + 7] ^= 0x01;

        var error = Decoding.Refused(packet);

        Assert.Equal(ProtocolErrorKind.ChecksumMismatch, error.Kind);
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public void A_changed_sub_header_byte_is_a_checksum_mismatch()
    {
        var packet = new RawPacket().Build();
        packet[HeaderLength + EntryHeaderLength] = (byte)'S'; // "sender" -> "Sender"

        Assert.Equal(ProtocolErrorKind.ChecksumMismatch, Decoding.Refused(packet).Kind);
    }

    [Fact]
    public void An_unknown_entry_marked_mandatory_is_refused()
    {
        var error = Decoding.Refused(new RawPacket().With(0x8077, [1, 2]).Build());

        Assert.Equal(ProtocolErrorKind.UnknownMandatoryEntry, error.Kind);
        Assert.Contains("0x8077", error.Message);
    }

    [Fact]
    public void Unknown_optional_entries_are_skipped()
    {
        // A newer writer's optional entries, before, between and after the known ones, repeated.
        var raw = new RawPacket();
        raw.Entries.Insert(0, (0x0077, [1, 2, 3]));
        raw.Entries.Insert(2, (0x7FFF, []));
        raw.With(0x0077, new byte[300]).With(EntryCorrelationId, RawPacket.U64(42));

        var frame = FrameCodec.Decode(raw.Build());

        Assert.Equal(new SubHeader("sender", "receiver") { CorrelationId = 42 }, frame.SubHeader);
    }

    [Fact]
    public void A_sub_header_too_large_for_the_stack_is_checksummed_the_same_way()
    {
        // Unknown optional entries push the sub-header past what the decoder copies to the stack.
        var raw = new RawPacket().With(0x0077, new byte[3000]).With(0x0078, Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray());
        var packet = raw.Build();

        Assert.Equal(new SubHeader("sender", "receiver"), FrameCodec.Decode(packet).SubHeader);

        packet[packet.Length - raw.Payload.Length - 1] ^= 0x10;
        Assert.Equal(ProtocolErrorKind.ChecksumMismatch, Decoding.Refused(packet).Kind);
    }

    [Theory]
    [InlineData("correlation id of 4 bytes", "CorrelationId (0x8005) is 4 bytes long, its type needs exactly 8")]
    [InlineData("timeout of 8 bytes", "Timeout (0x0006) is 8 bytes long, its type needs exactly 4")]
    [InlineData("response required with a value", "ResponseRequired (0x8003) is 1 bytes long, its type needs exactly 0")]
    [InlineData("expected responses of 2 bytes", "ExpectedResponses (0x8004) is 2 bytes long, its type needs exactly 4")]
    [InlineData("expected responses beyond int", "ExpectedResponses (0x8004) holds 2147483648, more than 2147483647")]
    [InlineData("invalid UTF-8 daemon id", "SendingDaemon (0x8001) is not valid UTF-8")]
    [InlineData("empty daemon id", "ReceivingDaemon (0x8002) is 0 bytes long; a daemon id is 1..255 bytes")]
    [InlineData("256-byte daemon id", "SendingDaemon (0x8001) is 256 bytes long; a daemon id is 1..255 bytes")]
    [InlineData("duplicated entry", "SendingDaemon (0x8001) appears more than once")]
    [InlineData("duplicated optional known entry", "Timeout (0x0006) appears more than once")]
    [InlineData("missing receiving daemon", "the sub-header has no ReceivingDaemon (0x8002) entry")]
    [InlineData("response flag without entry", "ResponseRequired flag is set but the sub-header has no ResponseRequired entry")]
    [InlineData("response entry without flag", "ResponseRequired entry is present but the header's ResponseRequired flag is not set")]
    [InlineData("expected responses without response required", "2 expected responses on a frame that requires none")]
    [InlineData("response without correlation id", "a Response frame has no correlation id")]
    [InlineData("error without correlation id", "a Error frame has no correlation id")]
    public void A_bad_sub_header_entry_is_malformed(string fault, string named)
    {
        var raw = new RawPacket();
        switch (fault)
        {
            case "correlation id of 4 bytes": raw.With(EntryCorrelationId, RawPacket.U32(5)); break;
            case "timeout of 8 bytes": raw.With(EntryTimeout, RawPacket.U64(5)); break;
            case "response required with a value": raw.Flags = (byte)FrameFlags.ResponseRequired; raw.With(EntryResponseRequired, [1]); break;
            case "expected responses of 2 bytes":
                raw.Flags = (byte)FrameFlags.ResponseRequired;
                raw.With(EntryResponseRequired, []).With(EntryExpectedResponses, [0, 2]);
                break;
            case "expected responses beyond int":
                raw.Flags = (byte)FrameFlags.ResponseRequired;
                raw.With(EntryResponseRequired, []).With(EntryExpectedResponses, RawPacket.U32(0x8000_0000));
                break;
            case "invalid UTF-8 daemon id": raw.Entries[0] = (EntrySendingDaemon, [0x76, 0xC3, 0x28]); break;
            case "empty daemon id": raw.Entries[1] = (EntryReceivingDaemon, []); break;
            case "256-byte daemon id": raw.Entries[0] = (EntrySendingDaemon, RawPacket.Utf8(new string('x', 256))); break;
            case "duplicated entry": raw.With(EntrySendingDaemon, RawPacket.Utf8("other")); break;
            case "duplicated optional known entry": raw.With(EntryTimeout, RawPacket.U32(1)).With(EntryTimeout, RawPacket.U32(1)); break;
            case "missing receiving daemon": raw.Without(EntryReceivingDaemon); break;
            case "response flag without entry": raw.Flags = (byte)FrameFlags.ResponseRequired; break;
            case "response entry without flag": raw.With(EntryResponseRequired, []); break;
            case "expected responses without response required": raw.With(EntryExpectedResponses, RawPacket.U32(2)); break;
            case "response without correlation id": raw.Kind = (byte)MessageKind.Response; break;
            case "error without correlation id": raw.Kind = (byte)MessageKind.Error; break;
            default: throw new ArgumentOutOfRangeException(nameof(fault), fault, null);
        }

        var error = Decoding.Refused(raw.Build());

        Assert.Equal(ProtocolErrorKind.MalformedEntry, error.Kind);
        Assert.Contains(named, error.Message);
    }

    [Theory]
    [InlineData("kind 0", "message kind 0 is not Send (1), Response (2) or Error (3)")]
    [InlineData("kind 4", "message kind 4 is not Send (1), Response (2) or Error (3)")]
    [InlineData("unknown flag", "flags 0x84 set bits this version does not define (known: 0x03)")]
    [InlineData("reserved header byte", "reserved header bytes")]
    [InlineData("reserved length bytes", "reserved header bytes")]
    [InlineData("message id 0", "message id is 0, which is reserved")]
    [InlineData("no source", "source node is NodeIds.None")]
    [InlineData("broadcast with a destination", "a broadcast names destination node 2")]
    public void A_header_field_out_of_range_is_a_malformed_header(string fault, string named)
    {
        var raw = new RawPacket();
        switch (fault)
        {
            case "kind 0": raw.Kind = 0; break;
            case "kind 4": raw.Kind = 4; break;
            case "unknown flag": raw.Flags = 0x84; break;
            case "reserved header byte": raw.HeaderReserved = 1; break;
            case "reserved length bytes": raw.LengthReserved = 0x0100; break;
            case "message id 0": raw.MessageId = 0; break;
            case "no source": raw.SourceNode = NodeIds.None; break;
            case "broadcast with a destination": raw.Flags = (byte)FrameFlags.Broadcast; break;
            default: throw new ArgumentOutOfRangeException(nameof(fault), fault, null);
        }

        var error = Decoding.Refused(raw.Build());

        Assert.Equal(ProtocolErrorKind.MalformedHeader, error.Kind);
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void A_payload_above_the_maximum_is_oversize()
    {
        var error = Decoding.Refused(new RawPacket { Payload = new byte[2000] }.Build(), maxPayload: 1999);

        Assert.Equal(ProtocolErrorKind.Oversize, error.Kind);
        Assert.Contains("payload of 2000 bytes exceeds the maximum of 1999 bytes", error.Message);
    }

    [Fact]
    public void Every_error_message_starts_with_its_kind()
    {
        var error = Decoding.Refused(new RawPacket { Version = 9 }.Build());

        Assert.StartsWith(nameof(ProtocolErrorKind.UnsupportedVersion) + ":", error.Message);
    }
}
