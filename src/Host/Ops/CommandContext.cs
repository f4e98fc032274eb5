using System.Text.Json.Serialization.Metadata;
using Vios.Host.Node;

namespace Vios.Host.Ops;

/// <summary>Where a command's output goes: to the connection, one reply per call.</summary>
public interface ICommandOutput
{
    ValueTask WriteLineAsync(string line, CancellationToken cancellationToken);

    ValueTask WriteJsonAsync<T>(T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken);
}

/// <summary>
/// One command running on a node. <see cref="Cancellation"/> fires when the client disconnects or
/// the endpoint stops.
/// </summary>
public sealed record CommandContext(
    ViosNode Node,
    IReadOnlyDictionary<string, string> Args,
    bool Json,
    ICommandOutput Output,
    CancellationToken Cancellation)
{
    /// <summary>When the command started (a <see cref="System.Diagnostics.Stopwatch"/> timestamp): a read's budget counts from here.</summary>
    public long Started { get; init; } = System.Diagnostics.Stopwatch.GetTimestamp();

    public string? Arg(string name) => Args.GetValueOrDefault(name);

    public ValueTask WriteLineAsync(string line) => Output.WriteLineAsync(line, Cancellation);

    /// <summary>Writes <paramref name="view"/> as one JSON value under <c>--json</c>, else as text lines.</summary>
    public async ValueTask WriteAsync<T>(T view, JsonTypeInfo<T> typeInfo, Func<T, IEnumerable<string>> text)
    {
        if (Json)
        {
            await Output.WriteJsonAsync(view, typeInfo, Cancellation);
            return;
        }
        foreach (var line in text(view)) await WriteLineAsync(line);
    }
}
