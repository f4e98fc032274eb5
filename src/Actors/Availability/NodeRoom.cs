using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// The vCPUs and memory each registered node's partitions leave free, read from a partition list
/// (every partition placed on a node counts, a defined one too: its resources are reserved there).
/// The HA manager plans failovers, and chooses failover image nodes, among nodes with room for the
/// partition before others: a designated node that is full would refuse the move, and a restart
/// planned onto it was retried there for ever (the recovery benchmark's full "ballast" node). The
/// partition manager's placement has the last word on the exact CPUs; this is the count that rules
/// a node out.
/// </summary>
public sealed class NodeRoom
{
    private readonly Dictionary<string, StandbyNode> _free;
    private readonly Dictionary<string, LparDefinition> _partitions;

    private NodeRoom(Dictionary<string, StandbyNode> free, Dictionary<string, LparDefinition> partitions) =>
        (_free, _partitions) = (free, partitions);

    public static NodeRoom Of(LparList list)
    {
        var free = new Dictionary<string, StandbyNode>(StringComparer.Ordinal);
        foreach (var node in list.Nodes)
        {
            var placed = list.Lpars.Where(l => l.Definition.Node == node.Node).Select(l => l.Definition).ToList();
            free[node.Node] = new StandbyNode(node.Node, node.Cpus.Count - placed.Sum(d => d.Vcpus),
                node.Memory.Sum(m => m.SizeMb) - placed.Sum(d => d.MemoryMb));
        }
        var partitions = new Dictionary<string, LparDefinition>(StringComparer.Ordinal);
        foreach (var summary in list.Lpars) partitions[summary.Definition.Name] = summary.Definition;
        return new NodeRoom(free, partitions);
    }

    /// <summary>The registered nodes, in the list's order, with what is free on each.</summary>
    public IReadOnlyList<StandbyNode> Nodes => _free.Values.ToList();

    /// <summary>
    /// The nodes, other than the one it is placed on, with room for <paramref name="lpar"/>; null when
    /// the list does not have the partition (then room is unknown and no node is preferred).
    /// </summary>
    public IReadOnlySet<string>? For(string lpar)
    {
        if (!_partitions.TryGetValue(lpar, out var definition)) return null;
        return _free.Values
            .Where(n => n.Node != definition.Node && n.FreeVcpus >= definition.Vcpus && n.FreeMemoryMb >= definition.MemoryMb)
            .Select(n => n.Node).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>A restart of <paramref name="lpar"/> is planned onto <paramref name="node"/>: its room is taken there.</summary>
    public void Take(string node, string lpar)
    {
        if (!_partitions.TryGetValue(lpar, out var definition) || !_free.TryGetValue(node, out var free)) return;
        _free[node] = free with { FreeVcpus = free.FreeVcpus - definition.Vcpus, FreeMemoryMb = free.FreeMemoryMb - definition.MemoryMb };
    }
}
