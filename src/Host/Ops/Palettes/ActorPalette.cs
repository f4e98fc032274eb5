using System.Globalization;
using Akka.Actor;

namespace Vios.Host.Ops.Palettes;

/// <summary>Petabridge.Cmd's actor palette: the actors living on this node.</summary>
public static class ActorPalette
{
    public const int DefaultDepth = 3;
    private const int MaxDepth = 32;
    private static readonly string[] DefaultRoots = ["/user", "/system"];

    /// <summary>A walk takes a quiet period per level; more than this means the node is in trouble.</summary>
    private static readonly TimeSpan WalkTimeout = TimeSpan.FromSeconds(15);

    public static OpsPalette Palette { get; } = new("actor", "the actors of this node",
    [
        new(new CommandSpec("hierarchy", "print the actor tree under /user and /system, or under PATH")
        {
            Options =
            [
                new OptionSpec("depth", 'd', $"how many levels below the start to show (default {DefaultDepth})", "DEPTH"),
                new OptionSpec("start", 's', "the actor path to start from, e.g. /user/boot-log (default /user and /system)", "PATH"),
            ],
        }, HierarchyAsync),
    ]);

    private static async Task<CommandOutcome> HierarchyAsync(CommandContext context)
    {
        var depth = DefaultDepth;
        if (context.Arg("depth") is { } depthText
            && !(int.TryParse(depthText, NumberStyles.None, CultureInfo.InvariantCulture, out depth) && depth is >= 1 and <= MaxDepth))
            return CommandOutcome.BadUsage($"DEPTH '{depthText}' is not a whole number from 1 to {MaxDepth}");
        string[] roots = DefaultRoots;
        if (context.Arg("start") is { } start)
        {
            if (!start.StartsWith('/')) return CommandOutcome.BadUsage($"PATH '{start}' is not an actor path like /user/boot-log");
            roots = [start.Length > 1 ? start.TrimEnd('/') : start];
        }

        var done = new TaskCompletionSource<ActorHierarchyWalk>(TaskCreationOptions.RunContinuationsAsynchronously);
        var system = (ExtendedActorSystem)context.Node.System;
        var walker = system.SystemActorOf(ActorHierarchyActor.Props(roots, depth, done));
        ActorHierarchyWalk walk;
        try
        {
            walk = await done.Task.WaitAsync(WalkTimeout, context.Cancellation);
        }
        catch (TimeoutException)
        {
            return CommandOutcome.Failed($"the walk of the actor tree did not finish within {WalkTimeout.TotalSeconds:0} s");
        }
        finally
        {
            system.Stop(walker);
        }

        if (walk.MissingRoots.Count > 0) return CommandOutcome.Failed($"no actor at {string.Join(", ", walk.MissingRoots)}");
        await context.WriteAsync(walk.Result(), ActorJsonContext.Default.ActorHierarchyView, v => v.Lines());
        return CommandOutcome.Success;
    }
}
