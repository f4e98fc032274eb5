using Akka.Configuration;

namespace Vios.Actors.Availability;

/// <summary>Typed view of <c>vios.availability</c>, read once when a vios node starts.</summary>
/// <param name="Policy">S5: the failure window that sends a repeated failure to the boot image.</param>
/// <param name="Heartbeat">S16: how often guests and masters heartbeat, and how much silence is a failure.</param>
/// <param name="FenceSilentNodes">Whether the masters have a node downed once a majority of them hold it silent.</param>
/// <param name="StartupGrace">How long a new HA manager waits before it takes a node missing from the partition list for a failed one.</param>
/// <param name="Estimates">S17: recovery times assumed until some are measured.</param>
/// <param name="RestartDeadline">How long one attempt at a failover may take before the HA manager gives it up and tries again.</param>
public sealed record AvailabilitySettings(
    FailoverPolicy Policy,
    HeartbeatSettings Heartbeat,
    bool FenceSilentNodes,
    TimeSpan StartupGrace,
    RecoveryEstimate Estimates,
    TimeSpan RestartDeadline)
{
    /// <summary>How often the HA manager surveys the partition list without being prompted (a cluster event or a report prompts one at once).</summary>
    public TimeSpan SurveyInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long the HA manager waits for the partition manager's answer to a list or a pairing.</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The wait before a failed restart attempt is tried again, for the first <see cref="QuickAttempts"/>; and before a survey after a report or an incomplete list.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Attempts tried after <see cref="RetryDelay"/>; later ones after <see cref="SlowRetryDelay"/>, for as long as the restart is pending.</summary>
    public int QuickAttempts { get; init; } = 40;

    public TimeSpan SlowRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A graceful leave older than this, recovered by a new HA manager, is settled and no longer hides a failure of that node.</summary>
    public TimeSpan LeaveRemembered { get; init; } = TimeSpan.FromMinutes(1);

    public static AvailabilitySettings Default { get; } = new(
        FailoverPolicy.Default,
        HeartbeatSettings.Default,
        true,
        TimeSpan.FromSeconds(10),
        new RecoveryEstimate(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(2)),
        TimeSpan.FromSeconds(30));

    /// <exception cref="ConfigurationException">A value is missing its unit or makes no sense; the message says which.</exception>
    public static AvailabilitySettings FromConfig(Config config)
    {
        const string root = "vios.availability";
        TimeSpan Positive(string key, TimeSpan fallback)
        {
            var value = config.Duration($"{root}.{key}", fallback);
            if (value <= TimeSpan.Zero) throw new ConfigurationException($"{root}.{key} must be a positive duration, e.g. 500ms");
            return value;
        }
        int AtLeastOne(string key, int fallback)
        {
            var value = config.GetInt($"{root}.{key}", fallback);
            if (value < 1) throw new ConfigurationException($"{root}.{key} must be at least 1");
            return value;
        }

        var defaults = Default;
        return new AvailabilitySettings(
            new FailoverPolicy(Positive("failure-window", defaults.Policy.FailureWindow)),
            new HeartbeatSettings(
                Positive("heartbeat.interval", defaults.Heartbeat.Interval),
                AtLeastOne("heartbeat.guest-missed-intervals", defaults.Heartbeat.GuestMissedIntervals),
                AtLeastOne("heartbeat.node-missed-intervals", defaults.Heartbeat.NodeMissedIntervals)),
            config.GetBoolean($"{root}.fence-silent-nodes", defaults.FenceSilentNodes),
            Positive("startup-grace", defaults.StartupGrace),
            new RecoveryEstimate(
                Positive("estimated-cold-restart", defaults.Estimates.ColdRestart),
                Positive("estimated-hot-promotion", defaults.Estimates.HotPromotion)),
            Positive("restart-deadline", defaults.RestartDeadline))
        {
            SurveyInterval = Positive("survey-interval", defaults.SurveyInterval),
            AskTimeout = Positive("ask-timeout", defaults.AskTimeout),
            RetryDelay = Positive("retry-delay", defaults.RetryDelay),
            QuickAttempts = AtLeastOne("quick-attempts", defaults.QuickAttempts),
            SlowRetryDelay = Positive("slow-retry-delay", defaults.SlowRetryDelay),
            LeaveRemembered = Positive("leave-remembered", defaults.LeaveRemembered),
        };
    }
}
