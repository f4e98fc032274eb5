namespace Vios.Actors.Availability;

public enum StandbyMode
{
    /// <summary>Restart from the persisted image on failure: costs nothing until then, recovers in the cold restart time.</summary>
    Cold,

    /// <summary>A live replica on another node fed by frequent checkpoints, promoted on failure: reserves a node's room for it.</summary>
    Hot,
}

/// <summary>
/// S17: what partition <paramref name="Lpar"/> (on <paramref name="Node"/>, <paramref name="Vcpus"/>
/// vCPUs and <paramref name="MemoryMb"/> MB) needs from a failover: back within
/// <paramref name="MaxRecoveryTime"/>, and, if <paramref name="FullPerformanceDuringFailover"/>, at
/// full performance while it fails over (a restart from an image is not: it runs cold, then warms).
/// </summary>
public sealed record AvailabilityRequirement(string Lpar, string Node, int Vcpus, long MemoryMb, TimeSpan MaxRecoveryTime, bool FullPerformanceDuringFailover);

/// <summary>Measured recovery times of a partition: restart from its image, and promotion of a hot replica.</summary>
public sealed record RecoveryEstimate(TimeSpan ColdRestart, TimeSpan HotPromotion);

/// <summary>A live vios node and the resources it has free (before the replicas this planner reserves on it).</summary>
public sealed record StandbyNode(string Node, int FreeVcpus, long FreeMemoryMb);

/// <summary>
/// The failover method chosen for a partition: <paramref name="ReplicaNode"/> for a hot standby;
/// <paramref name="RequirementMet"/> false when nothing the cluster offers meets the requirement
/// (then this is the best available), with <paramref name="Reason"/> saying why.
/// </summary>
public sealed record StandbyChoice(string Lpar, StandbyMode Mode, string? ReplicaNode, bool RequirementMet, string Reason);

/// <summary>A partition's choice changed on re-planning (<paramref name="Before"/> null: first choice).</summary>
public sealed record StandbyChange(string Lpar, StandbyChoice? Before, StandbyChoice After);

/// <summary>
/// S17: each partition states its availability requirement; the planner picks hot standby only
/// where cold cannot meet it (full performance during failover, or a cold restart slower than the
/// allowed recovery time), so replicas do not eat the cluster's resources needlessly, and picks the
/// best available, saying so, where nothing meets it. A hot replica reserves its vCPUs and memory on
/// its node. Membership changes re-plan every partition; a replica whose node is still there stays
/// where it is.
/// </summary>
public sealed class StandbyPlanner
{
    private readonly SortedDictionary<string, (AvailabilityRequirement Requirement, RecoveryEstimate Estimate)> _partitions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StandbyChoice> _choices = new(StringComparer.Ordinal);
    private IReadOnlyList<StandbyNode> _nodes = [];

    public IReadOnlyDictionary<string, StandbyChoice> Choices => _choices;

    public IReadOnlyList<StandbyNode> Nodes => _nodes;

    /// <summary>Adds or changes a partition's requirement and estimate and chooses for it on the current nodes.</summary>
    public StandbyChoice Require(AvailabilityRequirement requirement, RecoveryEstimate estimate)
    {
        if (requirement.MaxRecoveryTime <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(requirement), "the maximum recovery time must be positive");
        _partitions[requirement.Lpar] = (requirement, estimate);
        _choices.Remove(requirement.Lpar);
        var choice = Choose(requirement, estimate, Free());
        _choices[requirement.Lpar] = choice;
        return choice;
    }

    /// <summary>
    /// Takes back a partition's requirement and the choice made for it before (by a predecessor, from
    /// the journal) without choosing again: the next <see cref="Replan"/> keeps its replica where it is
    /// if that node still has room, instead of moving it to where a fresh choice would put it.
    /// </summary>
    public void Restore(AvailabilityRequirement requirement, RecoveryEstimate estimate, StandbyChoice? choice)
    {
        _partitions[requirement.Lpar] = (requirement, estimate);
        if (choice is null) _choices.Remove(requirement.Lpar);
        else _choices[requirement.Lpar] = choice;
    }

    /// <summary>Drops a partition; its replica's room is free again (call <see cref="Replan"/> to give it to others).</summary>
    public bool Forget(string lpar) => _partitions.Remove(lpar) | _choices.Remove(lpar);

    /// <summary>
    /// The cluster's live nodes changed (a node left or joined, or free resources moved): re-plans
    /// every partition on <paramref name="nodes"/> and returns the choices that changed.
    /// </summary>
    public IReadOnlyList<StandbyChange> Replan(IReadOnlyCollection<StandbyNode> nodes)
    {
        _nodes = nodes.OrderBy(n => n.Node, StringComparer.Ordinal).ToList();
        var before = new Dictionary<string, StandbyChoice>(_choices, StringComparer.Ordinal);
        _choices.Clear();

        // First keep the replicas that can stay (their node is still here with room), so a node
        // joining does not move replicas about; then choose afresh for the rest, by name.
        foreach (var (lpar, (requirement, estimate)) in _partitions)
        {
            if (before.GetValueOrDefault(lpar) is not { Mode: StandbyMode.Hot, ReplicaNode: { } replica }) continue;
            var choice = Choose(requirement, estimate, Free().Where(f => f.Node == replica).ToList());
            if (choice is { Mode: StandbyMode.Hot, RequirementMet: true } && choice.ReplicaNode == replica) _choices[lpar] = choice;
        }
        foreach (var (lpar, (requirement, estimate)) in _partitions)
            if (!_choices.ContainsKey(lpar)) _choices[lpar] = Choose(requirement, estimate, Free());

        return _partitions.Keys
            .Where(lpar => before.GetValueOrDefault(lpar) != _choices[lpar])
            .Select(lpar => new StandbyChange(lpar, before.GetValueOrDefault(lpar), _choices[lpar]))
            .ToList();
    }

    /// <summary>The choice for one partition given the room each node has left; pure.</summary>
    public static StandbyChoice Choose(AvailabilityRequirement requirement, RecoveryEstimate estimate, IReadOnlyCollection<StandbyNode> free)
    {
        var limit = FailoverPolicy.Describe(requirement.MaxRecoveryTime);
        var cold = FailoverPolicy.Describe(estimate.ColdRestart);
        var hot = FailoverPolicy.Describe(estimate.HotPromotion);
        var coldFastEnough = estimate.ColdRestart <= requirement.MaxRecoveryTime;
        var hotFastEnough = estimate.HotPromotion <= requirement.MaxRecoveryTime;

        if (coldFastEnough && !requirement.FullPerformanceDuringFailover)
            return new(requirement.Lpar, StandbyMode.Cold, null, true, $"cold: restart from the image in about {cold} meets the {limit} limit, and reduced performance during failover is acceptable");

        var needsHot = requirement.FullPerformanceDuringFailover
            ? "full performance during failover needs a hot replica"
            : $"a cold restart ({cold}) exceeds the {limit} limit";

        // The replica goes where most memory is left after it, so later replicas still fit.
        var replica = free
            .Where(n => n.Node != requirement.Node && n.FreeVcpus >= requirement.Vcpus && n.FreeMemoryMb >= requirement.MemoryMb)
            .OrderByDescending(n => n.FreeMemoryMb - requirement.MemoryMb)
            .ThenBy(n => n.Node, StringComparer.Ordinal)
            .FirstOrDefault();

        if (replica is null)
        {
            var room = $"no node other than {requirement.Node} has {requirement.Vcpus} vCPUs and {requirement.MemoryMb} MB free for a replica";
            return new(requirement.Lpar, StandbyMode.Cold, null, false,
                $"cold (requirement cannot be met): {needsHot}, but {room}; restart from the image in about {cold} is the best available");
        }
        if (!hotFastEnough)
            return new(requirement.Lpar, StandbyMode.Hot, replica.Node, false,
                $"hot on {replica.Node} (requirement cannot be met): {needsHot}, and promoting the replica takes about {hot}, over the {limit} limit; the fastest available");
        return new(requirement.Lpar, StandbyMode.Hot, replica.Node, true, $"hot on {replica.Node}: {needsHot}; promotion in about {hot} meets the {limit} limit");
    }

    /// <summary>Each node's room after the replicas already chosen.</summary>
    private List<StandbyNode> Free() =>
        _nodes.Select(n =>
        {
            var taken = _choices.Values
                .Where(c => c.Mode == StandbyMode.Hot && c.ReplicaNode == n.Node)
                .Select(c => _partitions[c.Lpar].Requirement)
                .ToList();
            return n with { FreeVcpus = n.FreeVcpus - taken.Sum(r => r.Vcpus), FreeMemoryMb = n.FreeMemoryMb - taken.Sum(r => r.MemoryMb) };
        }).ToList();
}
