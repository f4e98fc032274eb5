using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Vios.Host.Ops;

/// <summary>Writes replies to a connection, one JSON line each, sent at once so that tails stream.</summary>
internal sealed class OpsReplyWriter(Stream stream) : ICommandOutput
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);

    public ValueTask WriteLineAsync(string line, CancellationToken cancellationToken) =>
        WriteAsync(new OpsReply { Text = line }, cancellationToken);

    public ValueTask WriteJsonAsync<T>(T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken) =>
        WriteAsync(new OpsReply { Json = JsonSerializer.SerializeToElement(value, typeInfo) }, cancellationToken);

    public ValueTask WriteFinalAsync(CommandOutcome outcome, CancellationToken cancellationToken) =>
        WriteAsync(OpsReply.Final(outcome), cancellationToken);

    private async ValueTask WriteAsync(OpsReply reply, CancellationToken cancellationToken)
    {
        _buffer.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_buffer))
        {
            JsonSerializer.Serialize(json, reply, OpsJsonContext.Default.OpsReply);
        }
        _buffer.Write("\n"u8);
        await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken);
    }
}
