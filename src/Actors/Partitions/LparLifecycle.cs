namespace Vios.Actors.Partitions;

public enum LparState
{
    /// <summary>Defined and placed, not yet running; the starting state.</summary>
    Defined,

    /// <summary>Firmware is loading it: memory allocated, vCPUs being brought up.</summary>
    Activating,

    Running,

    /// <summary>Stunned: vCPUs paused (for a checkpoint, an OS image swap), memory intact.</summary>
    Quiesced,

    /// <summary>It or its node failed; availability services decide where it comes back.</summary>
    Failed,

    /// <summary>Shut down; it can be activated again.</summary>
    Stopped,
}

public enum LparTransition
{
    Activate,
    ActivationCompleted,
    Quiesce,
    Resume,
    Stop,
    Fail,
}

/// <summary>
/// The lifecycle of a logical partition: which transitions each state allows. A transition that is
/// not allowed is refused with the reason, never applied.
/// </summary>
public static class LparLifecycle
{
    public static (LparState? Next, string? Refusal) Apply(LparState state, LparTransition transition) => (state, transition) switch
    {
        (LparState.Defined or LparState.Stopped or LparState.Failed, LparTransition.Activate) => (LparState.Activating, null),
        (LparState.Activating, LparTransition.ActivationCompleted) => (LparState.Running, null),
        (LparState.Running, LparTransition.Quiesce) => (LparState.Quiesced, null),
        (LparState.Quiesced, LparTransition.Resume) => (LparState.Running, null),
        (LparState.Activating or LparState.Running or LparState.Quiesced, LparTransition.Stop) => (LparState.Stopped, null),
        (LparState.Activating or LparState.Running or LparState.Quiesced, LparTransition.Fail) => (LparState.Failed, null),
        _ => (null, Refusal(state, transition)),
    };

    private static string Refusal(LparState state, LparTransition transition) => (state, transition) switch
    {
        (LparState.Running or LparState.Activating, LparTransition.Activate) => $"it is already {Name(state)}",
        (LparState.Quiesced, LparTransition.Activate) => "it is quiesced: resume it instead",
        (_, LparTransition.ActivationCompleted) => $"it is {Name(state)}, not activating",
        (LparState.Quiesced, LparTransition.Quiesce) => "it is already quiesced",
        (_, LparTransition.Quiesce) => $"only a running partition can be quiesced; it is {Name(state)}",
        (_, LparTransition.Resume) => $"only a quiesced partition can be resumed; it is {Name(state)}",
        (_, LparTransition.Stop) => $"it is {Name(state)}: there is nothing to stop",
        (_, LparTransition.Fail) => $"it is {Name(state)}: it is not running, so it cannot fail",
        _ => $"{transition} is not allowed when {Name(state)}",
    };

    private static string Name(LparState state) => state.ToString().ToLowerInvariant();
}
