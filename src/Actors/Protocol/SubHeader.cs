namespace Vios.Actors.Protocol;

/// <summary>
/// The typed entries of a frame's sub-header (S1). Daemon ids are UTF-8 on the wire,
/// 1..255 bytes. Entries left at their default are not written.
/// </summary>
public sealed record SubHeader(string SendingDaemon, string ReceivingDaemon)
{
    /// <summary>Must agree with <see cref="FrameFlags.ResponseRequired"/> in the header.</summary>
    public bool ResponseRequired { get; init; }

    /// <summary>How many responses the sender waits for; must be 0 unless <see cref="ResponseRequired"/>.</summary>
    public int ExpectedResponses { get; init; }

    /// <summary>0 = none (a send); on a response or error: the <see cref="FrameHeader.MessageId"/> it answers.</summary>
    public ulong CorrelationId { get; init; }

    /// <summary>How long the sender waits for responses; whole milliseconds, at most uint.MaxValue ms.</summary>
    public TimeSpan? Timeout { get; init; }
}
