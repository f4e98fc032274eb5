using System.Buffers;
using Vios.Actors.Protocol;

namespace Vios.Actors.Serialization;

/// <summary>A message that is a byte array: written as those bytes, read back as them.</summary>
public sealed class BytesMessageCodec<T>(Func<T, byte[]> bytes, Func<byte[], T> create) : MessageCodec where T : class
{
    public override Type MessageType => typeof(T);

    public override void Write(object message, IBufferWriter<byte> output) => output.Write(bytes((T)message));

    public override object Read(ReadOnlySpan<byte> input) => create(input.ToArray());
}

/// <summary>A message that carries one VIOS frame: written with the frame codec, validated when read.</summary>
public sealed class FrameMessageCodec<T>(Func<T, ViosFrame> frame, Func<ViosFrame, T> create) : MessageCodec where T : class
{
    public override Type MessageType => typeof(T);

    public override void Write(object message, IBufferWriter<byte> output) => FrameCodec.Encode(frame((T)message), output);

    public override object Read(ReadOnlySpan<byte> input)
    {
        try
        {
            return create(FrameCodec.Decode(input.ToArray()));
        }
        catch (ProtocolException e)
        {
            throw new MessageFormatException($"{typeof(T).Name}: {e.Message}", e);
        }
    }
}
