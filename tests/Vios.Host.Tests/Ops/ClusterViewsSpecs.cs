using Vios.Host.Ops.Palettes;

namespace Vios.Host.Tests.Ops;

public sealed class ClusterViewsSpecs
{
    [Fact]
    public void A_member_line_follows_pbm_and_marks_an_unreachable_member()
    {
        Assert.Equal(
            "akka.tcp://vios@127.0.0.1:4053 | [lighthouse] | up |",
            new MemberView("akka.tcp://vios@127.0.0.1:4053", ["lighthouse"], "up", true).ToLine());
        Assert.Equal(
            "akka.tcp://vios@127.0.0.1:4054 | [a, b] | leaving | unreachable |",
            new MemberView("akka.tcp://vios@127.0.0.1:4054", ["a", "b"], "leaving", false).ToLine());
    }

    [Fact]
    public void The_member_list_ends_with_the_count()
    {
        var one = new MemberView("akka.tcp://vios@h:1", ["vios"], "up", true);

        Assert.Equal([one.ToLine(), "Count: 1 node"], new MembersView([one], 1).Lines());
        Assert.Equal([one.ToLine(), one.ToLine(), "Count: 2 nodes"], new MembersView([one, one], 2).Lines());
    }

    [Fact]
    public void A_tail_line_has_the_time_the_event_the_address_and_the_roles()
    {
        var time = new DateTimeOffset(2026, 11, 22, 21, 5, 9, TimeSpan.FromHours(1));

        Assert.Equal(
            "20:05:09Z member-up | akka.tcp://vios@h:1 | [vios] |",
            new ClusterEventView(time, "member-up", "akka.tcp://vios@h:1", ["vios"]).ToLine());
        Assert.Equal("20:05:09Z leader-changed | none |", new ClusterEventView(time, "leader-changed", null, null).ToLine());
    }
}
