using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vios.Host.Ops;

/// <summary>
/// The wire format between <c>vios ctl</c> and a node's ops endpoint: one TCP connection per request,
/// UTF-8 newline-delimited JSON. The client sends one <see cref="OpsRequest"/> line and keeps the
/// connection open; the endpoint answers with any number of output <see cref="OpsReply"/> lines
/// (text or JSON) and then one final reply carrying the exit code. Closing the connection early
/// cancels the command, which is how a <c>cluster tail</c> ends.
/// </summary>
public static class OpsProtocol
{
    public const int DefaultPort = 9110;

    /// <summary>A request line longer than this is refused without being parsed.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    public const string TokenVariable = "VIOS_OPS_TOKEN";
}

/// <summary>
/// One command for the endpoint; only the palette and the command are required. <paramref name="Args"/>
/// holds positional arguments and options by their spec names; a flag that is set has the value <c>"true"</c>.
/// </summary>
public sealed record OpsRequest(
    string Palette,
    string Command,
    IReadOnlyDictionary<string, string>? Args = null,
    bool Json = false,
    string? Token = null);

/// <summary>
/// One line of an answer: a text line, a JSON value, or the final record with <see cref="Exit"/>
/// (and <see cref="Error"/> when the command failed).
/// </summary>
public sealed record OpsReply
{
    public string? Text { get; init; }
    public JsonElement? Json { get; init; }
    public int? Exit { get; init; }
    public string? Error { get; init; }

    [JsonIgnore]
    public bool IsFinal => Exit is not null;

    public static OpsReply Final(CommandOutcome outcome) => new() { Exit = outcome.ExitCode, Error = outcome.Error };
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(OpsRequest))]
[JsonSerializable(typeof(OpsReply))]
internal sealed partial class OpsJsonContext : JsonSerializerContext;
