using Akka.Actor;
using Vios.Actors.Partitions;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// How the <c>lpar</c> and <c>checkpoint</c> palettes reach the partition manager with a command:
/// through this node's proxy, with a timeout, every failure turned into an <see cref="LparRefused"/>
/// the palette reports. While the manager moves (its node impaired as this node's view sees it) the
/// command is not sent at all: the proxy would buffer it until the handover, and the operator would
/// wait for seconds without a word (issue 12).
/// </summary>
internal static class PartitionManagerClient
{
    public static async Task<object> AskAsync(CommandContext context, object message, TimeSpan timeout)
    {
        if (context.Node.PartitionManager is not { } manager)
            return new LparRefused("", "this node has no partition manager proxy: it is a lighthouse; ask a vios node");
        var view = await LiveAnswers.ViewAsync(context);
        if (LiveAnswers.SingletonMoving(view.PartitionsAge(LiveAnswers.Now)) is { } moving) return new LparRefused("", moving);
        try
        {
            return await manager.Ask<object>(message, timeout, context.Cancellation);
        }
        catch (AskTimeoutException)
        {
            return new LparRefused("", $"the partition manager did not answer within {timeout.TotalSeconds:0} s (is the cluster up, with a vios node?)");
        }
    }

    /// <summary>The outcome of a reply that is not the one the command wanted.</summary>
    public static CommandOutcome Refused(object reply) => reply switch
    {
        LparRefused refused => CommandOutcome.Failed(refused.Reason),
        LparNodeUnavailable unavailable => CommandOutcome.Failed($"{unavailable.Reason}; it was not sent (last known state {Lower(unavailable.LastKnownState)})"),
        NoLiveAnswer none => CommandOutcome.Failed(none.Reason),
        _ => CommandOutcome.Failed($"unexpected reply {reply.GetType().Name}"),
    };

    public static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}
