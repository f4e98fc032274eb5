namespace Vios.Actors.Availability;

/// <summary>
/// Setpoints of <see cref="LagController"/>: above <see cref="LowerAboveLag"/> epochs of lag the
/// primary's rate is multiplied by <see cref="LowerFactor"/>; below <see cref="RaiseBelowLag"/> by
/// <see cref="RaiseFactor"/>; in between it is held. The rate (the primary's CPU allocation, 1.0 =
/// all of it) stays within <see cref="MinRate"/>..<see cref="MaxRate"/>.
/// </summary>
public sealed record LagControllerSettings
{
    public LagControllerSettings(long raiseBelowLag = 2, long lowerAboveLag = 8, double lowerFactor = 0.8, double raiseFactor = 1.25, double minRate = 0.1, double maxRate = 1.0)
    {
        if (raiseBelowLag < 0 || lowerAboveLag < raiseBelowLag)
            throw new ArgumentException($"setpoints need 0 <= raise-below ({raiseBelowLag}) <= lower-above ({lowerAboveLag})");
        if (lowerFactor is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(lowerFactor), lowerFactor, "the lowering factor is between 0 and 1");
        if (raiseFactor <= 1) throw new ArgumentOutOfRangeException(nameof(raiseFactor), raiseFactor, "the raising factor is above 1");
        if (minRate <= 0 || maxRate < minRate) throw new ArgumentException($"rates need 0 < min ({minRate}) <= max ({maxRate})");
        (RaiseBelowLag, LowerAboveLag, LowerFactor, RaiseFactor, MinRate, MaxRate) = (raiseBelowLag, lowerAboveLag, lowerFactor, raiseFactor, minRate, maxRate);
    }

    public static LagControllerSettings Default { get; } = new();

    public long RaiseBelowLag { get; }

    public long LowerAboveLag { get; }

    public double LowerFactor { get; }

    public double RaiseFactor { get; }

    public double MinRate { get; }

    public double MaxRate { get; }
}

public enum LagAction
{
    Held,
    Lowered,
    Raised,
}

/// <summary>One observation's outcome: the lag seen, what was done, the primary's rate from now on.</summary>
public sealed record LagDecision(long Lag, LagAction Action, double Rate);

/// <summary>
/// S22: in a fault-tolerant pair the secondary replays what the primary did; its execution latency
/// is how many epochs its applied epoch lags the primary's. The primary's CPU allocation is lowered
/// step by step while the lag is large and raised while it is small, so a takeover never has far to
/// catch up, yet the primary runs as fast as the secondary can follow (back at the maximum once the
/// secondary keeps up). Pure: the pair's actor observes and applies the rate.
/// </summary>
public sealed class LagController(LagControllerSettings settings)
{
    public LagController()
        : this(LagControllerSettings.Default)
    {
    }

    public LagControllerSettings Settings { get; } = settings;

    /// <summary>The primary's current CPU allocation; it starts at the maximum.</summary>
    public double Rate { get; private set; } = settings.MaxRate;

    public long Lowered { get; private set; }

    public long Raised { get; private set; }

    public long Held { get; private set; }

    /// <summary>
    /// One observation of both epochs. A secondary reported ahead of the primary (the two reports
    /// crossed) counts as no lag. Raising at the maximum, or lowering at the minimum, is holding.
    /// </summary>
    public LagDecision Observe(long primaryEpoch, long appliedEpoch)
    {
        var lag = Math.Max(0, primaryEpoch - appliedEpoch);
        var action = LagAction.Held;
        if (lag > Settings.LowerAboveLag && Rate > Settings.MinRate)
        {
            Rate = Math.Max(Settings.MinRate, Rate * Settings.LowerFactor);
            action = LagAction.Lowered;
        }
        else if (lag < Settings.RaiseBelowLag && Rate < Settings.MaxRate)
        {
            Rate = Math.Min(Settings.MaxRate, Rate * Settings.RaiseFactor);
            action = LagAction.Raised;
        }

        switch (action)
        {
            case LagAction.Lowered: Lowered++; break;
            case LagAction.Raised: Raised++; break;
            default: Held++; break;
        }
        return new LagDecision(lag, action, Rate);
    }
}
