using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Vios.Actors.Serialization;

/// <summary>Turns one message type into bytes and back. Implementations never reflect over a type name.</summary>
public abstract class MessageCodec
{
    public abstract Type MessageType { get; }

    public abstract void Write(object message, IBufferWriter<byte> output);

    /// <summary>Reads a message; malformed input raises <see cref="MessageFormatException"/>.</summary>
    public abstract object Read(ReadOnlySpan<byte> input);
}

/// <summary>A codec backed by System.Text.Json source-generated metadata (no runtime reflection).</summary>
public sealed class JsonMessageCodec<T>(JsonTypeInfo<T> typeInfo) : MessageCodec where T : class
{
    public override Type MessageType => typeof(T);

    public override void Write(object message, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output);
        JsonSerializer.Serialize(writer, (T)message, typeInfo);
    }

    public override object Read(ReadOnlySpan<byte> input)
    {
        try
        {
            return JsonSerializer.Deserialize(input, typeInfo)
                ?? throw new MessageFormatException($"{typeof(T).Name}: payload is JSON null");
        }
        catch (JsonException e)
        {
            throw new MessageFormatException($"{typeof(T).Name}: {e.Message}", e);
        }
    }
}

/// <summary>Bytes that do not decode into the message their manifest names.</summary>
public sealed class MessageFormatException(string message, Exception? inner = null) : Exception(message, inner);
