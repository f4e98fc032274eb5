using Akka.Actor;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;

namespace Vios.Actors.Availability;

/// <summary>
/// One attempt at a planned restart (S5, S17), as a task of typed steps against the partition
/// manager: stop the partition where it is if its node lives, fence the failed node out of
/// placement, move the partition to its target node, then promote its hot replica or restore its
/// image there. Every reply is matched by type; the outcome is a <see cref="RestartDone"/> or a
/// <see cref="RestartFailed"/>, never an exception the HA manager would have to map.
/// </summary>
public static class FailoverRestart
{
    /// <param name="failedNode">The node the partition failed on (its failure in the record), if known.</param>
    /// <param name="fenceFirst">The failed node lives (a silent guest): stop the partition there first, so it never runs twice.</param>
    /// <param name="fence">Tell the partition manager the node is fenced before the move, not once the cluster removes it.</param>
    /// <param name="retry">An earlier attempt was given up: check first whether it brought the partition up after all.</param>
    public static async Task<object> RunAsync(RestartPlanned plan, string? failedNode, IActorRef partitions, bool fenceFirst, FenceNode? fence, bool retry, TimeSpan deadline)
    {
        var started = DateTimeOffset.UtcNow;
        // A previous attempt that was given up may have brought the partition up after all, or a
        // survivor took it over while the HA manager moved (then its record is on that node).
        if (retry && await partitions.Ask<LparList>(ListLpars.Instance, deadline) is var list
            // Reported by the node, not the intent a failed restore recorded before it was refused there.
            && list.Lpars.FirstOrDefault(l => l.Definition.Name == plan.Lpar) is { State: LparState.Running, NodeOnline: true, StateReported: true } running
            && running.Definition.Node != failedNode)
            return new RestartDone(plan.Lpar, plan.FailureId, running.Definition.Node, plan.Image, DateTimeOffset.UtcNow - started,
                $"running on {running.Definition.Node} since an earlier attempt", Measured: false);
        if (fenceFirst) await partitions.Ask<object>(new StopLpar(plan.Lpar), deadline);
        if (fence is not null) await partitions.Ask<object>(fence, deadline);
        var moved = await partitions.Ask<object>(new MoveLpar(plan.Lpar, plan.TargetNode, plan.Reason), deadline);
        if (moved is LparRefused { Kind: not LparRefusal.AlreadyPlaced } moveRefused)
            return new RestartFailed(plan.Lpar, moveRefused.Reason);

        object restored;
        var fallback = "";
        if (plan.Image == FailoverImage.Replica)
        {
            restored = await partitions.Ask<object>(new PromoteReplica(plan.Lpar), deadline);
            if (restored is CheckpointRestored promoted)
                return Done(plan, promoted, started, $"promoted its replica at epoch {promoted.Epoch}");
            // The replica is gone or empty: the persisted image is what there is.
            fallback = $" (the replica could not be promoted: {(restored as LparRefused)?.Reason})";
        }
        long? epoch = plan.Image == FailoverImage.Boot ? 0 : null;
        restored = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, epoch), deadline);
        if (restored is CheckpointRestored { Verified: false } corrupt)
            return new RestartFailed(plan.Lpar, $"the image of epoch {corrupt.Epoch} restored with a different memory checksum than at its stun");
        if (restored is CheckpointRestored image)
            return Done(plan, image, started, (epoch == 0 ? "from the boot image" : $"from epoch {image.Epoch}") + fallback);
        // No committed consistency image yet: the boot image is what there is.
        if (epoch is null)
        {
            var boot = await partitions.Ask<object>(new RestoreCheckpoint(plan.Lpar, plan.Lpar, 0), deadline);
            if (boot is CheckpointRestored bootImage)
                return Done(plan, bootImage, started, $"from the boot image: no consistency image was committed{fallback}");
        }
        return new RestartFailed(plan.Lpar, (restored as LparRefused)?.Reason ?? $"unexpected reply {restored}");
    }

    public static string Describe(FailoverImage image) => image switch
    {
        FailoverImage.Boot => "its boot image",
        FailoverImage.Replica => "its hot replica",
        _ => "its consistency image",
    };

    /// <summary>
    /// The image a restart came from: a restore names the partition's own images as its source, a
    /// promotion the replica; a planned promotion that fell back to the journal restored an image and
    /// is measured as such, not as a promotion (the estimates would take its seconds for the replica's).
    /// </summary>
    public static FailoverImage ImageUsed(FailoverImage planned, CheckpointRestored restored, string lpar) =>
        restored.Source != lpar ? FailoverImage.Replica
        : planned != FailoverImage.Replica ? planned
        : restored.Epoch == 0 ? FailoverImage.Boot : FailoverImage.Consistency;

    private static RestartDone Done(RestartPlanned plan, CheckpointRestored restored, DateTimeOffset started, string how) =>
        new(plan.Lpar, plan.FailureId, restored.Node, ImageUsed(plan.Image, restored, plan.Lpar), DateTimeOffset.UtcNow - started,
            $"{how}, memory checksum {restored.MemoryChecksum:x16}{(restored.Verified == true ? " (equal to the image's)" : "")}");
}

/// <summary>A restart attempt brought the partition up on <paramref name="Node"/>.</summary>
/// <param name="Measured">Whether <paramref name="Took"/> is the restart's own time (not a check that found it done).</param>
public sealed record RestartDone(string Lpar, string FailureId, string Node, FailoverImage Image, TimeSpan Took, string Detail, bool Measured = true);

/// <summary>A restart attempt failed or ran past its deadline; the restart stays pending and is tried again.</summary>
public sealed record RestartFailed(string Lpar, string Reason);

/// <summary>What to do after a failed attempt: try again after <paramref name="Delay"/>; <paramref name="Alarm"/> when the operator should hear of it.</summary>
public sealed record RetryStep(int Attempts, TimeSpan Delay, bool Quick, bool Alarm);

/// <summary>
/// The restarts under way and the attempts each has had. A partition is in progress from its
/// attempt's start to its outcome; a failed attempt is retried quickly
/// (<see cref="AvailabilitySettings.RetryDelay"/>) for <see cref="AvailabilitySettings.QuickAttempts"/>
/// attempts (the partition manager may not have noticed the node is gone yet), then every
/// <see cref="AvailabilitySettings.SlowRetryDelay"/> for as long as the restart is pending: it is
/// never given up (a database restarting, a target node coming back).
/// </summary>
public sealed class RestartAttempts(AvailabilitySettings settings)
{
    private readonly HashSet<string> _inProgress = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);

    public IReadOnlySet<string> InProgress => _inProgress;

    /// <summary>Starts an attempt; false when one is under way already.</summary>
    public bool Begin(string lpar) => _inProgress.Add(lpar);

    /// <summary>Whether an earlier attempt failed (the next one first checks whether it succeeded late).</summary>
    public bool IsRetry(string lpar) => _attempts.ContainsKey(lpar);

    /// <summary>The restart completed, or nothing is pending any more.</summary>
    public void Ended(string lpar)
    {
        _inProgress.Remove(lpar);
        _attempts.Remove(lpar);
    }

    /// <summary>An attempt failed while its restart is still pending: when to try again.</summary>
    public RetryStep Failed(string lpar)
    {
        _inProgress.Remove(lpar);
        var attempts = _attempts.GetValueOrDefault(lpar) + 1;
        _attempts[lpar] = attempts;
        var quick = attempts < settings.QuickAttempts;
        return new RetryStep(attempts, quick ? settings.RetryDelay : settings.SlowRetryDelay, quick,
            Alarm: attempts == settings.QuickAttempts || (!quick && attempts % 12 == 0));
    }
}
