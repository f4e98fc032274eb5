using Vios.Actors.Cluster;

namespace Vios.Actors.Tests.Cluster;

public sealed class NodeBootHistorySpecs
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Each_boot_is_the_next_incarnation()
    {
        var history = NodeBootHistory.Empty("vios-a");

        var first = history.Decide(new RecordBoot("akka.tcp://vios@h:1", Start));
        history = history.Apply(first);
        var second = history.Decide(new RecordBoot("akka.tcp://vios@h:2", Start.AddMinutes(1)));
        history = history.Apply(second);

        Assert.Equal(1, first.Incarnation);
        Assert.Equal(2, second.Incarnation);
        Assert.Equal(2, history.BootCount);
        Assert.Equal(new NodeBoot(2, "akka.tcp://vios@h:2", Start.AddMinutes(1)), history.LastBoot);
    }

    [Fact]
    public void Only_the_recent_boots_are_kept_in_detail_but_all_are_counted()
    {
        var history = NodeBootHistory.Empty("vios-a");
        for (var i = 0; i < NodeBootHistory.RecentLimit + 5; i++)
            history = history.Apply(history.Decide(new RecordBoot($"akka.tcp://vios@h:{i}", Start.AddSeconds(i))));

        Assert.Equal(NodeBootHistory.RecentLimit + 5, history.BootCount);
        Assert.Equal(NodeBootHistory.RecentLimit, history.RecentBoots.Count);
        Assert.Equal(6, history.RecentBoots[0].Incarnation);
    }

    [Fact]
    public void Replaying_the_same_events_gives_the_same_state()
    {
        var events = Enumerable.Range(1, 5).Select(i => new NodeBooted(i, $"a{i}", Start.AddSeconds(i))).ToList();

        var once = events.Aggregate(NodeBootHistory.Empty("n"), (h, e) => h.Apply(e));
        var again = events.Aggregate(NodeBootHistory.Empty("n"), (h, e) => h.Apply(e));

        Assert.Equivalent(once, again, strict: true);
    }
}
