using Vios.Host.Ops.Palettes;

namespace Vios.Host.Tests.Ops;

public sealed class ActorHierarchyWalkSpecs
{
    [Fact]
    public void Children_are_probed_only_above_the_depth_limit()
    {
        var walk = new ActorHierarchyWalk(["/user"], maxDepth: 2, walkerPath: "/system/$walker");

        Assert.True(walk.Found("/user", 0));
        Assert.True(walk.Found("/user/a", 1));
        Assert.False(walk.Found("/user/a/b", 2));
    }

    [Fact]
    public void The_result_lists_each_root_then_its_descendants_depth_first_by_name()
    {
        var walk = new ActorHierarchyWalk(["/user", "/system"], maxDepth: 3, walkerPath: "/system/$walker");
        foreach (var (path, depth) in new[]
                 {
                     ("/system", 0), ("/user/b", 1), ("/system/log", 1), ("/user", 0), ("/user/a/x", 2), ("/user/a", 1), ("/user/a-b", 1),
                 })
            walk.Found(path, depth);

        Assert.Equal(
            ["/user", "  /user/a", "    /user/a/x", "  /user/a-b", "  /user/b", "/system", "  /system/log"],
            walk.Result().Lines());
    }

    [Fact]
    public void The_walker_itself_and_actors_found_twice_are_left_out()
    {
        var walk = new ActorHierarchyWalk(["/system"], maxDepth: 3, walkerPath: "/system/$walker");

        walk.Found("/system", 0);
        Assert.False(walk.Found("/system/$walker", 1));
        Assert.True(walk.Found("/system/log", 1));
        Assert.False(walk.Found("/system/log", 1));

        Assert.Equal(["/system", "  /system/log"], walk.Result().Lines());
    }

    [Fact]
    public void A_missing_root_is_reported()
    {
        var walk = new ActorHierarchyWalk(["/user/gone"], maxDepth: 3, walkerPath: "/system/$walker");

        walk.RootMissing("/user/gone");

        Assert.Equal(["/user/gone"], walk.MissingRoots);
        Assert.Empty(walk.Result().Actors);
    }
}
