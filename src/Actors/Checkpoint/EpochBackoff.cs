namespace Vios.Actors.Checkpoint;

/// <summary>
/// Periodic persisted checkpoints after a failed epoch (issue 19): the next epoch after a failure
/// must be a full image, the most expensive write there is, so retrying it every interval against a
/// journal that just failed one only repeats the failure and takes the journal from everyone else.
/// Each consecutive failure doubles the wait before the next periodic epoch, from the interval (at
/// least <see cref="MinimumWait"/>) up to <see cref="MaximumWait"/>; a committed epoch ends it. A
/// manual checkpoint is never held back: an operator asking gets the journal's answer.
/// </summary>
public sealed class EpochBackoff
{
    public static readonly TimeSpan MinimumWait = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaximumWait = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive failed epochs since the last committed one.</summary>
    public int Failures { get; private set; }

    /// <summary>No periodic epoch starts before this; null when not backing off.</summary>
    public DateTimeOffset? Until { get; private set; }

    /// <summary>The wait after the <paramref name="failures"/>-th consecutive failure.</summary>
    public static TimeSpan WaitAfter(int failures, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(failures);
        var first = interval > MinimumWait ? interval : MinimumWait;
        // 2^(failures-1) times the first wait; past 2^16 it is the maximum anyway.
        var wait = first * Math.Pow(2, Math.Min(failures - 1, 16));
        return wait < MaximumWait ? wait : MaximumWait;
    }

    public void Failed(TimeSpan interval, DateTimeOffset now)
    {
        Failures++;
        Until = now + WaitAfter(Failures, interval);
    }

    /// <summary>A committed epoch, or periodic checkpointing stopped or asked for again.</summary>
    public void Clear()
    {
        Failures = 0;
        Until = null;
    }

    /// <summary>True when a periodic epoch may start at <paramref name="now"/>.</summary>
    public bool Due(DateTimeOffset now) => Until is not { } until || now >= until;

    /// <summary>For <c>checkpoint stats</c>: null when not backing off.</summary>
    public string? Describe(DateTimeOffset now) => Until is { } until && now < until
        ? $"backing off after {Failures} failed epoch{(Failures == 1 ? "" : "s")}: the next periodic epoch in {(until - now).TotalSeconds:0.0} s"
        : null;
}
