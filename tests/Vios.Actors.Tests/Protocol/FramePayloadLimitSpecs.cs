using System.Buffers;
using System.Buffers.Binary;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

/// <summary>Payloads above the configured maximum (1 MiB unless told) are refused both ways.</summary>
public sealed class FramePayloadLimitSpecs
{
    private static ViosFrame WithPayload(int bytes) => new(
        new FrameHeader(MessageKind.Send, FrameFlags.None, 1, 1, 2),
        new SubHeader("sender", "receiver"),
        new byte[bytes]);

    [Fact]
    public void A_payload_of_exactly_one_mebibyte_is_written_and_read_by_default()
    {
        var frame = WithPayload(FrameLayout.DefaultMaxPayload);

        Assert.Equal(frame, FrameCodec.Decode(FrameCodec.Encode(frame)));
    }

    [Fact]
    public void Encoding_a_payload_one_byte_over_the_default_maximum_is_oversize()
    {
        var error = Assert.Throws<ProtocolException>(() => FrameCodec.Encode(WithPayload(FrameLayout.DefaultMaxPayload + 1)));

        Assert.Equal(ProtocolErrorKind.Oversize, error.Kind);
        Assert.Contains("payload of 1048577 bytes exceeds the maximum of 1048576 bytes", error.Message);
    }

    [Fact]
    public void Encoding_into_a_buffer_writer_refuses_oversize_and_writes_nothing()
    {
        var output = new ArrayBufferWriter<byte>();

        var error = Assert.Throws<ProtocolException>(() => FrameCodec.Encode(WithPayload(101), output, maxPayload: 100));

        Assert.Equal(ProtocolErrorKind.Oversize, error.Kind);
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Decoding_a_payload_one_byte_over_the_default_maximum_is_oversize()
    {
        var packet = FrameCodec.Encode(WithPayload(FrameLayout.DefaultMaxPayload + 1), maxPayload: int.MaxValue);

        var error = Decoding.Refused(packet);

        Assert.Equal(ProtocolErrorKind.Oversize, error.Kind);
        Assert.Contains("exceeds the maximum of 1048576 bytes", error.Message);
    }

    [Fact]
    public void A_custom_maximum_applies_to_encoding_and_decoding()
    {
        Assert.Equal(100, FrameCodec.Decode(FrameCodec.Encode(WithPayload(100), maxPayload: 100), maxPayload: 100).Payload.Length);
        Assert.Equal(ProtocolErrorKind.Oversize, Assert.Throws<ProtocolException>(() => FrameCodec.Encode(WithPayload(101), maxPayload: 100)).Kind);
        Assert.Equal(ProtocolErrorKind.Oversize, Decoding.Refused(FrameCodec.Encode(WithPayload(101)), maxPayload: 100).Kind);
        Assert.Equal(ProtocolErrorKind.Oversize, Decoding.Refused(FrameCodec.Encode(WithPayload(1)), maxPayload: 0).Kind);
        Assert.Empty(FrameCodec.Decode(FrameCodec.Encode(WithPayload(0), maxPayload: 0), maxPayload: 0).Payload.ToArray());
    }

    [Fact]
    public void A_declared_payload_over_the_maximum_is_oversize_before_its_bytes_are_looked_for()
    {
        // Four header bytes claim 4 GiB; the decoder refuses on the claim, not on the missing bytes.
        var packet = new RawPacket().Build();
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(FrameLayout.PayloadLengthOffset), uint.MaxValue);

        var error = Decoding.Refused(packet);

        Assert.Equal(ProtocolErrorKind.Oversize, error.Kind);
        Assert.Contains("payload of 4294967295 bytes", error.Message);
    }

    [Fact]
    public void A_negative_maximum_is_a_programming_error()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameCodec.Decode(new RawPacket().Build(), maxPayload: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameCodec.Encode(WithPayload(0), maxPayload: -1));
    }
}
