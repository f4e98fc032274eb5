using System.Buffers;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using CsCheck;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

public sealed class FrameRoundTripSpecs
{
    [Fact]
    public void Decoding_an_encoded_frame_gives_the_frame_back()
    {
        FrameGen.AnyFrame.Sample(frame =>
        {
            var packet = FrameCodec.Encode(frame);

            Assert.Equal(FrameCodec.EncodedLength(frame), packet.Length);
            Assert.Equal(frame, FrameCodec.Decode(packet));
        }, iter: 400);
    }

    [Fact]
    public void Encoding_into_a_buffer_writer_writes_the_same_bytes_as_encoding_into_an_array()
    {
        var output = new ArrayBufferWriter<byte>();
        FrameGen.SmallFrame.Sample(frame =>
        {
            var before = output.WrittenCount;
            var written = FrameCodec.Encode(frame, output);

            Assert.Equal(FrameCodec.EncodedLength(frame), written);
            Assert.Equal(FrameCodec.Encode(frame), output.WrittenSpan[before..].ToArray());
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void The_bytes_are_laid_out_as_docs_protocol_md_says()
    {
        var frame = new ViosFrame(
            new FrameHeader(MessageKind.Send, FrameFlags.ResponseRequired, 0x0102030405060708, 0x11, 0x22),
            new SubHeader("vke", "db") { ResponseRequired = true, ExpectedResponses = 3, Timeout = TimeSpan.FromMilliseconds(1500) },
            new byte[] { 0xAA, 0xBB });

        var header = Convert.FromHexString(
            "56494F53" + "01" + "01" + "02" + "00"   // magic "VIOS", version 1, Send, ResponseRequired, reserved
            + "0102030405060708"                      // message id
            + "0000000000000011"                      // source node
            + "0000000000000022"                      // destination node
            + "0021" + "0000"                         // sub-header length 33, reserved
            + "00000002"                              // payload length
            + "00000000");                            // checksum, zero while it is computed
        var subHeader = Convert.FromHexString(
            "8001" + "0003" + "766B65"               // SendingDaemon "vke"
            + "8002" + "0002" + "6462"               // ReceivingDaemon "db"
            + "8003" + "0000"                        // ResponseRequired
            + "8004" + "0004" + "00000003"           // ExpectedResponses 3
            + "0006" + "0004" + "000005DC");         // Timeout 1500 ms
        byte[] expected = [.. header, .. subHeader, 0xAA, 0xBB];
        // CRC-32 (IEEE) of header and sub-header with the checksum field zeroed.
        RawPacket.U32(Crc32.HashToUInt32(expected.AsSpan(0, 44 + 33))).CopyTo(expected, 40);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(FrameCodec.Encode(frame)));
    }

    [Fact]
    public void A_decoded_payload_is_a_slice_of_the_packet_not_a_copy()
    {
        var packet = new RawPacket { Payload = [9, 8, 7, 6] }.Build();

        var frame = FrameCodec.Decode(packet);

        Assert.True(MemoryMarshal.TryGetArray(frame.Payload, out var segment));
        Assert.Same(packet, segment.Array);
        Assert.Equal(packet.Length - 4, segment.Offset);
        Assert.Equal(new byte[] { 9, 8, 7, 6 }, frame.Payload.ToArray());
    }

    [Fact]
    public void Frames_are_equal_by_value_with_payloads_compared_by_bytes()
    {
        static ViosFrame Frame(byte[] payload) => new(
            new FrameHeader(MessageKind.Send, FrameFlags.Broadcast, 5, 1, NodeIds.None),
            new SubHeader("a", "b"),
            payload);

        Assert.Equal(Frame([1, 2, 3]), Frame([1, 2, 3]));
        Assert.Equal(Frame([1, 2, 3]).GetHashCode(), Frame([1, 2, 3]).GetHashCode());
        Assert.NotEqual(Frame([1, 2, 3]), Frame([1, 2, 4]));
        Assert.NotEqual(Frame([1, 2, 3]), Frame([1, 2]));
    }

    [Fact]
    public void Encoding_into_a_reused_buffer_writer_allocates_nothing()
    {
        var frame = new ViosFrame(
            new FrameHeader(MessageKind.Response, FrameFlags.None, 9, 1, 2),
            new SubHeader("disk-daemon", "ha-daemon") { CorrelationId = 3, Timeout = TimeSpan.FromSeconds(2) },
            new byte[256]);
        var output = new ArrayBufferWriter<byte>(4096);
        for (var i = 0; i < 1000; i++)
        {
            output.ResetWrittenCount();
            FrameCodec.Encode(frame, output);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            output.ResetWrittenCount();
            FrameCodec.Encode(frame, output);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Decoding_allocates_only_the_frame_its_records_and_the_two_daemon_ids()
    {
        var packet = FrameCodec.Encode(new ViosFrame(
            new FrameHeader(MessageKind.Send, FrameFlags.ResponseRequired, 9, 1, 2),
            new SubHeader("disk-daemon", "ha-daemon") { ResponseRequired = true, ExpectedResponses = 1, Timeout = TimeSpan.FromSeconds(2) },
            new byte[256]));
        for (var i = 0; i < 1000; i++)
        {
            FrameCodec.Decode(packet);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            FrameCodec.Decode(packet);
        }

        // ViosFrame + FrameHeader + SubHeader + "disk-daemon" + "ha-daemon" on x64: about 260 bytes.
        var perDecode = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000.0;
        Assert.InRange(perDecode, 1, 320);
    }

    [Fact]
    public void A_send_for_several_listed_nodes_carries_no_destination_and_round_trips()
    {
        var frame = new ViosFrame(
            new FrameHeader(MessageKind.Send, FrameFlags.ResponseRequired, 42, 0x1_0000_0007, NodeIds.None),
            new SubHeader("sender", "receiver") { ResponseRequired = true, ExpectedResponses = 1 },
            "to the listed nodes"u8.ToArray());

        Assert.Equal(frame, FrameCodec.Decode(FrameCodec.Encode(frame)));
    }
}
