using Vios.Actors.Availability;
using Vios.Actors.Partitions;

namespace Vios.Actors.Checkpoint;

/// <summary>Checkpoint settings of a node (<c>vios.checkpoint</c>).</summary>
/// <param name="FullEvery">A new full image after this many deltas (K); older events and snapshots are then deleted.</param>
/// <param name="MinimumIntervalMs">The shortest epoch interval accepted, in milliseconds.</param>
public sealed record CheckpointSettings(int FullEvery = 20, int MinimumIntervalMs = 10)
{
    public static CheckpointSettings Default { get; } = new();

    /// <summary>S22 (<c>vios.availability.ft-pair</c>): how a replicated pair steers its primary's CPU by the secondary's lag.</summary>
    public LagControllerSettings FaultTolerantPair { get; init; } = LagControllerSettings.Default;

    /// <summary><c>vios.partitions.ownership</c>: how long the fence may take to raise or read, and when to retry.</summary>
    public OwnershipSettings Ownership { get; init; } = OwnershipSettings.Default;
}
