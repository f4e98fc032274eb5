using Akka.Actor;
using Vios.Actors.Partitions;
using Vios.Actors.Storage;

namespace Vios.Actors.Checkpoint;

// The messages between a partition's LPAR actor and its checkpoint coordinator (local to the node, never journaled).

/// <summary>
/// To an LPAR and its coordinator: this node may have been frozen, or a write was refused; hold and
/// check the partition's fence. <paramref name="Why"/> is for the log.
/// </summary>
public sealed record CheckOwnership(string Why)
{
    /// <summary>
    /// This process was frozen: the partition holds for <see cref="OwnershipSettings.SettleAfterFreeze"/>
    /// at least, reading the fence every fence-retry, since a failover decided during the freeze may
    /// raise it only after the first read (the new owner's raise waits behind a write lock the frozen
    /// process held, or is simply slow).
    /// </summary>
    public bool AfterFreeze { get; init; }
}

/// <summary>Coordinator → LPAR: the fence still names this copy's epoch; the partition goes on.</summary>
public sealed record OwnershipConfirmed(long Epoch);

/// <summary>
/// Coordinator → LPAR: a newer owner raised the fence above this copy's <paramref name="Epoch"/> to
/// <paramref name="Fence"/>. The copy stops; its held outputs are dropped, never released.
/// </summary>
public sealed record OwnershipLost(string Lpar, long Epoch, long Fence, string Reason);

/// <summary>Coordinator → LPAR: S24 step 1 (the disk layer, while the guest runs), then the stun.</summary>
public sealed record BeginCow(long Epoch);

/// <summary>LPAR → itself: S24 steps 2 to 6.</summary>
public sealed record StunCow(long Epoch);

public sealed record CowStunned(long Epoch, TimeSpan Stun);

/// <summary>Coordinator → LPAR: S24 step 7, one batch of pages saved while the guest runs.</summary>
public sealed record SaveCowBatch(long Epoch, int MaxPages);

public sealed record CowProgress(long Epoch, int Remaining, int SavedBeforeGuestWrite);

public sealed record CompleteCow(long Epoch, TimeSpan Stun);

/// <summary>Coordinator → LPAR: S24 step 8, the image is persisted: keep the parent disk and commit the layer into it.</summary>
public sealed record CommitCowLayer(long Epoch);

/// <summary>Coordinator → LPAR: S23 pre-copy, while the guest runs, of the dirty pages <paramref name="Pick"/> chooses.</summary>
public sealed record PreCopyPages(long Epoch, Func<uint, bool> Pick);

public sealed record PreCopied(long Epoch, uint[] Frames, byte[] Pages);

internal sealed record AckTimeout(long Epoch);

internal sealed record PairingTimeout
{
    public static PairingTimeout Instance { get; } = new();
}

/// <summary>The LPAR's first activation: store its boot image (once).</summary>
public sealed record WriteBootImage
{
    public static WriteBootImage Instance { get; } = new();
}

/// <summary>
/// Coordinator → LPAR: stun, collect, resume. <paramref name="Deferred"/> (frequent delta epochs): the
/// stun marks the dirty pages copy-on-write and they are copied after it, while the guest runs.
/// </summary>
public sealed record CaptureEpoch(long Epoch, bool Full, bool Checksum, bool ForBoot, bool Deferred = false);

/// <summary>LPAR → itself: copy a deferred epoch's pages.</summary>
public sealed record FinishCapture(long Epoch);

public sealed record EpochCaptureResult(EpochCapture? Capture, string? Refusal, bool ForBoot);

/// <summary>LPAR → coordinator: the counters (and with <paramref name="Stop"/>, stop periodic epochs), with the LPAR's output counts.</summary>
public sealed record StatsQuery(bool Stop, long OutputsHeld, long OutputsReleased);

/// <summary>Coordinator → LPAR: the epoch committed; release its outputs.</summary>
public sealed record CommitEpoch(long Epoch);

/// <summary>Coordinator → LPAR: hold outputs until their epoch commits (continuous checkpointing), or stop holding.</summary>
public sealed record HoldOutputs(bool Hold);

/// <summary>
/// Coordinator → LPAR, S22: the primary of a fault-tolerant pair gets <paramref name="Share"/> of its
/// CPU (above 0, at most 1); its workload runs at its writes per second times the share.
/// </summary>
public sealed record AllocatePrimaryCpu(double Share);

/// <summary>Coordinator → LPAR: come up from this image and tell <paramref name="ReplyTo"/>.</summary>
public sealed record InstallImage(RestoredImage Image, string Source, IActorRef ReplyTo);
