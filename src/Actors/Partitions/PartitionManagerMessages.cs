using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Partitions;

/// <summary>A partition as the manager keeps it: what was asked for and what it was given, where.</summary>
public sealed record LparDefinition(
    string Name, int Vcpus, long MemoryMb, PlacementPolicy Policy, IReadOnlyList<string> Adapters, Allocation Allocation, DateTimeOffset CreatedAt)
{
    [JsonIgnore]
    public string Node => Allocation.Node;

    /// <summary>
    /// The ownership epoch (fencing token): 1 when defined, raised by every move (a failover, a
    /// migration). The copy that runs the partition writes its journals under this epoch, and the
    /// database refuses writes of a lower one once a newer owner has raised the fence. Definitions
    /// persisted before the epoch existed read as 1, and their moves raise it on recovery.
    /// </summary>
    public long OwnerEpoch { get; init; } = 1;
}

/// <summary>
/// Defines a partition and places it (S13). <paramref name="Node"/> pins it to one vios node;
/// null lets <paramref name="Policy"/> choose.
/// </summary>
public sealed record CreateLpar(string Name, int Vcpus, long MemoryMb, PlacementPolicy Policy, IReadOnlyList<string> Adapters, string? Node) : IViosMessage;

/// <summary>The partition is defined and placed; persisted before this reply.</summary>
public sealed record LparCreated(LparDefinition Definition) : IViosMessage;

/// <summary>
/// Places a partition on another node (the HA manager's failover, a migration): its resources there
/// by its policy, the old node's given back. The partition comes up there defined, to be restored.
/// </summary>
public sealed record MoveLpar(string Name, string ToNode, string Reason) : IViosMessage;

/// <summary>Event and reply: the partition's definition now places it on another node.</summary>
public sealed record LparMoved(LparDefinition Definition, string FromNode, string Reason) : IViosMessage;

/// <summary>Removes a partition that is not running and gives its resources back.</summary>
public sealed record DeleteLpar(string Name) : IViosMessage;

public sealed record LparDeleted(string Name) : IViosMessage;

/// <summary>
/// A command on a partition was refused; <paramref name="Reason"/> says why, for the operator, and
/// <see cref="Kind"/> for a program (never parse the reason).
/// </summary>
public sealed record LparRefused(string Name, string Reason) : IViosMessage
{
    public LparRefusal Kind { get; init; }
}

/// <summary>Why a partition command was refused, for callers that act on it. New kinds go at the end: the value crosses the wire.</summary>
public enum LparRefusal
{
    /// <summary>A reason without a kind of its own; the text says it.</summary>
    Other = 0,
    NotFound = 1,
    /// <summary>A move to the node the partition is placed on already.</summary>
    AlreadyPlaced = 2,
    NodeAbsent = 3,
    WrongState = 4,
    NoRoom = 5,
    JournalFailed = 6,
    /// <summary>A partition of that name exists (or runs somewhere the record does not know of).</summary>
    AlreadyExists = 7,
}

/// <summary>
/// A command on a partition was not passed on: its node <paramref name="Node"/> is unreachable, downed
/// or not registered (fenced, gone), so it would never answer. <paramref name="LastKnownState"/> is the
/// state that node last reported. A reader answers from what is known; a change fails at once.
/// </summary>
public sealed record LparNodeUnavailable(string Name, string Node, LparState LastKnownState, string Reason) : IViosMessage;

public sealed record ListLpars : IViosMessage
{
    public static ListLpars Instance { get; } = new();
}

/// <summary>One line of <c>lpar list</c>: the definition, the state its node last reported, and whether that node is in the cluster.</summary>
public sealed record LparSummary(LparDefinition Definition, LparState State, bool NodeOnline)
{
    /// <summary>
    /// Whether the partition's node has reported <see cref="State"/> since the record last changed;
    /// false while it is the operator's intent or a move's Defined, as a new partition manager
    /// recovers them before the node registers. Whoever checks that a restart took must not take an
    /// intent for a running partition.
    /// </summary>
    public bool StateReported { get; init; } = true;

    /// <summary>Whether the operator's last word was that it runs (started, restored, taken over), whatever its state now.</summary>
    public bool IntendedRunning { get; init; }
}

/// <summary>Every partition, and the vios nodes whose firmware has registered resources.</summary>
public sealed record LparList(IReadOnlyList<LparSummary> Lpars, IReadOnlyList<NodeResources> Nodes) : IViosMessage
{
    /// <summary>The cluster address of each registered node, by node name (the HA manager maps a removed member to its node).</summary>
    public IReadOnlyDictionary<string, string> NodeAddresses { get; init; } = new Dictionary<string, string>();

    /// <summary>Partitions running on a node the manager's record does not place them on (see <see cref="ReportedLpar"/>).</summary>
    public IReadOnlyList<ReportedLpar> Strays { get; init; } = [];
}

/// <summary>How the partition manager resolves a partition a firmware reports outside the record's placement.</summary>
public enum ReportedLparVerdict
{
    /// <summary>The record places it on the reporting node: hosted as usual.</summary>
    Hosted,

    /// <summary>The record has no such partition (and never deleted one of that name): it keeps running, and is shown.</summary>
    NotInRecord,

    /// <summary>The record places it on another node, where it does not run: it keeps running here until it does.</summary>
    PlacedElsewhere,

    /// <summary>The record places it on another node, where it runs (or this copy is not running): this copy is stopped.</summary>
    StopPlacedElsewhere,

    /// <summary>The operator deleted it while the reporting node was away: this copy is stopped.</summary>
    StopDeleted,
}

/// <summary>
/// A partition <paramref name="Node"/>'s firmware reports running as <paramref name="State"/>, and what
/// the partition manager decided about it; <paramref name="Reason"/> is for the operator and the log.
/// </summary>
public sealed record ReportedLpar(string Name, string Node, LparState State, ReportedLparVerdict Verdict, string Reason)
{
    [JsonIgnore]
    public bool Stops => Verdict is ReportedLparVerdict.StopPlacedElsewhere or ReportedLparVerdict.StopDeleted;
}

/// <summary>A node's partition firmware introduces itself: its resources, and the state of each partition it runs.</summary>
public sealed record RegisterFirmware(NodeResources Resources, IReadOnlyDictionary<string, LparState> States) : IViosMessage
{
    /// <summary>The ownership epoch of each partition copy the node hosts: a copy above the record's epoch is a takeover the manager has not heard of.</summary>
    public IReadOnlyDictionary<string, long> OwnerEpochs { get; init; } = new Dictionary<string, long>();
}

/// <summary>
/// Asks this node's firmware which partitions it hosts and how each is, as it sees them itself (not
/// the partition manager's record): what `lpar local` prints and the chaos soak's checkers read, so a
/// partition running on two nodes shows on both. Local to the node.
/// </summary>
public sealed record GetHostedLpars
{
    public static GetHostedLpars Instance { get; } = new();
}

/// <summary>The partitions a node's firmware hosts, each with the state it last reported.</summary>
public sealed record HostedLpars(string Node, IReadOnlyList<HostedLpar> Lpars);

public sealed record HostedLpar(string Name, LparState State);

/// <summary>The manager's answer to <see cref="RegisterFirmware"/>: the partitions placed on that node.</summary>
public sealed record FirmwareRegistered(IReadOnlyList<LparDefinition> Hosted) : IViosMessage;

/// <summary>
/// Sent by a partition manager that has just recovered (a new singleton instance, after a move or
/// a restart) to the firmware of every vios node, which registers again.
/// </summary>
public sealed record PartitionManagerOnline : IViosMessage
{
    public static PartitionManagerOnline Instance { get; } = new();
}

/// <summary>The manager tells a node's firmware to host a newly created partition.</summary>
public sealed record HostLpar(LparDefinition Definition) : IViosMessage;

/// <summary>The manager tells a node's firmware that a partition was deleted.</summary>
public sealed record UnhostLpar(string Name) : IViosMessage;

/// <summary>Node → its firmware (local): the node was downed; every partition stops at once, the replicas with the node.</summary>
public sealed record StopAllPartitions(string Reason);

public sealed record AllPartitionsStopped(int Count);

/// <summary>
/// The manager tells a node's firmware to stop its copy of a partition the operator's intent places
/// elsewhere or deleted, saying why (<see cref="ReportedLpar"/>). A firmware stops a partition only
/// on an explicit command like this one, never because a registration answer left it out.
/// </summary>
public sealed record StopLparCopy(string Name, ReportedLparVerdict Verdict, string Reason) : IViosMessage
{
    /// <summary>
    /// The owner epoch of the manager's record (for a deleted partition, its last): a fencing token.
    /// A copy with a newer epoch is not stopped: the manager that sent this is behind (a singleton
    /// on a node that was frozen and runs again before it learns it was replaced). Null from a
    /// manager that did not send it.
    /// </summary>
    public long? RecordEpoch { get; init; }
}

/// <summary>
/// From the HA manager: vios node <paramref name="Node"/> at <paramref name="Address"/> was fenced
/// (downed after the heartbeat masters found it silent). Nothing is placed there any more, and its
/// partitions may move at once, before the cluster gets round to removing it. Answered with
/// <see cref="NodeFenced"/>.
/// </summary>
public sealed record FenceNode(string Node, string Address) : IViosMessage;

public sealed record NodeFenced(string Node, bool WasRegistered) : IViosMessage;

/// <summary>A partition changed state on its node (firmware → manager).</summary>
public sealed record LparStateChanged(string Name, LparState State) : IViosMessage
{
    /// <summary>The ownership epoch of the copy that reports; a report from a copy of an older epoch is ignored. 0: not known.</summary>
    public long OwnerEpoch { get; init; }
}

/// <summary>Event: a partition was defined and placed. Persisted under <c>partition-manager</c>.</summary>
public sealed record LparDefined(LparDefinition Definition) : IViosMessage;

/// <summary>
/// Event: the operator's intent for a partition, running or not (<c>lpar start</c>, <c>stop</c>, a
/// restore). It survives the manager moving, so a partition that was running on a node that is gone
/// is known to have been running: the HA manager restarts it.
/// </summary>
public sealed record LparIntent(string Name, bool Running) : IViosMessage;

/// <summary>Event: a partition was deleted and its resources released.</summary>
public sealed record LparRemoved(string Name) : IViosMessage;

/// <summary>Snapshot of the partition manager: every definition.</summary>
public sealed record PartitionManagerSnapshot(IReadOnlyList<LparDefinition> Definitions) : IViosMessage
{
    /// <summary>Partitions the operator last asked to run (<see cref="LparIntent"/>).</summary>
    public IReadOnlyList<string> Running { get; init; } = [];

    /// <summary>The last ownership epoch of each deleted partition (a partition created again under the name starts above it).</summary>
    public IReadOnlyDictionary<string, long> RetiredEpochs { get; init; } = new Dictionary<string, long>();

    /// <summary>Partitions deleted, with the node each was placed on, so a node that was away is told to stop its copy.</summary>
    public IReadOnlyDictionary<string, string> Deleted { get; init; } = new Dictionary<string, string>();
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true)]
[JsonSerializable(typeof(CreateLpar))]
[JsonSerializable(typeof(LparCreated))]
[JsonSerializable(typeof(MoveLpar))]
[JsonSerializable(typeof(LparMoved))]
[JsonSerializable(typeof(DeleteLpar))]
[JsonSerializable(typeof(LparDeleted))]
[JsonSerializable(typeof(LparRefused))]
[JsonSerializable(typeof(LparNodeUnavailable))]
[JsonSerializable(typeof(ListLpars))]
[JsonSerializable(typeof(LparList))]
[JsonSerializable(typeof(RegisterFirmware))]
[JsonSerializable(typeof(FirmwareRegistered))]
[JsonSerializable(typeof(PartitionManagerOnline))]
[JsonSerializable(typeof(HostLpar))]
[JsonSerializable(typeof(UnhostLpar))]
[JsonSerializable(typeof(StopLparCopy))]
[JsonSerializable(typeof(FenceNode))]
[JsonSerializable(typeof(NodeFenced))]
[JsonSerializable(typeof(LparStateChanged))]
[JsonSerializable(typeof(LparDefined))]
[JsonSerializable(typeof(LparRemoved))]
[JsonSerializable(typeof(LparIntent))]
[JsonSerializable(typeof(PartitionManagerSnapshot))]
[JsonSerializable(typeof(StartLpar))]
[JsonSerializable(typeof(StopLpar))]
[JsonSerializable(typeof(ShowLpar))]
[JsonSerializable(typeof(RunWorkload))]
[JsonSerializable(typeof(LparStatus))]
[JsonSerializable(typeof(SilenceGuestAgent))]
[JsonSerializable(typeof(GuestAgentState))]
public sealed partial class PartitionJsonContext : JsonSerializerContext;

public static class PartitionMessages
{
    public static IEnumerable<MessageManifest> Manifests { get; } =
    [
        MessageManifest.Json("lpar.create", PartitionJsonContext.Default.CreateLpar),
        MessageManifest.Json("lpar.created", PartitionJsonContext.Default.LparCreated),
        MessageManifest.Json("lpar.move", PartitionJsonContext.Default.MoveLpar),
        MessageManifest.Json("lpar.moved", PartitionJsonContext.Default.LparMoved),
        MessageManifest.Json("lpar.delete", PartitionJsonContext.Default.DeleteLpar),
        MessageManifest.Json("lpar.deleted", PartitionJsonContext.Default.LparDeleted),
        MessageManifest.Json("lpar.refused", PartitionJsonContext.Default.LparRefused),
        MessageManifest.Json("lpar.node-unavailable", PartitionJsonContext.Default.LparNodeUnavailable),
        MessageManifest.Json("lpar.list-request", PartitionJsonContext.Default.ListLpars),
        MessageManifest.Json("lpar.list", PartitionJsonContext.Default.LparList),
        MessageManifest.Json("lpar.register-firmware", PartitionJsonContext.Default.RegisterFirmware),
        MessageManifest.Json("lpar.firmware-registered", PartitionJsonContext.Default.FirmwareRegistered),
        MessageManifest.Json("lpar.manager-online", PartitionJsonContext.Default.PartitionManagerOnline),
        MessageManifest.Json("lpar.host", PartitionJsonContext.Default.HostLpar),
        MessageManifest.Json("lpar.unhost", PartitionJsonContext.Default.UnhostLpar),
        MessageManifest.Json("lpar.stop-copy", PartitionJsonContext.Default.StopLparCopy),
        MessageManifest.Json("lpar.fence-node", PartitionJsonContext.Default.FenceNode),
        MessageManifest.Json("lpar.node-fenced", PartitionJsonContext.Default.NodeFenced),
        MessageManifest.Json("lpar.state-changed", PartitionJsonContext.Default.LparStateChanged),
        MessageManifest.Json("lpar.defined", PartitionJsonContext.Default.LparDefined),
        MessageManifest.Json("lpar.removed", PartitionJsonContext.Default.LparRemoved),
        MessageManifest.Json("lpar.intent", PartitionJsonContext.Default.LparIntent),
        MessageManifest.Json("lpar.manager-snapshot", PartitionJsonContext.Default.PartitionManagerSnapshot),
        MessageManifest.Json("lpar.start", PartitionJsonContext.Default.StartLpar),
        MessageManifest.Json("lpar.stop", PartitionJsonContext.Default.StopLpar),
        MessageManifest.Json("lpar.show", PartitionJsonContext.Default.ShowLpar),
        MessageManifest.Json("lpar.run-workload", PartitionJsonContext.Default.RunWorkload),
        MessageManifest.Json("lpar.status", PartitionJsonContext.Default.LparStatus),
        MessageManifest.Json("lpar.silence-agent", PartitionJsonContext.Default.SilenceGuestAgent),
        MessageManifest.Json("lpar.agent-state", PartitionJsonContext.Default.GuestAgentState),
    ];
}
