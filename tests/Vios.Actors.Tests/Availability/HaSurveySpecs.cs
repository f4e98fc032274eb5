using Akka.Cluster;
using Vios.Actors.Availability;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>One survey of the HA manager (<see cref="HaSurvey"/>), decided without an actor or a cluster.</summary>
public sealed class HaSurveySpecs
{
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly AvailabilitySettings Settings = AvailabilitySettings.Default;

    private const string A = "akka.tcp://vios@127.0.0.1:4100";
    private const string B = "akka.tcp://vios@127.0.0.1:4101";
    private const string C = "akka.tcp://vios@127.0.0.1:4102";

    private static readonly MemberView[] AllUp = [new(A, MemberStatus.Up, true), new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true)];

    [Fact]
    public void A_first_survey_declares_a_record_for_each_partition_and_leaves_the_registry_to_the_journal()
    {
        var registry = new HaRegistry();
        var list = HaManagerHarness.List([HaManagerHarness.Running("p", "a"), HaManagerHarness.Running("q", "b")], "a", "b", "c");

        var decision = HaSurvey.Decide(list, registry, Detector(), new StandbyUpkeep(Settings), AllUp, new HashSet<string>(), Start);

        Assert.True(decision.Complete);
        Assert.Equal(["p", "q"], decision.Events.OfType<AvailabilityDeclared>().Select(d => d.Lpar));
        Assert.Empty(registry.Records);
    }

    [Fact]
    public void A_list_without_every_live_vios_node_declares_records_but_fails_nothing()
    {
        var registry = Declared(HaManagerHarness.List([HaManagerHarness.Running("p", "a")], "a", "b", "c"));
        var detector = Detector();
        // a was downed; b is Up but has not registered with the new partition manager yet.
        const string d = "akka.tcp://vios@127.0.0.1:4103";
        var members = new MemberView[] { new(A, MemberStatus.Down, true), new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true), new(d, MemberStatus.Up, true) };
        detector.Learn(HaManagerHarness.List([], "a", "b", "c", "d"));
        detector.Removed(A, left: false);
        var partial = HaManagerHarness.List([HaManagerHarness.Running("p", "a"), HaManagerHarness.Running("r", "c")], "c", "d") with
        {
            NodeAddresses = new Dictionary<string, string> { ["c"] = C, ["d"] = d },
        };

        var decision = HaSurvey.Decide(partial, registry, detector, new StandbyUpkeep(Settings), members, new HashSet<string>(), Start);

        Assert.False(decision.Complete);
        Assert.Equal("r", Assert.IsType<AvailabilityDeclared>(Assert.Single(decision.Events)).Lpar);
    }

    [Fact]
    public void A_complete_list_with_a_dead_node_plans_the_restart_of_its_partition_on_a_live_one()
    {
        var list = HaManagerHarness.List([HaManagerHarness.Running("p", "a")], "a", "b", "c");
        var registry = Declared(list);
        var detector = Detector();
        detector.Learn(list);
        detector.Removed(A, left: false);
        var members = new MemberView[] { new(B, MemberStatus.Up, true), new(C, MemberStatus.Up, true) };
        var survivors = HaManagerHarness.List([HaManagerHarness.Running("p", "a")], "b", "c");

        var decision = HaSurvey.Decide(survivors, registry, detector, new StandbyUpkeep(Settings), members, new HashSet<string>(), Start);

        var planned = Assert.Single(decision.Events.OfType<RestartPlanned>());
        Assert.Equal("p", planned.Lpar);
        Assert.Contains(planned.TargetNode, new[] { "b", "c" });
        // Being restarted already: not planned twice.
        Assert.Empty(HaSurvey.Decide(survivors, registry, detector, new StandbyUpkeep(Settings), members, new HashSet<string> { "p" }, Start).Events);
    }

    private static FailureDetector Detector() => new(Settings.StartupGrace, Settings.LeaveRemembered, Start);

    private static HaRegistry Declared(Actors.Partitions.LparList list)
    {
        var registry = new HaRegistry();
        foreach (var e in HaSurvey.Decide(list, registry, Detector(), new StandbyUpkeep(Settings), AllUp, new HashSet<string>(), Start).Events) registry.Apply(e);
        return registry;
    }
}
