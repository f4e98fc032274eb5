using System.CommandLine;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;

namespace Vios.Host.Ops;

/// <summary>
/// <c>vios ctl [--endpoint HOST:PORT] [--json] [--token T | --ops-token-file PATH] &lt;palette&gt; &lt;command&gt; [args]</c>:
/// Petabridge.Cmd's <c>pbm</c> for vios nodes. The palettes and commands are built from
/// <see cref="PaletteRegistry.Default"/>, so help and local validation follow the specs the node serves.
/// </summary>
public static class CtlCommand
{
    private const string Usage =
        "usage: vios ctl [--endpoint HOST:PORT] [--json] [--token T | --ops-token-file PATH] <palette> <command> [args]  (--help for more)";

    public static Command Create() => Build(PaletteRegistry.Default, Environment.GetEnvironmentVariable);

    /// <summary>Runs <c>vios ctl</c> with <paramref name="args"/> (the words after <c>ctl</c>) and returns its exit code.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        RunAsync(args, stdout, stderr, Environment.GetEnvironmentVariable, cancellationToken);

    /// <summary>The same with the environment given (<see cref="OpsProtocol.TokenVariable"/> is read from it).</summary>
    public static Task<int> RunAsync(
        string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("vios") { Build(PaletteRegistry.Default, environment) };
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return root.Parse(["ctl", .. args]).InvokeAsync(invocation, cancellationToken);
    }

    private static Command Build(PaletteRegistry registry, Func<string, string?> environment)
    {
        var common = new CommonOptions(environment);
        var ctl = new Command("ctl", "Run a command on a node through its ops endpoint (as Petabridge.Cmd's pbm)")
        {
            common.Endpoint, common.Json, common.Token, common.TokenFile,
        };
        ctl.Action = new ListingAction(registry, palette: null);
        foreach (var palette in registry.Palettes)
        {
            var paletteCommand = new Command(palette.Name, palette.Description) { Action = new ListingAction(registry, palette) };
            foreach (var command in palette.Commands) paletteCommand.Subcommands.Add(BuildCommand(common, palette, command.Spec));
            ctl.Subcommands.Add(paletteCommand);
        }
        return ctl;
    }

    private static Command BuildCommand(CommonOptions common, OpsPalette palette, CommandSpec spec)
    {
        var command = new Command(spec.Name, spec.Description);
        var arguments = spec.Arguments.Select(a => (a.Name, Symbol: new Argument<string>(a.Name)
        {
            Description = a.Description,
            HelpName = a.ValueName,
            Arity = a.Required ? ArgumentArity.ExactlyOne : ArgumentArity.ZeroOrOne,
        })).ToList();
        var options = spec.Options.Select(o => (o.Name, Symbol: o.TakesValue
            ? (Option)new Option<string>($"--{o.Name}", Aliases(o)) { Description = o.Description, HelpName = o.ValueName }
            : new Option<bool>($"--{o.Name}", Aliases(o)) { Description = o.Description })).ToList();
        foreach (var (_, argument) in arguments) command.Arguments.Add(argument);
        foreach (var (_, option) in options) command.Options.Add(option);

        command.Action = new SendAction(common, palette, spec, parse =>
        {
            var args = new Dictionary<string, string>();
            foreach (var (name, argument) in arguments)
                if (parse.GetValue(argument) is { } value) args[name] = value;
            foreach (var (name, option) in options)
            {
                switch (option)
                {
                    case Option<string> valued when parse.GetValue(valued) is { } value:
                        args[name] = value;
                        break;
                    case Option<bool> flag when parse.GetValue(flag):
                        args[name] = "true";
                        break;
                }
            }
            return args;
        });
        return command;
    }

    private static string[] Aliases(OptionSpec option) => option.ShortName is { } s ? [$"-{s}"] : [];

    private static int Fail(TextWriter stderr, string problem, string listingTitle, string listing)
    {
        stderr.WriteLine($"vios ctl: {problem}");
        stderr.WriteLine(listingTitle);
        stderr.WriteLine(listing);
        stderr.WriteLine(Usage);
        return ExitCodes.Usage;
    }

    /// <summary>The options every command takes; recursive, so they may follow the command too.</summary>
    private sealed class CommonOptions(Func<string, string?> environment)
    {
        public Option<string> Endpoint { get; } = new("--endpoint")
        {
            Description = "the node's ops endpoint HOST:PORT",
            HelpName = "HOST:PORT",
            DefaultValueFactory = _ => OpsEndpointAddress.Default.ToString(),
            Recursive = true,
        };

        public Option<bool> Json { get; } = new("--json") { Description = "print JSON for scripts instead of text", Recursive = true };

        public Option<string> Token { get; } = new("--token")
        {
            Description = $"the node's ops token (default: ${OpsProtocol.TokenVariable})",
            HelpName = "T",
            Recursive = true,
        };

        public Option<string> TokenFile { get; } = new("--ops-token-file", "--token-file")
        {
            Description = "a file holding the node's ops token (keeps it out of the process list)",
            HelpName = "PATH",
            Recursive = true,
        };

        /// <summary>An explicit --token wins, even empty (no token); then --ops-token-file; otherwise the environment's.</summary>
        public (string? Token, string? Problem) TokenFrom(ParseResult parse)
        {
            var flag = parse.GetResult(Token) is null ? null : parse.GetValue(Token) ?? "";
            var file = parse.GetResult(TokenFile) is null ? null : parse.GetValue(TokenFile);
            return OpsTokenSource.Resolve(flag, file, environment(OpsProtocol.TokenVariable), "--token", "--ops-token-file");
        }
    }

    /// <summary>
    /// <c>vios ctl</c> or <c>vios ctl PALETTE</c> without a (known) command: list what there is and
    /// exit 2 without contacting any endpoint. It takes over the parse errors (an unknown word) so
    /// the exit code is ours, not the parser's.
    /// </summary>
    private sealed class ListingAction(PaletteRegistry registry, OpsPalette? palette) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parse)
        {
            var stderr = parse.InvocationConfiguration.Error;
            var unknown = parse.UnmatchedTokens.FirstOrDefault();
            var error = parse.Errors.FirstOrDefault()?.Message;
            if (palette is null)
            {
                var problem = unknown is not null ? $"unknown palette '{unknown}'" : error ?? "name a palette and a command";
                return Fail(stderr, problem, "available palettes:", registry.Listing());
            }
            var commandProblem = unknown is not null
                ? $"unknown command '{unknown}' in palette '{palette.Name}'"
                : error ?? $"name a command of palette '{palette.Name}'";
            return Fail(stderr, commandProblem, $"commands of palette '{palette.Name}':", palette.Listing());
        }
    }

    /// <summary>A complete command line: validate locally, send it, print the replies, return the node's exit code.</summary>
    private sealed class SendAction(
        CommonOptions common, OpsPalette palette, CommandSpec spec, Func<ParseResult, Dictionary<string, string>> argsFrom)
        : AsynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override async Task<int> InvokeAsync(ParseResult parse, CancellationToken cancellationToken = default)
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            if (UsageProblem(parse, out var args, out var endpoint) is { } problem)
                return Fail(stderr, problem, $"usage of '{palette.Name} {spec.Name}':", $"  vios ctl {palette.Name} {spec.Synopsis}");

            // Ctrl-C is how a streaming command ends: it closes the connection and exits 0.
            using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigint = spec.Streams
                ? PosixSignalRegistration.Create(PosixSignal.SIGINT, signal =>
                {
                    signal.Cancel = true;
                    interrupted.Cancel();
                })
                : null;

            var (token, tokenProblem) = common.TokenFrom(parse);
            if (tokenProblem is not null)
                return Fail(stderr, tokenProblem, $"usage of '{palette.Name} {spec.Name}':", $"  vios ctl {palette.Name} {spec.Synopsis}");
            var request = new OpsRequest(palette.Name, spec.Name, args, parse.GetValue(common.Json), token);
            var outcome = await new OpsClient(endpoint!).SendAsync(request, spec.Streams, async reply =>
            {
                if (reply.Text is { } text) await stdout.WriteLineAsync(text);
                else if (reply.Json is { } json) await stdout.WriteLineAsync(json.GetRawText());
            }, interrupted.Token);
            if (outcome.Error is { } error) await stderr.WriteLineAsync($"vios ctl: {error}");
            return outcome.ExitCode;
        }

        /// <summary>Why the command line cannot be sent, or null with its arguments and endpoint.</summary>
        private string? UsageProblem(ParseResult parse, out Dictionary<string, string> args, out OpsEndpointAddress? endpoint)
        {
            args = [];
            endpoint = null;
            // Values can only be read from a parse without errors.
            if (parse.Errors.FirstOrDefault() is { } error) return error.Message;
            if (parse.UnmatchedTokens.FirstOrDefault() is { } extra) return $"unexpected '{extra}'";
            args = argsFrom(parse);
            if (spec.Validate(args) is { } invalid) return invalid;
            var endpointText = parse.GetValue(common.Endpoint)!;
            return OpsEndpointAddress.TryParse(endpointText, out endpoint) ? null : $"--endpoint '{endpointText}' is not HOST:PORT";
        }
    }
}
