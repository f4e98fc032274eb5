using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Availability;

/// <summary>Which failover image a partition is restarted from (S5).</summary>
public enum FailoverImage
{
    /// <summary>The latest committed consistency image: the partition resumes where it was.</summary>
    Consistency,

    /// <summary>The boot image: the partition boots afresh, for a failure that the consistency image repeats.</summary>
    Boot,

    /// <summary>S17 hot standby: the live replica on the standby node is promoted; it holds the last committed epoch.</summary>
    Replica,
}

/// <summary>
/// Gives partition <paramref name="Lpar"/>, now on <paramref name="Node"/>, an availability record.
/// A null failover image node is chosen by the HA manager (a node other than its own, and the two
/// different from each other where the cluster has enough nodes).
/// </summary>
public sealed record DeclareAvailability(string Lpar, string Node, string? ConsistencyNode, string? BootNode) : IViosMessage;

/// <summary>
/// A partition failed on <paramref name="Node"/>: its node was downed or its heartbeats stopped.
/// <paramref name="FailureId"/> names this failure (the incarnation that failed), so the same failure
/// reported twice, or again after a singleton handover, is recognised and not restarted twice.
/// </summary>
public sealed record LparFailed(string Lpar, string Node, string FailureId, string Cause) : IViosMessage;

/// <summary>Event: partition <paramref name="Lpar"/> has an availability record with these failover image nodes.</summary>
public sealed record AvailabilityDeclared(string Lpar, string Node, string ConsistencyNode, string BootNode) : IViosMessage;

/// <summary>Event: the partition was deleted; its availability record and failure history go with it.</summary>
public sealed record AvailabilityWithdrawn(string Lpar) : IViosMessage;

/// <summary>Event: a failure of a partition, in its failure history. Persisted before the restart is planned.</summary>
public sealed record FailureRecorded(string Lpar, string FailureId, string FailedNode, string Cause, DateTimeOffset At) : IViosMessage;

/// <summary>
/// Event and command: restart <paramref name="Lpar"/> on <paramref name="TargetNode"/> from its
/// <paramref name="Image"/> image, for failure <paramref name="FailureId"/>. <paramref name="Reason"/>
/// says why that node and that image, for the operator.
/// </summary>
public sealed record RestartPlanned(string Lpar, string FailureId, string TargetNode, FailoverImage Image, string Reason, DateTimeOffset At) : IViosMessage;

/// <summary>
/// Event: the restart planned for <paramref name="FailureId"/> ran; the partition is on <paramref name="Node"/>,
/// restored as <paramref name="Detail"/> says (which epoch, which checksum).
/// </summary>
public sealed record RestartCompleted(string Lpar, string FailureId, string Node, DateTimeOffset At) : IViosMessage
{
    public string? Detail { get; init; }
}

/// <summary>
/// Command and event (S17): partition <paramref name="Lpar"/> must be back within
/// <paramref name="MaxRecovery"/> of a failure and, if <paramref name="FullPerformance"/>, run at full
/// performance while it fails over. The HA manager picks hot or cold standby to meet it.
/// </summary>
public sealed record SetAvailabilityRequirement(string Lpar, TimeSpan MaxRecovery, bool FullPerformance) : IViosMessage;

/// <summary>Event (S17): the standby chosen for a partition, with its reason; a hot one names the replica's node.</summary>
public sealed record StandbyChosen(string Lpar, StandbyMode Mode, string? ReplicaNode, bool RequirementMet, string Reason, DateTimeOffset At) : IViosMessage;

/// <summary>Asks the HA manager for one partition's availability record with its whole failure history.</summary>
public sealed record GetFailures(string Lpar) : IViosMessage;

/// <summary>Reply: the HA manager cannot do what was asked for <paramref name="Lpar"/>; <paramref name="Reason"/> says why.</summary>
public sealed record HaRefused(string Lpar, string Reason) : IViosMessage;

/// <summary>Reply: the failure cannot be restarted now; <paramref name="Reason"/> says why.</summary>
public sealed record FailoverRefused(string Lpar, string FailureId, string Reason) : IViosMessage;

/// <summary>One failure in a partition's history and, once planned, the restart that answered it.</summary>
public sealed record FailureEntry(
    string FailureId,
    string FailedNode,
    string Cause,
    DateTimeOffset At,
    string? TargetNode,
    FailoverImage? Image,
    string? Reason,
    DateTimeOffset? PlannedAt,
    bool Completed)
{
    /// <summary>When the partition ran again, and from what.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    public string? Detail { get; init; }
}

/// <summary>
/// A partition's availability record: where it is, its two failover image nodes, its failures (oldest
/// first), and (S17) its requirement, if one was set, and the standby chosen for it.
/// </summary>
public sealed record AvailabilityRecord(string Lpar, string Node, string ConsistencyNode, string BootNode, IReadOnlyList<FailureEntry> Failures) : IViosMessage
{
    public SetAvailabilityRequirement? Requirement { get; init; }

    public StandbyChosen? Standby { get; init; }
}

/// <summary>
/// Event: vios node <paramref name="Node"/> began to leave the cluster gracefully from <paramref name="Address"/>:
/// its partitions stop with it and are not failed over. Persisted so that the next HA manager knows it
/// too when the leaving node hosted this one (a leave of the singletons' host hands them over).
/// </summary>
public sealed record NodeLeftGracefully(string Node, string Address, DateTimeOffset At) : IViosMessage;

/// <summary>Event: <paramref name="Node"/>, which had left gracefully, is back from <paramref name="Address"/>: its partitions are watched again.</summary>
public sealed record NodeRejoined(string Node, string Address, DateTimeOffset At) : IViosMessage;

/// <summary>Snapshot of the HA manager: every availability record with its failure history.</summary>
public sealed record HaSnapshot(IReadOnlyList<AvailabilityRecord> Records) : IViosMessage
{
    /// <summary>The graceful leaves on record and not settled by a rejoin (absent in snapshots written before it existed).</summary>
    public IReadOnlyList<NodeLeftGracefully> Left { get; init; } = [];
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(DeclareAvailability))]
[JsonSerializable(typeof(LparFailed))]
[JsonSerializable(typeof(AvailabilityDeclared))]
[JsonSerializable(typeof(AvailabilityWithdrawn))]
[JsonSerializable(typeof(FailureRecorded))]
[JsonSerializable(typeof(RestartPlanned))]
[JsonSerializable(typeof(RestartCompleted))]
[JsonSerializable(typeof(FailoverRefused))]
[JsonSerializable(typeof(HaSnapshot))]
[JsonSerializable(typeof(NodeLeftGracefully))]
[JsonSerializable(typeof(NodeRejoined))]
[JsonSerializable(typeof(GetHaStatus))]
[JsonSerializable(typeof(HaStatus))]
[JsonSerializable(typeof(SetAvailabilityRequirement))]
[JsonSerializable(typeof(StandbyChosen))]
[JsonSerializable(typeof(GetFailures))]
[JsonSerializable(typeof(HaRefused))]
[JsonSerializable(typeof(AvailabilityRecord))]
public sealed partial class AvailabilityJsonContext : JsonSerializerContext;

public static class AvailabilityMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("ha.get-status", AvailabilityJsonContext.Default.GetHaStatus),
        MessageManifest.Json("ha.status", AvailabilityJsonContext.Default.HaStatus),
        MessageManifest.Json("ha.declare", AvailabilityJsonContext.Default.DeclareAvailability),
        MessageManifest.Json("ha.lpar-failed", AvailabilityJsonContext.Default.LparFailed),
        MessageManifest.Json("ha.declared", AvailabilityJsonContext.Default.AvailabilityDeclared),
        MessageManifest.Json("ha.withdrawn", AvailabilityJsonContext.Default.AvailabilityWithdrawn),
        MessageManifest.Json("ha.failure-recorded", AvailabilityJsonContext.Default.FailureRecorded),
        MessageManifest.Json("ha.restart-planned", AvailabilityJsonContext.Default.RestartPlanned),
        MessageManifest.Json("ha.restart-completed", AvailabilityJsonContext.Default.RestartCompleted),
        MessageManifest.Json("ha.refused", AvailabilityJsonContext.Default.FailoverRefused),
        MessageManifest.Json("ha.snapshot", AvailabilityJsonContext.Default.HaSnapshot),
        MessageManifest.Json("ha.node-left", AvailabilityJsonContext.Default.NodeLeftGracefully),
        MessageManifest.Json("ha.node-rejoined", AvailabilityJsonContext.Default.NodeRejoined),
        MessageManifest.Json("ha.set-requirement", AvailabilityJsonContext.Default.SetAvailabilityRequirement),
        MessageManifest.Json("ha.standby-chosen", AvailabilityJsonContext.Default.StandbyChosen),
        MessageManifest.Json("ha.get-failures", AvailabilityJsonContext.Default.GetFailures),
        MessageManifest.Json("ha.refused-request", AvailabilityJsonContext.Default.HaRefused),
        MessageManifest.Json("ha.record", AvailabilityJsonContext.Default.AvailabilityRecord),
    ];
}

/// <summary>Asks the HA manager for every availability record and the restarts in progress.</summary>
public sealed record GetHaStatus : IViosMessage
{
    public static GetHaStatus Instance { get; } = new();
}

/// <summary>
/// Every availability record, the restarts planned and not completed, the recovery estimates the
/// standby choices rest on, the nodes the heartbeat masters hold silent, and the failure window.
/// </summary>
public sealed record HaStatus(IReadOnlyList<AvailabilityRecord> Records, IReadOnlyList<RestartPlanned> Pending) : IViosMessage
{
    public RecoveryEstimate? Estimates { get; init; }

    public IReadOnlyList<string> SilentNodes { get; init; } = [];

    public TimeSpan Window { get; init; }
}
