using System.CommandLine;
using Spectre.Console;

namespace Vios.Host.Demo;

/// <summary><c>vios demo</c>: a lighthouse and three vios nodes in one process, end to end.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var data = new Option<string?>("--data") { Description = "keep the nodes' data here (default: a temp directory, removed afterwards)" };
        var nodes = new Option<int>("--nodes") { Description = "number of vios nodes", DefaultValueFactory = _ => 3 };
        var keepRunning = new Option<bool>("--keep-running") { Description = "after the summary, keep the cluster up until Ctrl-C" };
        var logLevel = new Option<string>("--log-level") { Description = "console log level of the nodes", DefaultValueFactory = _ => "warning" };
        var command = new Command("demo", "Run a lighthouse and three vios nodes in one process, print a summary, leave") { data, nodes, keepRunning, logLevel };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var count = parse.GetValue(nodes);
            if (count is < 1 or > 16)
            {
                Console.Error.WriteLine("vios demo: --nodes must be between 1 and 16");
                return 2;
            }
            // Spectre assumes 80 columns when output is redirected; the summary table needs more.
            if (Console.IsOutputRedirected) AnsiConsole.Console.Profile.Width = 160;
            return await DemoRunner.RunAsync(new DemoOptions
            {
                DataDirectory = parse.GetValue(data),
                ViosNodes = count,
                KeepRunning = parse.GetValue(keepRunning),
                LogLevel = parse.GetValue(logLevel)!,
            }, AnsiConsole.Console, cancellationToken);
        });
        return command;
    }
}
