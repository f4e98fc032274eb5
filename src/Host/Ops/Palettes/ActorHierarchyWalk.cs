using System.Text.Json.Serialization;

namespace Vios.Host.Ops.Palettes;

public sealed record ActorEntry(string Path, int Depth);

/// <summary>The actors found, in tree order: each root, then its descendants by name, depth first.</summary>
public sealed record ActorHierarchyView(IReadOnlyList<ActorEntry> Actors)
{
    public IEnumerable<string> Lines() => Actors.Select(a => new string(' ', 2 * a.Depth) + a.Path);
}

/// <summary>
/// One walk of the actor tree, apart from the actor that sends the probes: it records what each
/// <c>Identify</c> found and decides whether to probe that actor's children, within the depth limit.
/// </summary>
public sealed class ActorHierarchyWalk(IReadOnlyList<string> roots, int maxDepth, string walkerPath)
{
    private readonly Dictionary<string, int> _found = new(StringComparer.Ordinal);
    private readonly List<string> _missingRoots = [];

    public IReadOnlyList<string> MissingRoots => _missingRoots;

    /// <summary>Records the actor at <paramref name="path"/>, <paramref name="depth"/> levels below its root; true when its children are to be probed.</summary>
    public bool Found(string path, int depth)
    {
        // The walker is a child of /system itself; it is not part of the node's tree.
        if (path == walkerPath || !_found.TryAdd(path, depth)) return false;
        return depth < maxDepth;
    }

    public void RootMissing(string root) => _missingRoots.Add(root);

    public ActorHierarchyView Result() =>
        new(_found
            .Select(f => new ActorEntry(f.Key, f.Value))
            .OrderBy(RootIndex)
            .ThenBy(a => Elements(a.Path), ElementsComparer.Instance)
            .ToList());

    private int RootIndex(ActorEntry actor)
    {
        for (var i = 0; i < roots.Count; i++)
            if (actor.Path == roots[i] || actor.Path.StartsWith(roots[i] + "/", StringComparison.Ordinal)) return i;
        return roots.Count;
    }

    private static string[] Elements(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Element by element, so a parent sorts right before its children.</summary>
    private sealed class ElementsComparer : IComparer<string[]>
    {
        public static ElementsComparer Instance { get; } = new();

        public int Compare(string[]? x, string[]? y)
        {
            for (var i = 0; i < Math.Min(x!.Length, y!.Length); i++)
            {
                var order = string.CompareOrdinal(x[i], y[i]);
                if (order != 0) return order;
            }
            return x.Length.CompareTo(y.Length);
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ActorHierarchyView))]
internal sealed partial class ActorJsonContext : JsonSerializerContext;
