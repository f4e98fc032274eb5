using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// The HA manager's restarts in progress, one attempt at a time per partition. An attempt ends with
/// its outcome (<see cref="RestartDone"/>, <see cref="RestartFailed"/>) or, if none came within the
/// restart deadline, is given up (<see cref="RestartOverdue"/>) so that the partition is tried again
/// instead of staying "in progress" until the HA manager restarts. An outcome of an attempt given up
/// is stale; only a completion still counts, as the registry accepts one completion per failure.
/// </summary>
public sealed class RestartAttempts
{
    private readonly Dictionary<string, int> _current = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private int _lastAttempt;

    public bool InProgress(string lpar) => _current.ContainsKey(lpar);

    /// <summary>A new attempt for <paramref name="lpar"/>, or null while one is under way.</summary>
    public int? Begin(string lpar)
    {
        if (_current.ContainsKey(lpar)) return null;
        _current[lpar] = ++_lastAttempt;
        return _lastAttempt;
    }

    /// <summary>
    /// Ends attempt <paramref name="attempt"/> as failed (or overdue) and returns how many attempts
    /// have failed in a row; null when that attempt is not the current one (a stale outcome).
    /// </summary>
    public int? Fail(string lpar, int attempt)
    {
        if (!_current.TryGetValue(lpar, out var current) || current != attempt) return null;
        _current.Remove(lpar);
        var failures = _failures.GetValueOrDefault(lpar) + 1;
        _failures[lpar] = failures;
        return failures;
    }

    /// <summary>The partition runs again: whichever attempt brought it up, nothing is in progress any more.</summary>
    public void Complete(string lpar)
    {
        _current.Remove(lpar);
        _failures.Remove(lpar);
    }
}

/// <summary>How one attempt at a planned restart ended.</summary>
internal abstract record RestartOutcome(string Lpar, int Attempt);

internal sealed record RestartDone(string Lpar, int Attempt, string FailureId, string Node, FailoverImage Image, TimeSpan Took, string Detail)
    : RestartOutcome(Lpar, Attempt);

internal sealed record RestartFailed(string Lpar, int Attempt, string Reason) : RestartOutcome(Lpar, Attempt);

/// <summary>The restart deadline of an attempt has passed (a timer of the HA manager).</summary>
internal sealed record RestartOverdue(string Lpar, int Attempt);

/// <summary>
/// S5/S17: carries out one planned restart through the partition manager: stops the partition where
/// it is if that node lives, fences the node, moves the partition to its target node and brings it
/// up there (promotes the hot replica, or restores the image). A refusal on the way is a
/// <see cref="RestartFailed"/> with the partition manager's reason.
/// </summary>
internal static class RestartWorkflow
{
    /// <remarks>An ask that times out faults the task: the caller pipes it with a failure mapping to <see cref="RestartFailed"/>.</remarks>
    public static async Task<RestartOutcome> RunAsync(
        RestartPlanned plan, int attempt, IActorRef partitions, bool fenceFirst, FenceNode? fence, TimeSpan askTimeout)
    {
        var started = DateTimeOffset.UtcNow;
        // A guest that stopped heartbeating on a live node is stopped there first, so it never runs twice.
        if (fenceFirst) await partitions.Ask<object>(new StopLpar(plan.Lpar), askTimeout);
        // A fenced node is out of the partition manager's placement at once, not when the cluster removes it.
        if (fence is not null) await partitions.Ask<object>(fence, askTimeout);
        var moved = await partitions.Ask<object>(new MoveLpar(plan.Lpar, plan.TargetNode, plan.Reason), askTimeout);
        if (moved is LparRefused { Reason: var moveRefusal } && !moveRefusal.Contains("already placed on", StringComparison.Ordinal))
            return new RestartFailed(plan.Lpar, attempt, moveRefusal);

        object restored;
        var fallback = "";
        if (plan.Image == FailoverImage.Replica)
        {
            restored = await partitions.Ask<object>(new PromoteReplica(plan.Lpar), askTimeout);
            if (restored is CheckpointRestored promoted)
                return Done(plan, attempt, promoted, started, $"promoted its replica at epoch {promoted.Epoch}");
            // The replica is gone or empty: the persisted image is what there is.
            fallback = $" (the replica could not be promoted: {(restored as LparRefused)?.Reason})";
        }
        long? epoch = plan.Image == FailoverImage.Boot ? 0 : null;
        restored = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, epoch), askTimeout);
        if (restored is CheckpointRestored { Verified: false } corrupt)
            return new RestartFailed(plan.Lpar, attempt, $"the image of epoch {corrupt.Epoch} restored with a different memory checksum than at its stun");
        if (restored is CheckpointRestored image)
            return Done(plan, attempt, image, started, (epoch == 0 ? "from the boot image" : $"from epoch {image.Epoch}") + fallback);
        // No committed consistency image yet: the boot image is what there is.
        if (epoch is null)
        {
            var boot = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, 0), askTimeout);
            if (boot is CheckpointRestored bootImage)
                return Done(plan, attempt, bootImage, started, $"from the boot image: no consistency image was committed{fallback}");
        }
        return new RestartFailed(plan.Lpar, attempt, (restored as LparRefused)?.Reason ?? $"unexpected reply {restored}");
    }

    private static RestartDone Done(RestartPlanned plan, int attempt, CheckpointRestored restored, DateTimeOffset started, string how) =>
        new(plan.Lpar, attempt, plan.FailureId, restored.Node, plan.Image, DateTimeOffset.UtcNow - started,
            $"{how}, memory checksum {restored.MemoryChecksum:x16}{(restored.Verified == true ? " (equal to the image's)" : "")}");
}
