namespace Vios.Host.Ops;

/// <summary>Runs one command on the node; failures are outcomes, not exceptions.</summary>
public delegate Task<CommandOutcome> CommandHandler(CommandContext context);

/// <summary>A command's spec and the code that runs it on the node.</summary>
public sealed record OpsCommand(CommandSpec Spec, CommandHandler Handler);

/// <summary>A named group of commands (<c>cluster</c>, <c>actor</c>), as in Petabridge.Cmd.</summary>
public sealed record OpsPalette(string Name, string Description, IReadOnlyList<OpsCommand> Commands)
{
    public OpsCommand? Find(string command) => Commands.FirstOrDefault(c => c.Spec.Name == command);

    /// <summary>The commands, one per line, as the usage errors list them.</summary>
    public string Listing() => Table(Commands.Select(c => (c.Spec.Synopsis, c.Spec.Description)));

    internal static string Table(IEnumerable<(string Name, string Description)> rows)
    {
        var list = rows.ToList();
        var width = list.Max(r => r.Name.Length) + 2;
        return string.Join('\n', list.Select(r => $"  {r.Name.PadRight(width)}{r.Description}"));
    }
}
