using Akka.Actor;
using Akka.Event;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// The HA manager's restarts: each planned restart is one <see cref="FailoverRestart"/> attempt at a
/// time (a saga over the partition manager with typed replies, <see cref="RestartDone"/> and
/// <see cref="RestartFailed"/>), retried by <see cref="RestartAttempts"/> while it is pending; a
/// completion is recorded before anything else is done. Hot pairs are started here too.
/// </summary>
public sealed partial class HaManagerActor
{
    /// <summary>
    /// Carries a planned restart out (<see cref="FailoverRestart"/>): stops the partition where it is
    /// if that node lives, moves it to its target node and brings it up there. An attempt that does
    /// not finish by its deadline (a step whose reply never comes) is given up and tried again, never
    /// left in progress for good; its steps may still complete late, which the next attempt finds.
    /// </summary>
    private void Execute(RestartPlanned plan)
    {
        if (!_attempts.Begin(plan.Lpar)) return;
        var failed = _registry.Find(plan.Lpar)?.Failures.FirstOrDefault(f => f.FailureId == plan.FailureId)?.FailedNode;
        var fenceFirst = _detector.StopFirst(failed, _lastList, MemberView.Of(_cluster), DateTimeOffset.UtcNow);
        _log.Warning("ha-manager: restarting {0} on {1} from {2}: {3}", plan.Lpar, plan.TargetNode, FailoverRestart.Describe(plan.Image), plan.Reason);
        _standby.Unpair(plan.Lpar);
        var deadline = _settings.RestartDeadline;
        _ = FailoverRestart.RunAsync(plan, failed, _partitions, fenceFirst, _detector.FenceFor(failed), _attempts.IsRetry(plan.Lpar), deadline)
            .WaitAsync(deadline)
            .PipeTo(Self, failure: e => new RestartFailed(plan.Lpar, e is TimeoutException
                ? $"the attempt did not finish within {deadline.TotalSeconds:0.#} s (vios.availability.restart-deadline)"
                : e.GetBaseException().Message));
    }

    private void Failed(RestartFailed failed)
    {
        // Completed meanwhile (a survivor's takeover was recorded): nothing is pending any more.
        if (_registry.PendingRestarts.FirstOrDefault(p => p.Lpar == failed.Lpar) is not { } plan)
        {
            _attempts.Ended(failed.Lpar);
            _log.Info("ha-manager: {0}: an attempt ended ({1}), but no restart is pending any more", failed.Lpar, failed.Reason);
            return;
        }
        var step = _attempts.Failed(failed.Lpar);
        // The partition manager may not have noticed the node is gone yet: try again shortly.
        if (step.Quick) _log.Info("ha-manager: {0} not restarted yet (attempt {1}): {2}", failed.Lpar, step.Attempts, failed.Reason);
        else if (step.Alarm)
            _log.Error("ha-manager: {0} could not be restarted after {1} attempts: {2}; trying again every {3} s",
                failed.Lpar, step.Attempts, failed.Reason, step.Delay.TotalSeconds);
        Timers.StartSingleTimer($"retry-{failed.Lpar}", new Retry(plan), step.Delay);
    }

    private void Completed(RestartDone done)
    {
        _attempts.Ended(done.Lpar);
        var (completed, refusal) = _registry.Complete(done.Lpar, done.FailureId, done.Node, DateTimeOffset.UtcNow);
        if (completed is null)
        {
            _log.Warning("ha-manager: {0}: {1}", done.Lpar, refusal);
            return;
        }
        if (done.Measured) _standby.Measured(done.Image, done.Took);
        PersistFenced(completed with { Detail = done.Detail }, e =>
        {
            Applied(e);
            _log.Info("ha-manager: {0} is running again on {1}, {2}", done.Lpar, done.Node, done.Detail);
            // Its node changed: a hot standby needs a replica elsewhere again (the next survey re-plans).
            Self.Tell(Survey.Instance);
        });
    }

    /// <summary>
    /// A survivor took the partition over while this manager moved: the failure and its restart go
    /// into the history (<see cref="HaRegistry.Decide(TakeoverCompleted)"/>). Answered once recorded;
    /// a repeat is answered at once.
    /// </summary>
    private void TakenOver(TakeoverCompleted done)
    {
        var replyTo = Sender;
        var (events, refusal) = _registry.Decide(done);
        if (refusal is not null)
        {
            replyTo.Tell(new HaRefused(done.Lpar, refusal));
            return;
        }
        if (events.Count == 0)
        {
            replyTo.Tell(new TakeoverRecorded(done.Lpar, done.FailureId));
            return;
        }
        _standby.Measured(done.Image, done.Took);
        _log.Info("ha-manager: {0} was taken over by {1} ({2}) while the HA manager moved", done.Lpar, done.Node, done.Detail);
        _waiting = (replyTo, done.Lpar);
        // A write the journal rejects is answered with the reason (the survivor asks again), and this is not run.
        PersistAllFencedThen(events, Applied, () =>
        {
            replyTo.Tell(new TakeoverRecorded(done.Lpar, done.FailureId));
            Self.Tell(Survey.Instance);
        });
    }

    /// <summary>Starts the replication of each running hot-standby partition to its replica node, where it is not running yet.</summary>
    private void EnsurePairs(LparList list)
    {
        foreach (var pair in _standby.PairsToStart(list, _registry, _attempts.InProgress))
            StandbyUpkeep.PairAsync(_partitions, pair, _settings.AskTimeout)
                .PipeTo(Self, failure: e => new PairingDone(pair.Lpar, pair.Primary, pair.Replica, e.Message));
    }
}
