namespace Vios.Host.Ops;

/// <summary>A positional argument; <paramref name="ValueName"/> is how help and listings show it (ADDR).</summary>
public sealed record ArgumentSpec(string Name, string ValueName, string Description, bool Required = true);

/// <summary>
/// An option, written <c>--Name</c> or <c>-ShortName</c>. With a <paramref name="ValueName"/> it takes
/// a value; without one it is a flag.
/// </summary>
public sealed record OptionSpec(string Name, char? ShortName, string Description, string? ValueName = null)
{
    public bool TakesValue => ValueName is not null;
}

/// <summary>
/// What a command accepts, shared by the client (which builds its command line from it and validates
/// locally) and the endpoint (which validates again, since anything can connect to it).
/// </summary>
public sealed record CommandSpec(string Name, string Description)
{
    public IReadOnlyList<ArgumentSpec> Arguments { get; init; } = [];
    public IReadOnlyList<OptionSpec> Options { get; init; } = [];

    /// <summary>The command streams output until the client disconnects (<c>cluster tail</c>).</summary>
    public bool Streams { get; init; }

    /// <summary>The command as the listings show it, e.g. <c>hierarchy [-d DEPTH] [-s PATH]</c>.</summary>
    public string Synopsis =>
        string.Join(' ', new[] { Name }
            .Concat(Options.Select(o => $"[{(o.ShortName is { } s ? $"-{s}" : $"--{o.Name}")}{(o.TakesValue ? $" {o.ValueName}" : "")}]"))
            .Concat(Arguments.Select(a => a.Required ? a.ValueName : $"[{a.ValueName}]")));

    /// <summary>Why <paramref name="args"/> do not fit this command, or null when they do.</summary>
    public string? Validate(IReadOnlyDictionary<string, string> args)
    {
        foreach (var (name, value) in args)
        {
            var problem = (Arguments.FirstOrDefault(a => a.Name == name), Options.FirstOrDefault(o => o.Name == name)) switch
            {
                ({ } argument, _) when string.IsNullOrWhiteSpace(value) => $"{argument.ValueName} is empty",
                ({ }, _) => null,
                (_, { TakesValue: true } option) when string.IsNullOrWhiteSpace(value) => $"--{name} needs a {option.ValueName}",
                (_, { TakesValue: false }) when value != "true" => $"--{name} is a flag and takes no value",
                (_, { }) => null,
                _ => $"'{Name}' has no argument or option '{name}'",
            };
            if (problem is not null) return problem;
        }
        return Arguments.FirstOrDefault(a => a.Required && !args.ContainsKey(a.Name)) is { } missing
            ? $"'{Name}' needs {missing.ValueName}"
            : null;
    }
}
