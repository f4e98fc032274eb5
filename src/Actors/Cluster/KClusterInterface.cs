using Akka.Actor;
using Akka.Cluster;

namespace Vios.Actors.Cluster;

/// <summary>A vios node as the kcluster interface knows it: its protocol node id and its address.</summary>
public sealed record KClusterNode(ulong NodeId, Address Address);

/// <summary>
/// S1's kcluster interface, the VKE's view of the cluster: the vios members that are Up, each with
/// the node id the wire frame uses. Node ids come from the member's incarnation uid, so a node that
/// restarts is a new node id and responses owed by its old incarnation can never be matched to it.
/// </summary>
public sealed class KClusterInterface
{
    public const string ViosRole = "vios";

    private readonly Dictionary<ulong, KClusterNode> _byId = new();
    private ulong[] _nodeIds = [];

    /// <summary>The protocol node id of a member incarnation; never <c>NodeIds.None</c> (0).</summary>
    public static ulong NodeIdOf(UniqueAddress member) => (1UL << 32) | (uint)member.Uid;

    public IReadOnlyCollection<KClusterNode> Nodes => _byId.Values;

    /// <summary>Every node id, kept as an array so a broadcast allocates nothing to list its targets.</summary>
    public IReadOnlyList<ulong> NodeIds => _nodeIds;

    /// <summary>Adds a member that came Up, if it is a vios node. Returns the node when it was added.</summary>
    public KClusterNode? MemberUp(UniqueAddress member, IEnumerable<string> roles)
    {
        if (!roles.Contains(ViosRole)) return null;
        var node = new KClusterNode(NodeIdOf(member), member.Address);
        if (!_byId.TryAdd(node.NodeId, node)) return null;
        _nodeIds = [.. _byId.Keys];
        return node;
    }

    /// <summary>Removes a member that left, was downed or removed. Returns its node id if it was known.</summary>
    public ulong? MemberGone(UniqueAddress member)
    {
        var id = NodeIdOf(member);
        if (!_byId.Remove(id)) return null;
        _nodeIds = [.. _byId.Keys];
        return id;
    }

    public bool TryGet(ulong nodeId, out KClusterNode node) => _byId.TryGetValue(nodeId, out node!);
}
