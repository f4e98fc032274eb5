using System.Buffers;
using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

/// <summary>The encoder refuses, with the decoder's error kinds, every frame the decoder would refuse.</summary>
public sealed class FrameEncoderRefusalSpecs
{
    private static readonly FrameHeader Send = new(MessageKind.Send, FrameFlags.None, 1, 1, 2);
    private static readonly SubHeader Daemons = new("sender", "receiver");

    public static TheoryData<string, ProtocolErrorKind, string> Refusals => new()
    {
        { "version 2", ProtocolErrorKind.UnsupportedVersion, "version 2 is not supported" },
        { "kind 9", ProtocolErrorKind.MalformedHeader, "message kind 9" },
        { "unknown flag", ProtocolErrorKind.MalformedHeader, "flags 0x40" },
        { "message id 0", ProtocolErrorKind.MalformedHeader, "message id is 0" },
        { "no source", ProtocolErrorKind.MalformedHeader, "source node is NodeIds.None" },
        { "broadcast with a destination", ProtocolErrorKind.MalformedHeader, "a broadcast names destination node 2" },
        { "empty daemon id", ProtocolErrorKind.MalformedEntry, "SendingDaemon (0x8001) is 0 bytes of UTF-8" },
        { "256-byte daemon id", ProtocolErrorKind.MalformedEntry, "ReceivingDaemon (0x8002) is 256 bytes of UTF-8" },
        { "lone surrogate", ProtocolErrorKind.MalformedEntry, "contains a lone surrogate" },
        { "null daemon id", ProtocolErrorKind.MalformedEntry, "SendingDaemon (0x8001) is null" },
        { "flag without sub-header", ProtocolErrorKind.MalformedEntry, "ResponseRequired flag is set" },
        { "sub-header without flag", ProtocolErrorKind.MalformedEntry, "ResponseRequired entry is present" },
        { "expected without required", ProtocolErrorKind.MalformedEntry, "3 expected responses on a frame that requires none" },
        { "negative expected", ProtocolErrorKind.MalformedEntry, "expected responses is -1" },
        { "response without correlation", ProtocolErrorKind.MalformedEntry, "a Response frame has no correlation id" },
        { "sub-millisecond timeout", ProtocolErrorKind.MalformedEntry, "not a whole number of milliseconds" },
        { "negative timeout", ProtocolErrorKind.MalformedEntry, "outside 0..4294967295 ms" },
        { "timeout beyond uint32 ms", ProtocolErrorKind.MalformedEntry, "outside 0..4294967295 ms" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_frame_the_decoder_would_refuse_is_not_written(string fault, ProtocolErrorKind kind, string named)
    {
        var frame = fault switch
        {
            "version 2" => new ViosFrame(Send with { Version = 2 }, Daemons, default),
            "kind 9" => new ViosFrame(Send with { Kind = (MessageKind)9 }, Daemons, default),
            "unknown flag" => new ViosFrame(Send with { Flags = (FrameFlags)0x40 }, Daemons, default),
            "message id 0" => new ViosFrame(Send with { MessageId = 0 }, Daemons, default),
            "no source" => new ViosFrame(Send with { SourceNode = NodeIds.None }, Daemons, default),
            "broadcast with a destination" => new ViosFrame(Send with { Flags = FrameFlags.Broadcast }, Daemons, default),
            "empty daemon id" => new ViosFrame(Send, Daemons with { SendingDaemon = "" }, default),
            "256-byte daemon id" => new ViosFrame(Send, Daemons with { ReceivingDaemon = new string('é', 128) }, default),
            "lone surrogate" => new ViosFrame(Send, Daemons with { SendingDaemon = "vke\uD83D" }, default),
            "null daemon id" => new ViosFrame(Send, Daemons with { SendingDaemon = null! }, default),
            "flag without sub-header" => new ViosFrame(Send with { Flags = FrameFlags.ResponseRequired }, Daemons, default),
            "sub-header without flag" => new ViosFrame(Send, Daemons with { ResponseRequired = true }, default),
            "expected without required" => new ViosFrame(Send, Daemons with { ExpectedResponses = 3 }, default),
            "negative expected" => new ViosFrame(Send with { Flags = FrameFlags.ResponseRequired }, Daemons with { ResponseRequired = true, ExpectedResponses = -1 }, default),
            "response without correlation" => new ViosFrame(Send with { Kind = MessageKind.Response }, Daemons, default),
            "sub-millisecond timeout" => new ViosFrame(Send, Daemons with { Timeout = TimeSpan.FromTicks(15_000) }, default),
            "negative timeout" => new ViosFrame(Send, Daemons with { Timeout = TimeSpan.FromMilliseconds(-1) }, default),
            "timeout beyond uint32 ms" => new ViosFrame(Send, Daemons with { Timeout = TimeSpan.FromMilliseconds(uint.MaxValue + 1L) }, default),
            _ => throw new ArgumentOutOfRangeException(nameof(fault), fault, null),
        };
        var output = new ArrayBufferWriter<byte>();

        var error = Assert.Throws<ProtocolException>(() => FrameCodec.Encode(frame));
        Assert.Throws<ProtocolException>(() => FrameCodec.Encode(frame, output));

        Assert.Equal(kind, error.Kind);
        Assert.Contains(named, error.Message);
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void The_limits_themselves_are_written()
    {
        var frame = new ViosFrame(
            new FrameHeader(MessageKind.Error, FrameFlags.Broadcast | FrameFlags.ResponseRequired, ulong.MaxValue, ulong.MaxValue, NodeIds.None),
            new SubHeader(new string('d', 255), "🙂")
            {
                ResponseRequired = true,
                ExpectedResponses = int.MaxValue,
                CorrelationId = ulong.MaxValue,
                Timeout = TimeSpan.FromMilliseconds(uint.MaxValue),
            },
            default);

        Assert.Equal(frame, FrameCodec.Decode(FrameCodec.Encode(frame)));
    }
}
