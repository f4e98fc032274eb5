using System.Text.Json;
using Akka.Event;
using Vios.Host.Node;

namespace Vios.Host.Ops;

/// <summary>
/// Turns one request line into a command run on the node: parses it, checks the token, finds the
/// palette and command, validates the arguments, and runs the handler. Every problem, a handler's
/// exception included, becomes an outcome; only cancellation propagates.
/// </summary>
public sealed class OpsDispatcher(PaletteRegistry registry, ViosNode node, OpsTokenCheck tokenCheck, ILoggingAdapter log)
{
    public async Task<CommandOutcome> DispatchAsync(ReadOnlyMemory<byte> line, ICommandOutput output, CancellationToken cancellationToken)
    {
        OpsRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(line.Span, OpsJsonContext.Default.OpsRequest);
        }
        catch (JsonException e)
        {
            return CommandOutcome.BadUsage($"the request is not an ops request: {e.Message}");
        }
        if (request is null) return CommandOutcome.BadUsage("the request is not an ops request: null");

        if (tokenCheck.Refusal(request.Token) is { } refusal) return CommandOutcome.Failed(refusal);

        if (registry.Find(request.Palette) is not { } palette)
            return CommandOutcome.BadUsage($"unknown palette '{request.Palette}'; available palettes:\n{registry.Listing()}");
        if (palette.Find(request.Command) is not { } command)
            return CommandOutcome.BadUsage($"unknown command '{request.Command}' in palette '{palette.Name}'; its commands:\n{palette.Listing()}");

        var args = request.Args ?? new Dictionary<string, string>();
        if (command.Spec.Validate(args) is { } problem) return CommandOutcome.BadUsage(problem);

        try
        {
            return await command.Handler(new CommandContext(node, args, request.Json, output, cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            log.Error(e, "ops command {0} {1} failed", palette.Name, command.Spec.Name);
            return CommandOutcome.Failed($"{palette.Name} {command.Spec.Name} failed on the node: {e.GetType().Name}: {e.Message}");
        }
    }
}
