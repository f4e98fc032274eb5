using Akka.Actor;

namespace Vios.Host.Ops.Palettes;

/// <summary>
/// Walks the actor tree as Petabridge.Cmd does: <c>Identify</c> each root, then
/// <c>Identify</c> to <c>child-selection/*</c> of every actor found, within the depth limit. A
/// wildcard selection answers once per child and says nothing when there is none, so the walk ends
/// after <see cref="QuietPeriod"/> without a reply; the result goes to <c>done</c> when the actor stops.
/// </summary>
public sealed class ActorHierarchyActor : ReceiveActor
{
    /// <summary>
    /// Local <c>Identify</c> replies come within milliseconds; 300 ms without one ends the walk, so that
    /// the whole command answers within a second (issue 12) even on a loaded machine.
    /// </summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromMilliseconds(300);

    private readonly IReadOnlyList<string> _roots;
    private readonly ActorHierarchyWalk _walk;
    private readonly TaskCompletionSource<ActorHierarchyWalk> _done;

    public ActorHierarchyActor(IReadOnlyList<string> roots, int maxDepth, TaskCompletionSource<ActorHierarchyWalk> done)
    {
        _roots = roots;
        _done = done;
        _walk = new ActorHierarchyWalk(roots, maxDepth, Self.Path.ToStringWithoutAddress());
        Receive<ActorIdentity>(Identified);
        Receive<ReceiveTimeout>(_ => Context.Stop(Self));
    }

    public static Props Props(IReadOnlyList<string> roots, int maxDepth, TaskCompletionSource<ActorHierarchyWalk> done) =>
        Akka.Actor.Props.Create(() => new ActorHierarchyActor(roots, maxDepth, done));

    protected override void PreStart()
    {
        foreach (var root in _roots) Context.ActorSelection(root).Tell(new Identify(new RootProbe(root)), Self);
        Context.SetReceiveTimeout(QuietPeriod);
    }

    protected override void PostStop() => _done.TrySetResult(_walk);

    private void Identified(ActorIdentity identity)
    {
        switch (identity.MessageId, identity.Subject)
        {
            case (RootProbe root, null):
                _walk.RootMissing(root.Path);
                break;
            case (RootProbe, { } actor):
                Probe(actor, 0);
                break;
            case (ChildrenProbe children, { } actor):
                Probe(actor, children.Depth);
                break;
        }
    }

    private void Probe(IActorRef actor, int depth)
    {
        if (_walk.Found(actor.Path.ToStringWithoutAddress(), depth))
            new ActorSelection(actor, "*").Tell(new Identify(new ChildrenProbe(depth + 1)), Self);
    }

    private sealed record RootProbe(string Path);

    private sealed record ChildrenProbe(int Depth);
}
