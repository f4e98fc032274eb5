using Akka.Actor;
using Vios.Host.Ops.Palettes;

namespace Vios.Host.Tests.Ops;

public sealed class ActorHierarchyActorSpecs : Akka.TestKit.Xunit2.TestKit
{
    [Fact]
    public async Task The_walk_finds_the_actors_under_a_root_to_the_depth_asked()
    {
        Sys.ActorOf(Nest.Props(levels: 3), "nest");
        await AwaitAssertAsync(async () =>
        {
            var deepest = await Sys.ActorSelection("/user/nest/nest-2/nest-1").Ask<ActorIdentity>(new Identify(null), RemainingOrDefault);
            Assert.NotNull(deepest.Subject);
        });
        var done = new TaskCompletionSource<ActorHierarchyWalk>(TaskCreationOptions.RunContinuationsAsynchronously);

        Sys.ActorOf(ActorHierarchyActor.Props(["/user"], 2, done));

        var walk = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["/user", "  /user/nest", "    /user/nest/nest-2"], walk.Result().Lines());
    }

    [Fact]
    public async Task A_root_without_an_actor_is_reported_missing()
    {
        var done = new TaskCompletionSource<ActorHierarchyWalk>(TaskCreationOptions.RunContinuationsAsynchronously);

        Sys.ActorOf(ActorHierarchyActor.Props(["/user/nobody"], 3, done));

        var walk = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["/user/nobody"], walk.MissingRoots);
    }

    /// <summary>A chain of <paramref name="levels"/> actors: nest, nest-(levels-1), ... nest-1.</summary>
    private sealed class Nest : ReceiveActor
    {
        public Nest(int levels)
        {
            if (levels > 1) Context.ActorOf(Props(levels - 1), $"nest-{levels - 1}");
        }

        public static Props Props(int levels) => Akka.Actor.Props.Create(() => new Nest(levels));
    }
}
