namespace Vios.Host.Ops;

/// <summary>Exit codes of <c>vios ctl</c>, also carried in the endpoint's final reply.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The endpoint did not answer, refused the request, or the command failed.</summary>
    public const int Failure = 1;

    /// <summary>Unknown palette or command, or arguments that do not fit the command.</summary>
    public const int Usage = 2;
}

/// <summary>How a command ended; <see cref="Error"/> is the one line the operator reads.</summary>
public sealed record CommandOutcome(int ExitCode, string? Error)
{
    public static CommandOutcome Success { get; } = new(ExitCodes.Success, null);

    public static CommandOutcome Failed(string reason) => new(ExitCodes.Failure, reason);

    public static CommandOutcome BadUsage(string reason) => new(ExitCodes.Usage, reason);
}
