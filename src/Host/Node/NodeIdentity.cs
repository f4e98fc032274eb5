using System.Text.RegularExpressions;

namespace Vios.Host.Node;

/// <summary>
/// A node's stable name. Stored in <c>&lt;data&gt;/node.id</c> on first start, so a node restarted
/// with the same data directory (whatever port it gets) is the same node with the same journal.
/// </summary>
public static partial class NodeIdentity
{
    public const string FileName = "node.id";

    public static string LoadOrCreate(string dataDirectory, string? configuredName, NodeRole role)
    {
        if (configuredName is not null) return Validate(configuredName, "--name");

        var file = Path.Combine(dataDirectory, FileName);
        if (File.Exists(file)) return Validate(File.ReadAllText(file).Trim(), file);

        var prefix = role == NodeRole.Lighthouse ? "lighthouse" : "vios";
        var name = $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
        File.WriteAllText(file, name + Environment.NewLine);
        return name;
    }

    private static string Validate(string name, string source) =>
        ValidName().IsMatch(name)
            ? name
            : throw new NodeStartupException($"node name '{name}' from {source} must be 1-64 letters, digits, '-' or '_'");

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidName();
}
