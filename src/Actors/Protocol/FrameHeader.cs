namespace Vios.Actors.Protocol;

/// <summary>What a frame is (S1: the message type of the header).</summary>
public enum MessageKind : byte
{
    Send = 1,
    Response = 2,
    Error = 3,
}

/// <summary>Header flags. Bits other than these are refused by this version.</summary>
[Flags]
public enum FrameFlags : byte
{
    None = 0,

    /// <summary>S1: the VKE forwards the frame to every vios node; the destination is <see cref="NodeIds.None"/>.</summary>
    Broadcast = 0x01,

    /// <summary>The sender waits for responses; the sub-header says so too and must agree.</summary>
    ResponseRequired = 0x02,
}

public static class NodeIds
{
    /// <summary>No node: the destination of a broadcast. Never a valid source.</summary>
    public const ulong None = 0;
}

/// <summary>
/// The fixed header of a VIOS frame. <see cref="MessageId"/> is not zero (a correlation id of
/// zero means "none"), <see cref="SourceNode"/> is a node, and <see cref="DestinationNode"/> is
/// <see cref="NodeIds.None"/> exactly when the frame is a broadcast.
/// </summary>
public sealed record FrameHeader(MessageKind Kind, FrameFlags Flags, ulong MessageId, ulong SourceNode, ulong DestinationNode)
{
    public byte Version { get; init; } = FrameLayout.CurrentVersion;

    public bool IsBroadcast => (Flags & FrameFlags.Broadcast) != 0;

    public bool IsResponseRequired => (Flags & FrameFlags.ResponseRequired) != 0;
}
