using Vios.Actors.Protocol;

namespace Vios.Actors.Cluster;

/// <summary>Builds the send, response and error frames daemons hand to their VKE.</summary>
public static class Frames
{
    public static ViosFrame Send(
        ulong source, ulong destination, string fromDaemon, string toDaemon, ReadOnlyMemory<byte> payload,
        bool responseRequired, TimeSpan? timeout = null) =>
        new(new FrameHeader(MessageKind.Send, responseRequired ? FrameFlags.ResponseRequired : FrameFlags.None, MessageIds.Next(), source, destination),
            new SubHeader(fromDaemon, toDaemon) { ResponseRequired = responseRequired, ExpectedResponses = responseRequired ? 1 : 0, Timeout = timeout },
            payload);

    /// <summary>A send to every vios node that is up (this one included): the VKE sees the broadcast flag.</summary>
    public static ViosFrame Broadcast(
        ulong source, string fromDaemon, string toDaemon, ReadOnlyMemory<byte> payload, bool responseRequired, TimeSpan? timeout = null) =>
        new(new FrameHeader(MessageKind.Send, FrameFlags.Broadcast | (responseRequired ? FrameFlags.ResponseRequired : FrameFlags.None),
                MessageIds.Next(), source, NodeIds.None),
            new SubHeader(fromDaemon, toDaemon) { ResponseRequired = responseRequired, ExpectedResponses = responseRequired ? 1 : 0, Timeout = timeout },
            payload);

    /// <summary>The response (or error response) to <paramref name="request"/>, from <paramref name="responder"/> back to its sender.</summary>
    public static ViosFrame ResponseTo(ViosFrame request, ulong responder, ReadOnlyMemory<byte> payload, MessageKind kind = MessageKind.Response) =>
        new(new FrameHeader(kind, FrameFlags.None, MessageIds.Next(), responder, request.Header.SourceNode),
            new SubHeader(request.SubHeader.ReceivingDaemon, request.SubHeader.SendingDaemon) { CorrelationId = request.Header.MessageId },
            payload);
}
