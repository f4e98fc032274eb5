using System.Text;
using Spectre.Console;
using Vios.Actors.Cluster;
using Vios.Actors.Cluster.Daemons;

namespace Vios.Host.Demo;

/// <summary>S1 in the demo: one node's daemon broadcasts to every node's echo daemon and collects the responses.</summary>
public sealed class VkeBroadcastEchoStep : IDemoStep
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public string Title => "Broadcast an echo through the VKEs and collect every response";

    public async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        var sender = context.Cluster.ViosNodes[0];
        var payload = Encoding.UTF8.GetBytes($"hello from {sender.Name}");
        // The first broadcast also opens the connections between the nodes; the second shows the usual round trip.
        var cold = await BroadcastAsync(sender, payload);
        var warm = await BroadcastAsync(sender, payload);
        var collected = (ResponsesCollected)warm.Reply;

        context.Console.MarkupLineInterpolated(
            $"    {sender.Name} broadcast \"{Encoding.UTF8.GetString(payload)}\" to echo: {collected.Responses.Count} of {collected.Responses.Count + collected.Missing.Count} nodes answered, round trip {warm.RoundTrip.TotalMilliseconds:0.00} ms (first broadcast {cold.RoundTrip.TotalMilliseconds:0.00} ms)");
        foreach (var response in collected.Responses)
            context.Console.MarkupLineInterpolated($"      {response.Node.Address} answered \"{Encoding.UTF8.GetString(response.Payload)}\"");
        foreach (var missing in collected.Missing)
            context.Console.MarkupLineInterpolated($"      [red]{missing.Address} did not answer[/]");
    }

    private static async Task<SendOutcome> BroadcastAsync(Node.ViosNode sender, byte[] payload)
    {
        var outcome = await OneShotSender.SendAsync(sender.System, sender.Vke!,
            (self, daemon) => Frames.Broadcast(self, daemon, EchoDaemon.Id, payload, responseRequired: true, Timeout),
            Timeout * 2);
        return outcome.Reply is ResponsesCollected
            ? outcome
            : throw new TimeoutException($"the VKE did not collect the responses: {outcome.Reply}");
    }
}
