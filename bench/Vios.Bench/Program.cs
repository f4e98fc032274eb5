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

var seconds = new Option<int>("--seconds") { Description = "measured seconds per case", DefaultValueFactory = _ => 5 };
var payloadBytes = new Option<int>("--payload") { Description = "payload bytes per message", DefaultValueFactory = _ => 64 };
var protocol = new Command("protocol", "S1 round trips through the VKEs against plain Akka request/response, and broadcasts to 4 nodes")
{
    seconds, payloadBytes,
};
protocol.SetAction(async parse =>
{
    var results = await ProtocolBenchmark.RunAsync([1, 16], [1, 8], broadcastNodes: 4,
        TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(payloadBytes), Console.Out);
    Console.WriteLine();
    Console.WriteLine($"S1 protocol, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}, {parse.GetValue(payloadBytes)}-byte payloads, {parse.GetValue(seconds)} s per case");
    Console.WriteLine();
    Console.WriteLine("| path | senders | per second | p50 µs | p99 µs | ratio to plain Akka |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        var plain = results.FirstOrDefault(p => p.Path.StartsWith("plain") && p.Senders == r.Senders && !r.Path.Contains("broadcast"));
        var ratio = plain is null || r.Path.Contains("broadcast") ? "" : (r.PerSecond / plain.PerSecond).ToString("0.00", CultureInfo.InvariantCulture);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Path} | {r.Senders} | {r.PerSecond:0} | {r.P50Micros:0} | {r.P99Micros:0} | {ratio} |"));
    }
    return 0;
});

var root = new RootCommand("Vios.Actors benchmarks (figures go to bench/README.md)") { downing, protocol };
return await root.Parse(args).InvokeAsync();

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
