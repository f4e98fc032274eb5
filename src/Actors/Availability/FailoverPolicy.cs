namespace Vios.Actors.Availability;

/// <summary>
/// S5's rule: a partition's first failure is restarted from its consistency failover image on the
/// consistency failover image node; a subsequent failure within <see cref="FailureWindow"/> of the
/// previous one is restarted from its boot failover image on the boot failover image node (the
/// consistency image evidently carries the fault); a failure after the window starts over.
/// </summary>
public sealed record FailoverPolicy
{
    public FailoverPolicy(TimeSpan failureWindow)
    {
        if (failureWindow <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(failureWindow), failureWindow, "the failure window must be positive");
        FailureWindow = failureWindow;
    }

    public static FailoverPolicy Default { get; } = new(TimeSpan.FromMinutes(10));

    public TimeSpan FailureWindow { get; }

    /// <summary>The image for a failure at <paramref name="at"/>, given when the previous one was (null: none).</summary>
    public FailoverImage ImageFor(DateTimeOffset? previousFailureAt, DateTimeOffset at) =>
        previousFailureAt is { } previous && at - previous <= FailureWindow ? FailoverImage.Boot : FailoverImage.Consistency;

    /// <summary>A duration as an operator reads it: "10 min", "90 s", "2 h".</summary>
    public static string Describe(TimeSpan span) =>
        span.TotalSeconds < 120 ? $"{span.TotalSeconds:0.#} s"
        : span.TotalMinutes < 120 ? $"{span.TotalMinutes:0.#} min"
        : $"{span.TotalHours:0.#} h";
}
