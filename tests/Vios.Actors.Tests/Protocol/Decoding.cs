using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

internal static class Decoding
{
    /// <summary>
    /// Decode must refuse the packet with a <see cref="ProtocolException"/>, and TryDecode must
    /// report the same error without throwing.
    /// </summary>
    public static ProtocolException Refused(byte[] packet, int maxPayload = FrameLayout.DefaultMaxPayload)
    {
        var error = Assert.Throws<ProtocolException>(() => FrameCodec.Decode(packet, maxPayload));
        Assert.False(FrameCodec.TryDecode(packet, maxPayload, out var frame, out var tryError));
        Assert.Null(frame);
        Assert.Equal(error.Kind, tryError.Kind);
        Assert.Equal(error.Message, tryError.Message);
        return error;
    }

    /// <summary>
    /// The decoder's contract on arbitrary input: TryDecode does not throw, Decode throws nothing
    /// but <see cref="ProtocolException"/> (anything else escapes and fails the test), both agree,
    /// and whatever decodes can be written again and reads back the same.
    /// </summary>
    public static ViosFrame? DecodesOrRefuses(byte[] packet, int maxPayload = FrameLayout.DefaultMaxPayload)
    {
        var accepted = FrameCodec.TryDecode(packet, maxPayload, out var frame, out var error);
        Assert.True(accepted ^ (error is not null));

        ViosFrame? decoded = null;
        try
        {
            decoded = FrameCodec.Decode(packet, maxPayload);
        }
        catch (ProtocolException thrown)
        {
            Assert.False(accepted);
            Assert.Equal(error!.Kind, thrown.Kind);
        }

        if (accepted)
        {
            Assert.Equal(frame, decoded);
            Assert.Equal(frame, FrameCodec.Decode(FrameCodec.Encode(frame!, maxPayload), maxPayload));
        }

        return frame;
    }
}
