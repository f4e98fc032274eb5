using Vios.Actors.Partitions;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// One owner per partition, as the checkpoint coordinator keeps it: the phase of its claim on the
/// partition's fence, and what each fence answer means. The coordinator raises the fence to its
/// claim's epoch before it reads the journal (<see cref="OwnershipPhase.Raising"/>), checks it again
/// after a freeze or a refused write (<see cref="OwnershipPhase.Checking"/>), holds every message
/// while either runs, and stops for good once a newer owner has raised it
/// (<see cref="OwnershipPhase.Lost"/>). After a freeze it holds at least
/// <see cref="OwnershipSettings.SettleAfterFreeze"/>: a failover decided during the freeze may raise
/// the fence only after the first read. Pure: the clock is given.
/// </summary>
public sealed class OwnershipGate(string lpar, string node, OwnerClaim claim, OwnershipSettings settings)
{
    private DateTimeOffset _settleUntil = DateTimeOffset.MinValue;
    private bool _checkRequested;

    public OwnershipPhase Phase { get; private set; } = OwnershipPhase.Raising;

    /// <summary>Why this copy stopped, once it has.</summary>
    public OwnershipLost? Lost { get; private set; }

    /// <summary>Whether messages wait (stashed) for the fence's answer.</summary>
    public bool Holding => Phase is OwnershipPhase.Raising or OwnershipPhase.Checking;

    /// <summary>Whether the next fence call raises (the first) or only reads it.</summary>
    public bool Raise => Phase == OwnershipPhase.Raising;

    /// <summary>
    /// A check was asked for (a freeze, a refused write): true when the fence is to be read (the
    /// partition holds until it answers); false once lost (the LPAR is told <see cref="Lost"/> again).
    /// </summary>
    public bool Check(CheckOwnership check, DateTimeOffset now)
    {
        if (Phase == OwnershipPhase.Lost) return false;
        if (Phase == OwnershipPhase.Owned) Phase = OwnershipPhase.Checking;
        if (check.AfterFreeze && now + settings.SettleAfterFreeze > _settleUntil) _settleUntil = now + settings.SettleAfterFreeze;
        _checkRequested = true;
        return true;
    }

    /// <summary>The fence answered <paramref name="fence"/> (null: no row yet): what the coordinator does next.</summary>
    public FenceVerdict Answered(long? fence, DateTimeOffset now)
    {
        if (!Holding) return FenceVerdict.Ignored;
        if (Ownership.Judge(claim.Epoch, fence) == OwnershipVerdict.Lost)
        {
            Phase = OwnershipPhase.Lost;
            Lost = new OwnershipLost(lpar, claim.Epoch, fence!.Value,
                $"'{lpar}' on {node} lost its ownership: this copy has owner epoch {claim.Epoch}, the fence {claim.FenceKey} is at {fence} (the partition runs elsewhere)");
            return FenceVerdict.Lost;
        }
        if (_checkRequested && _settleUntil - now is var settling && settling > TimeSpan.Zero)
        {
            // Not yet: a newer owner's raise may still come. Read again shortly; the partition holds.
            Phase = OwnershipPhase.Checking;
            return new FenceVerdict(FenceOutcome.ReadAgain, settling < settings.FenceRetry ? settling : settings.FenceRetry);
        }
        Phase = OwnershipPhase.Owned;
        var afterCheck = _checkRequested;
        _checkRequested = false;
        return afterCheck ? FenceVerdict.ConfirmedAfterCheck : FenceVerdict.Owned;
    }
}

public enum OwnershipPhase
{
    /// <summary>Raising the fence to this copy's epoch; nothing has read the journal yet.</summary>
    Raising,
    Owned,
    /// <summary>Reading the fence (after a freeze or a refused write); nothing commits meanwhile.</summary>
    Checking,
    Lost,
}

public enum FenceOutcome
{
    /// <summary>Nothing was waiting for this answer.</summary>
    Ignored,
    /// <summary>This copy owns the partition: it goes on.</summary>
    Owned,
    /// <summary>Owned, and a check asked for was settled by this answer (logged).</summary>
    ConfirmedAfterCheck,
    /// <summary>Still settling after a freeze: read the fence again after <see cref="FenceVerdict.After"/>.</summary>
    ReadAgain,
    /// <summary>A newer owner raised the fence: this copy stops (<see cref="OwnershipGate.Lost"/>).</summary>
    Lost,
}

public sealed record FenceVerdict(FenceOutcome Outcome, TimeSpan After = default)
{
    public static FenceVerdict Ignored { get; } = new(FenceOutcome.Ignored);
    public static FenceVerdict Owned { get; } = new(FenceOutcome.Owned);
    public static FenceVerdict ConfirmedAfterCheck { get; } = new(FenceOutcome.ConfirmedAfterCheck);
    public static FenceVerdict Lost { get; } = new(FenceOutcome.Lost);
}
