namespace Vios.Actors.Availability;

/// <summary>The messages the HA manager sends itself.</summary>
public sealed partial class HaManagerActor
{
    /// <summary>Published when something changed (checked this often), and at least every publish interval.</summary>
    private sealed record PublishStatusTick(bool Periodic)
    {
        public static PublishStatusTick Every { get; } = new(true);
        public static PublishStatusTick OnChange { get; } = new(false);
    }

    private sealed record Survey
    {
        public static Survey Instance { get; } = new();
    }

    private sealed record SurveyFailed(string Reason);

    private sealed record Retry(RestartPlanned Plan);

    private sealed record RequireOn(SetAvailabilityRequirement Requirement, Partitions.LparList? List, long Asked, Akka.Actor.IActorRef ReplyTo);

    /// <summary>The partition manager's list, and which list asked for it was (<see cref="ListNumbering"/>).</summary>
    private sealed record Listed(Partitions.LparList List, long Asked);
}
