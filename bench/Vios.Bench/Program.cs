using System.CommandLine;
using System.Globalization;
using Vios.Bench;

var rounds = new Option<int>("--rounds") { Description = "kills per profile", DefaultValueFactory = _ => 5 };
var profiles = new Option<string[]>("--profiles")
{
    Description = "settings to compare (files in profiles/)",
    DefaultValueFactory = _ => ["vios", "akka-defaults"],
    AllowMultipleArgumentsPerToken = true,
};
var downing = new Command("downing", "SIGKILL a vios node process; time until the survivors mark it unreachable, down it and remove it")
{
    rounds, profiles,
};
downing.SetAction(async parse =>
{
    var all = new List<DowningBenchmark.Round>();
    foreach (var profile in parse.GetValue(profiles)!)
    {
        Console.WriteLine($"profile {profile}:");
        all.AddRange(await DowningBenchmark.RunAsync(profile, parse.GetValue(rounds), Console.Out));
    }

    Console.WriteLine();
    Console.WriteLine($"Downing after SIGKILL, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}, {parse.GetValue(rounds)} kills per profile (seconds from the kill)");
    Console.WriteLine();
    Console.WriteLine("| profile | unreachable p50 | downed p50 | removed p50 | removed max |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var group in all.GroupBy(r => r.Profile))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {group.Key} | {Median(group.Select(r => r.UnreachableSeconds)):0.0} | {Median(group.Select(r => r.DownedSeconds)):0.0} | {Median(group.Select(r => r.RemovedSeconds)):0.0} | {group.Max(r => r.RemovedSeconds):0.0} |"));
    }
    return 0;
});

var root = new RootCommand("Vios.Actors benchmarks (figures go to bench/README.md)") { downing };
return await root.Parse(args).InvokeAsync();

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
