using Akka.Event;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// What one survey of the partition list decided, to persist in this order: availability records for
/// new partitions, then (on a complete list) the records that follow the partition manager's placement,
/// the failures and their restarts, the standby choices
/// that changed, and failover image nodes chosen again.
/// </summary>
/// <param name="Complete">Whether the list had every live vios node registered; an incomplete one decides only new records.</param>
public sealed record SurveyDecision(
    IReadOnlyList<IViosMessage> Events,
    bool Complete,
    IReadOnlyList<FailoverRefused> Refusals,
    IReadOnlyList<StandbyChosen> Choices,
    IReadOnlyList<AvailabilityDeclared> Redesignated)
{
    /// <summary>The records moved to the node the partition manager places the partition on (<see cref="HaRegistry.Follow"/>).</summary>
    public IReadOnlyList<AvailabilityDeclared> Followed { get; init; } = [];

    /// <summary>What the HA manager logs of it: a followed record is a warning (a move or takeover it was not told of), a refused failover an error.</summary>
    public IEnumerable<(LogLevel Level, string Text)> Describe()
    {
        foreach (var followed in Followed)
            yield return (LogLevel.WarningLevel, $"ha-manager: {followed.Lpar} is placed on {followed.Node} by the partition manager, not where its availability "
                + "record had it: the record follows (a move or a takeover not announced here); its failover image nodes are "
                + $"{followed.ConsistencyNode} (consistency) and {followed.BootNode} (boot)");
        foreach (var refused in Refusals) yield return (LogLevel.ErrorLevel, $"ha-manager: {refused.Lpar}: {refused.Reason}");
        foreach (var chosen in Choices) yield return (LogLevel.InfoLevel, $"ha-manager: {chosen.Lpar}: {chosen.Reason}");
        foreach (var declared in Redesignated)
            yield return (LogLevel.InfoLevel, $"ha-manager: {declared.Lpar} runs on {declared.Node}: its failover image nodes are now "
                + $"{declared.ConsistencyNode} (consistency) and {declared.BootNode} (boot)");
    }
}

/// <summary>
/// The HA manager's survey as one pure decision over the partition list, the records, the cluster's
/// members and the clock: each rule is its own class (<see cref="FailureDetector"/>,
/// <see cref="HaRegistry"/>, <see cref="StandbyUpkeep"/>); this puts them in order on one draft, so
/// each decision sees the ones before it, and leaves <paramref name="registry"/> as it was: it
/// changes only as the events are recorded.
/// </summary>
public static class HaSurvey
{
    /// <param name="changedSinceAsked">Partitions whose record changed after the list was asked for: the list may predate the change, and no record follows it.</param>
    public static SurveyDecision Decide(LparList list, HaRegistry registry, FailureDetector detector, StandbyUpkeep standby,
        IReadOnlyCollection<MemberView> members, IReadOnlySet<string> inProgress, DateTimeOffset now, IReadOnlySet<string>? changedSinceAsked = null)
    {
        var online = list.Nodes.Select(n => n.Node).ToList();
        var draft = registry.Copy();
        var room = NodeRoom.Of(list);
        var events = new List<IViosMessage>();
        foreach (var summary in list.Lpars.Where(l => draft.Find(l.Definition.Name) is null))
        {
            var (declared, _) = draft.Decide(new DeclareAvailability(summary.Definition.Name, summary.Definition.Node, null, null), online, room.For(summary.Definition.Name));
            if (declared is null) continue;
            draft.Apply(declared);
            events.Add(declared);
        }
        // A list that lacks live nodes (a new partition manager hears from the firmwares one by one)
        // would fail partitions over, and move replicas, away from nodes that are merely late.
        var dead = detector.DeadNodes(list, members, now);
        if (!detector.Complete(list, dead, members)) return new SurveyDecision(events, false, [], [], []);

        // Before the failures: a partition the partition manager moved fails from the node it is on now.
        var live = online.Where(n => !dead.Contains(n)).ToList();
        var followed = draft.Follow(list, inProgress.Concat(changedSinceAsked ?? new HashSet<string>()).ToHashSet(StringComparer.Ordinal), live, room);
        events.AddRange(followed);
        var failures = detector.Check(list, dead, draft, inProgress, now, room);
        events.AddRange(failures.Events);
        var choices = standby.Replan(list, draft, now);
        events.AddRange(choices);
        var busy = draft.PendingRestarts.Select(p => p.Lpar).Concat(inProgress).ToHashSet(StringComparer.Ordinal);
        var redesignated = draft.Redesignate(live, busy, room, dead);
        events.AddRange(redesignated);
        return new SurveyDecision(events, true, failures.Refusals, choices, redesignated) { Followed = followed };
    }
}

/// <summary>
/// The partition lists the HA manager asks for, numbered, and the number current when each
/// partition's record last changed: a list asked for before a change may predate it, and no record
/// follows such a list (<see cref="HaRegistry.Follow"/>). A list pushed unasked counts as a new one.
/// </summary>
public sealed class ListNumbering
{
    private long _asked;
    private readonly Dictionary<string, long> _changedAt = new(StringComparer.Ordinal);

    /// <summary>The number of a list asked for now.</summary>
    public long Ask() => ++_asked;

    /// <summary>An event of the HA manager was recorded: its partition's record changed.</summary>
    public void Recorded(IViosMessage e)
    {
        if (LparOf(e) is { } lpar) _changedAt[lpar] = _asked;
    }

    /// <summary>The partitions whose record changed after list number <paramref name="asked"/> was asked for.</summary>
    public IReadOnlySet<string> ChangedSince(long asked) =>
        _changedAt.Where(c => c.Value >= asked).Select(c => c.Key).ToHashSet(StringComparer.Ordinal);

    private static string? LparOf(IViosMessage e) => e switch
    {
        AvailabilityDeclared declared => declared.Lpar,
        FailureRecorded recorded => recorded.Lpar,
        RestartPlanned planned => planned.Lpar,
        RestartCompleted completed => completed.Lpar,
        AvailabilityWithdrawn withdrawn => withdrawn.Lpar,
        _ => null,
    };
}
