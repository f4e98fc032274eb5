using System.Threading.Channels;
using Akka.Actor;
using Vios.Host.Node;
using static Akka.Cluster.ClusterEvent;

namespace Vios.Host.Ops.Palettes;

/// <summary>Petabridge.Cmd's cluster palette: membership as this node sees it, and changes to it.</summary>
public static class ClusterPalette
{
    /// <summary>Cluster events a tail may hold for a slow client before it gives up on it.</summary>
    private const int TailBuffer = 1024;

    private static readonly ArgumentSpec Address = new("address", "ADDR", "a member, akka.tcp://vios@host:port or host:port");

    public static OpsPalette Palette { get; } = new("cluster", "cluster membership as this node sees it",
    [
        new(new CommandSpec("show", "list the members: address, roles, status, reachability"), ShowAsync),
        new(new CommandSpec("status", "this node's membership, name and incarnation"), StatusAsync),
        new(new CommandSpec("leader", "the leader's address"), LeaderAsync),
        new(new CommandSpec("join", "make this node join the cluster that ADDR belongs to") { Arguments = [Address] }, JoinAsync),
        new(new CommandSpec("leave", "make ADDR (default: this node) leave the cluster gracefully")
        {
            Arguments = [Address with { Required = false }],
        }, LeaveAsync),
        new(new CommandSpec("down", "down ADDR: the cluster removes it without its consent") { Arguments = [Address] }, DownAsync),
        new(new CommandSpec("down-unreachable", "down every member this node sees as unreachable"), DownUnreachableAsync),
        new(new CommandSpec("tail", "print the members, then each cluster event as it happens, until Ctrl-C") { Streams = true }, TailAsync),
    ]);

    private static async Task<CommandOutcome> ShowAsync(CommandContext context)
    {
        await context.WriteAsync(MembersView.From(context.Node.Cluster.State), ClusterJsonContext.Default.MembersView, v => v.Lines());
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> StatusAsync(CommandContext context)
    {
        var node = context.Node;
        var self = node.Cluster.SelfMember;
        var view = new NodeStatusView(
            MemberView.From(self, !node.Cluster.State.Unreachable.Contains(self)),
            node.Name,
            node.Role == NodeRole.Lighthouse ? "lighthouse" : "vios",
            node.BootLog is null ? null : node.Incarnation);
        await context.WriteAsync(view, ClusterJsonContext.Default.NodeStatusView, v => v.Lines());
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> LeaderAsync(CommandContext context)
    {
        if (context.Node.Cluster.State.Leader is not { } leader) return CommandOutcome.Failed("this node sees no leader yet");
        await context.WriteAsync(new LeaderView(leader.ToString()), ClusterJsonContext.Default.LeaderView, v => [v.Leader!]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> JoinAsync(CommandContext context)
    {
        if (!MemberAddress.TryParse(context.Arg("address")!, out var address, out var error)) return CommandOutcome.Failed(error);
        context.Node.Cluster.Join(address);
        await WriteChangeAsync(context, "joining", [address]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> LeaveAsync(CommandContext context)
    {
        var address = context.Node.SelfAddress;
        if (context.Arg("address") is { } text && !MemberAddress.TryParse(text, out address, out var error)) return CommandOutcome.Failed(error);
        if (NotAMember(context, address) is { } notMember) return notMember;
        context.Node.Cluster.Leave(address);
        await WriteChangeAsync(context, "leaving", [address]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> DownAsync(CommandContext context)
    {
        if (!MemberAddress.TryParse(context.Arg("address")!, out var address, out var error)) return CommandOutcome.Failed(error);
        if (NotAMember(context, address) is { } notMember) return notMember;
        context.Node.Cluster.Down(address);
        await WriteChangeAsync(context, "downing", [address]);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> DownUnreachableAsync(CommandContext context)
    {
        var unreachable = context.Node.Cluster.State.Unreachable.Select(m => m.Address).ToList();
        foreach (var address in unreachable) context.Node.Cluster.Down(address);
        await WriteChangeAsync(context, "downing", unreachable);
        return CommandOutcome.Success;
    }

    private static async Task<CommandOutcome> TailAsync(CommandContext context)
    {
        var events = Channel.CreateBounded<object>(new BoundedChannelOptions(TailBuffer) { SingleReader = true, SingleWriter = true });
        var system = (ExtendedActorSystem)context.Node.System;
        var tail = system.SystemActorOf(ClusterTailActor.Props(events.Writer));
        try
        {
            await foreach (var item in events.Reader.ReadAllAsync(context.Cancellation))
            {
                switch (item)
                {
                    case CurrentClusterState state:
                        await context.WriteAsync(MembersView.From(state), ClusterJsonContext.Default.MembersView, v => v.Lines());
                        break;
                    case IClusterDomainEvent clusterEvent when ClusterEventView.From(clusterEvent, DateTimeOffset.UtcNow) is { } view:
                        await context.WriteAsync(view, ClusterJsonContext.Default.ClusterEventView, v => [v.ToLine()]);
                        break;
                }
            }
            return CommandOutcome.Failed("the node ended the tail: it is shutting down");
        }
        catch (ClusterTailOverflow overflow)
        {
            return CommandOutcome.Failed(overflow.Message);
        }
        finally
        {
            system.Stop(tail);
        }
    }

    private static CommandOutcome? NotAMember(CommandContext context, Address address) =>
        context.Node.Cluster.State.Members.Any(m => m.Address.Equals(address))
            ? null
            : CommandOutcome.Failed($"{address} is not a member of the cluster as this node sees it (see `cluster show`)");

    private static ValueTask WriteChangeAsync(CommandContext context, string action, IEnumerable<Address> addresses) =>
        context.WriteAsync(
            new MembershipChangeView(action, addresses.Select(a => a.ToString()).ToList()),
            ClusterJsonContext.Default.MembershipChangeView,
            v => v.Lines());
}
