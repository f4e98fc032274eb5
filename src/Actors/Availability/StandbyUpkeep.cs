using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// S17 upkeep for the HA manager: the standby choice of each partition with an availability
/// requirement, re-planned as the nodes change (<see cref="StandbyPlanner"/> over the choices on
/// record), the recovery estimates the choices rest on (measured restarts once there are some), and
/// the hot pairs to start where a hot-standby partition runs without its replica.
/// </summary>
public sealed class StandbyUpkeep(AvailabilitySettings settings)
{
    /// <summary>Epoch interval of a hot pair: the replica is at most this far behind.</summary>
    public const int HotIntervalMs = 100;

    // The hot pairs started, partition → the primary's and the replica's node and cluster address (a
    // node started again under its name has a new address, and its replica died with the old process),
    // and those being started.
    private readonly Dictionary<string, PairedAt> _paired = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PairedAt> _pairing = new(StringComparer.Ordinal);
    private TimeSpan? _measuredCold;
    private TimeSpan? _measuredHot;

    /// <summary>
    /// The recovery estimates: the last measured restart of each kind plus the time to detect a
    /// failure (the heartbeats' silence limit), or the configured estimate until one is measured.
    /// </summary>
    public RecoveryEstimate Estimate()
    {
        var detection = settings.Heartbeat.Interval * (settings.Heartbeat.NodeMissedIntervals + 1);
        return new RecoveryEstimate(
            _measuredCold is { } cold ? cold + detection : settings.Estimates.ColdRestart,
            _measuredHot is { } hot ? hot + detection : settings.Estimates.HotPromotion);
    }

    /// <summary>A restart of this kind took <paramref name="took"/>: the estimates follow it.</summary>
    public void Measured(FailoverImage image, TimeSpan took)
    {
        if (image == FailoverImage.Replica) _measuredHot = took;
        else _measuredCold = took;
    }

    /// <summary>
    /// The standby choice for a new requirement of <paramref name="definition"/>'s partition, planned
    /// beside every other requirement on record, on the nodes and room of <paramref name="list"/>.
    /// </summary>
    public StandbyChosen Choose(SetAvailabilityRequirement requirement, LparDefinition definition, LparList list, HaRegistry registry, DateTimeOffset now)
    {
        var planner = Planner(list, registry);
        planner.Replan(NodeRoom.Of(list).Nodes);
        return Chosen(planner.Require(RequirementOf(requirement, definition), Estimate()), now);
    }

    /// <summary>
    /// Re-plans every partition with a requirement on the nodes and room there are now, from the
    /// choices on record (so a replica stays where it is while its node has room for it); returns
    /// the choices that changed, applied to <paramref name="draft"/>, to persist.
    /// </summary>
    public IReadOnlyList<StandbyChosen> Replan(LparList list, HaRegistry draft, DateTimeOffset now)
    {
        var changes = new List<StandbyChosen>();
        foreach (var change in Planner(list, draft).Replan(NodeRoom.Of(list).Nodes))
        {
            var chosen = Chosen(change.After, now);
            if (draft.Find(chosen.Lpar)?.Standby is { } before
                && before.Mode == chosen.Mode && before.ReplicaNode == chosen.ReplicaNode && before.RequirementMet == chosen.RequirementMet)
                continue;
            draft.Apply(chosen);
            changes.Add(chosen);
        }
        return changes;
    }

    /// <summary>
    /// The hot pairs to start: each running hot-standby partition whose replica is not running on
    /// its replica node, not being started already, and not being restarted. Each returned is being started.
    /// </summary>
    public IReadOnlyList<PairToStart> PairsToStart(LparList list, HaRegistry registry, IReadOnlySet<string> restarting)
    {
        var pairs = new List<PairToStart>();
        foreach (var record in registry.Records)
        {
            if (record.Standby is not { Mode: StandbyMode.Hot, ReplicaNode: { } replica }) continue;
            if (list.Lpars.FirstOrDefault(l => l.Definition.Name == record.Lpar) is not { State: LparState.Running } summary) continue;
            var primary = summary.Definition.Node;
            var at = new PairedAt(primary, list.NodeAddresses.GetValueOrDefault(primary), replica, list.NodeAddresses.GetValueOrDefault(replica));
            if (primary == replica || _paired.GetValueOrDefault(record.Lpar) == at) continue;
            if (restarting.Contains(record.Lpar) || !_pairing.TryAdd(record.Lpar, at)) continue;
            pairs.Add(new PairToStart(record.Lpar, primary, replica) { ReplicaAddress = at.ReplicaAddress });
        }
        return pairs;
    }

    /// <summary>A pairing ended: paired when it was not refused, with the nodes' incarnations it was started with.</summary>
    public void PairingEnded(PairingDone done)
    {
        if (_pairing.Remove(done.Lpar, out var at) && done.Refusal is null) _paired[done.Lpar] = at;
    }

    /// <summary>The partition is being restarted: its pair is gone with its old node.</summary>
    public void Unpair(string lpar) => _paired.Remove(lpar);

    /// <summary>
    /// Pairs the partition with a replica on its replica node, unless it already is (a new HA manager
    /// after a handover finds the pairs its predecessor started, and keeps them).
    /// </summary>
    public static async Task<PairingDone> PairAsync(IActorRef partitions, PairToStart pair, TimeSpan timeout)
    {
        var (lpar, primary, replica) = pair;
        // Replicating to the replica node's current process, not to one that died with an earlier one.
        if (await partitions.Ask<object>(new GetCheckpointStats(lpar), timeout) is CheckpointStats { Checkpointing: Checkpointing.Replicating } stats
            && stats.ReplicaNode == replica && (pair.ReplicaAddress is null || stats.ReplicaAddress == pair.ReplicaAddress))
            return new PairingDone(lpar, primary, replica, null);
        var reply = await partitions.Ask<object>(new ReplicateCheckpoints(lpar, replica, HotIntervalMs, Verify: true, TargetFirmware: null), timeout);
        return new PairingDone(lpar, primary, replica, reply is LparRefused refused ? refused.Reason : null);
    }

    /// <summary>A planner holding every partition's requirement and its choice on record.</summary>
    private StandbyPlanner Planner(LparList list, HaRegistry registry)
    {
        var planner = new StandbyPlanner();
        var definitions = list.Lpars.ToDictionary(l => l.Definition.Name, l => l.Definition, StringComparer.Ordinal);
        foreach (var record in registry.Records)
        {
            if (record.Requirement is not { } requirement || !definitions.TryGetValue(record.Lpar, out var definition)) continue;
            var before = record.Standby is { } s ? new StandbyChoice(s.Lpar, s.Mode, s.ReplicaNode, s.RequirementMet, s.Reason) : null;
            planner.Restore(RequirementOf(requirement, definition), Estimate(), before);
        }
        return planner;
    }

    private static AvailabilityRequirement RequirementOf(SetAvailabilityRequirement requirement, LparDefinition definition) =>
        new(requirement.Lpar, definition.Node, definition.Vcpus, definition.MemoryMb, requirement.MaxRecovery, requirement.FullPerformance);

    private static StandbyChosen Chosen(StandbyChoice choice, DateTimeOffset now) =>
        new(choice.Lpar, choice.Mode, choice.ReplicaNode, choice.RequirementMet, choice.Reason, now);
}

/// <summary>A hot pair to start: <paramref name="Lpar"/> on <paramref name="Primary"/> replicating to <paramref name="Replica"/>.</summary>
public sealed record PairToStart(string Lpar, string Primary, string Replica)
{
    /// <summary>The cluster address the replica node is registered at (its current process).</summary>
    public string? ReplicaAddress { get; init; }
}

/// <summary>A pairing's outcome; <paramref name="Refusal"/> is null when the replica runs.</summary>
public sealed record PairingDone(string Lpar, string Primary, string Replica, string? Refusal);

/// <summary>Where a hot pair runs: each side's node and the cluster address it was registered at then.</summary>
internal sealed record PairedAt(string Primary, string? PrimaryAddress, string Replica, string? ReplicaAddress);
