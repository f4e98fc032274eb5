using System.Text.Json.Serialization;

namespace Vios.Actors.Partitions;

/// <summary>
/// A command for one partition. The manager forwards it to the firmware of the node the partition
/// is placed on, which hands it to the partition's actor; the reply goes straight to the asker.
/// </summary>
public interface ILparCommand : IViosMessage
{
    string Name { get; }
}

/// <summary>Activate the partition: allocate its guest memory and bring up its vCPUs.</summary>
public sealed record StartLpar(string Name) : ILparCommand;

/// <summary>Shut the partition down; its guest memory is released.</summary>
public sealed record StopLpar(string Name) : ILparCommand;

/// <summary>Asks for the partition's <see cref="LparStatus"/>.</summary>
public sealed record ShowLpar(string Name) : ILparCommand;

/// <summary>
/// Runs a guest workload in a running partition: <paramref name="WritesPerSecond"/> page writes,
/// <paramref name="Skew"/> of them to the hot tenth of each process's pages, over
/// <paramref name="Processes"/> processes that context-switch. The same seed gives the same memory.
/// A rate of 0 stops the workload.
/// </summary>
public sealed record RunWorkload(string Name, int WritesPerSecond, double Skew, int Processes, ulong? Seed) : ILparCommand;

/// <summary>
/// Fault injection for HA drills: the partition's guest agent stops heartbeating to its node's master
/// (<paramref name="Silent"/>), as a hung guest would, or starts again. The partition itself keeps running.
/// </summary>
public sealed record SilenceGuestAgent(string Name, bool Silent) : ILparCommand;

/// <summary>The guest agent's state after <see cref="SilenceGuestAgent"/>.</summary>
public sealed record GuestAgentState(string Name, string Node, bool Silent) : IViosMessage;

/// <summary>The S18 counters of a partition's VMM.</summary>
public sealed record ShadowCacheCounters(
    bool Enabled, int Capacity, int Cached, long Hits, long Misses, long RebuiltEntries, long Invalidations, long Evictions)
{
    [JsonIgnore]
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}

/// <summary>What the partition's workload was asked to do and what it has done.</summary>
public sealed record LparWorkloadStatus(
    int WritesPerSecond, double Skew, int Processes, ulong Seed, long Operations, long Writes, long ContextSwitches, long TableEdits, long GuestPageFaults);

/// <summary>
/// One partition as its node sees it: state, resources with their physical positions (S13), shadow
/// cache counters (S18) and the pages dirtied since the last collection.
/// </summary>
public sealed record LparStatus(
    string Name,
    string Node,
    LparState State,
    int Vcpus,
    long MemoryMb,
    PlacementPolicy Policy,
    IReadOnlyList<GuestResource> Resources,
    ShadowCacheCounters? Shadow,
    long DirtyPages,
    LparWorkloadStatus? Workload,
    string? Note) : IViosMessage
{
    /// <summary>The ownership epoch of the copy that answered (the fencing token its journal writes carry).</summary>
    public long OwnerEpoch { get; init; }
}
