namespace Vios.Actors.Cluster;

/// <summary>One start of this node: which incarnation it was and where it listened.</summary>
public sealed record NodeBoot(int Incarnation, string Address, DateTimeOffset StartedAt);

/// <summary>
/// What the node remembers about its own starts, across crashes. Pure state: the actor persists
/// <see cref="NodeBooted"/> and folds it here, on recovery and live alike.
/// </summary>
public sealed record NodeBootHistory(string NodeName, int BootCount, IReadOnlyList<NodeBoot> RecentBoots)
    : IViosMessage
{
    /// <summary>How many boots are kept in detail; older ones only count.</summary>
    public const int RecentLimit = 16;

    public static NodeBootHistory Empty(string nodeName) => new(nodeName, 0, []);

    public NodeBoot? LastBoot => RecentBoots.Count == 0 ? null : RecentBoots[^1];

    public NodeBooted Decide(RecordBoot command) => new(BootCount + 1, command.Address, command.StartedAt);

    public NodeBootHistory Apply(NodeBooted booted)
    {
        var recent = RecentBoots.Append(new NodeBoot(booted.Incarnation, booted.Address, booted.StartedAt));
        return this with
        {
            BootCount = booted.Incarnation,
            RecentBoots = recent.TakeLast(RecentLimit).ToList(),
        };
    }
}
