using Vios.Bench.Chaos;
using Xunit.Abstractions;

namespace Vios.Host.Tests.Chaos;

/// <summary>
/// Two minutes of `bench -- chaos` (issue 12) on real processes: two lighthouses and four vios nodes
/// on SQLite, every kind of fault at least once (SIGKILL and restart, short and long SIGSTOP pauses,
/// a graceful leave, a lighthouse kill). Safety and liveness must hold: no partition on two nodes at
/// once, no committed epoch lost, one writer per stream, every partition a fault hit running again.
/// How fast they came back is measured by the soak in bench/, not asserted here. It runs alone: six
/// processes on two cores are load enough.
/// </summary>
[Collection(ChaosSoakCollection.Name)]
public sealed class ChaosSoakSpecs(ITestOutputHelper output)
{
    private static readonly TimeSpan Faults = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Two_minutes_of_faults_break_no_partition()
    {
        var log = new StringWriter();
        ChaosReport report;
        try
        {
            report = await ChaosSoak.RunAsync(new ChaosOptions(Faults, Seed: 12), log);
        }
        finally
        {
            output.WriteLine(log.ToString());
        }
        var printed = new StringWriter();
        ChaosSoak.Print(report, printed);
        output.WriteLine(printed.ToString());

        Assert.Empty(report.SafetyAndLiveness);
        foreach (var kind in new[] { FaultKind.Kill, FaultKind.ShortPause, FaultKind.LongPause, FaultKind.Leave, FaultKind.LighthouseKill })
            Assert.Contains(report.Faults, f => f.Kind == kind);
        Assert.Contains(report.Recoveries, r => r.Took is not null);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosSoakCollection
{
    public const string Name = "chaos soak";
}
