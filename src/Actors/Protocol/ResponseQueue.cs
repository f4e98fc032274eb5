namespace Vios.Actors.Protocol;

/// <summary>A response matched to its send message: who answered, and with what.</summary>
public sealed record CollectedResponse(ulong Responder, bool IsError, ReadOnlyMemory<byte> Payload);

public enum CompletionReason
{
    /// <summary>Every expected response arrived (or the nodes that owed one left).</summary>
    Complete,

    /// <summary>The send message's timeout fired first; the missing nodes are listed.</summary>
    TimedOut,
}

/// <summary>
/// The one reply a sending daemon gets for a send message that required responses: what came,
/// and which nodes did not answer (S1: "the sending daemon gets the collected responses").
/// </summary>
public sealed record CompletedRequest<TRequester>(
    ulong MessageId,
    TRequester Requester,
    IReadOnlyList<CollectedResponse> Responses,
    IReadOnlyList<ulong> Missing,
    CompletionReason Reason);

public enum ResponseMatch
{
    /// <summary>The response answered an open entry, which was removed.</summary>
    Matched,

    /// <summary>The responder already gave every response it owed for that message.</summary>
    Duplicate,

    /// <summary>No open send message has that correlation id, or that node owes it nothing.</summary>
    Unexpected,
}

/// <summary>
/// S1's response queue, kept by the sending VKE. Opening a send message creates one entry per
/// response expected from each receiving node (for a broadcast, one per member at send time); each
/// arriving response is matched by correlation id and responder and its entry removed. Entries of a
/// node that leaves or is downed complete as missing at once. The queue reads no clock: each send
/// message carries a deadline in the caller's time units, and the VKE calls <see cref="Expire"/>
/// as its clock advances (one periodic sweep, not one timer per message).
/// </summary>
public sealed class ResponseQueue<TRequester>
{
    private readonly Dictionary<ulong, OpenRequest> _open = new();

    public int OpenRequests => _open.Count;
    public int OpenEntries => _open.Values.Sum(r => r.Owed.Sum(o => o.Count));
    public long Matched { get; private set; }
    public long Duplicates { get; private set; }
    public long Unexpected { get; private set; }
    public long TimedOut { get; private set; }

    public bool IsOpen(ulong messageId) => _open.ContainsKey(messageId);

    /// <summary>
    /// Opens entries for <paramref name="messageId"/>: <paramref name="responsesPerNode"/> from each of
    /// <paramref name="responders"/>, owed until <paramref name="deadline"/>. With no responders the
    /// request is complete at once (returned).
    /// </summary>
    public CompletedRequest<TRequester>? Open(
        ulong messageId, TRequester requester, IEnumerable<ulong> responders, long deadline = long.MaxValue, int responsesPerNode = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(responsesPerNode, 1);
        if (_open.ContainsKey(messageId))
            throw new InvalidOperationException($"message {messageId:x} already has open response entries");
        var request = new OpenRequest(messageId, requester, deadline);
        foreach (var responder in responders)
            if (request.IndexOf(responder) < 0) request.Owed.Add(new Owed(responder, responsesPerNode));
        if (request.Owed.Count == 0) return request.Complete(CompletionReason.Complete);
        _open.Add(messageId, request);
        return null;
    }

    /// <summary>Matches a response (or error response) from <paramref name="responder"/> to the send message it correlates with.</summary>
    public (ResponseMatch Match, CompletedRequest<TRequester>? Completed) Match(
        ulong correlationId, ulong responder, bool isError, ReadOnlyMemory<byte> payload)
    {
        var index = _open.TryGetValue(correlationId, out var request) ? request.IndexOf(responder) : -1;
        if (index < 0)
        {
            var answeredBefore = request is not null && request.Responses.Exists(r => r.Responder == responder);
            if (answeredBefore) Duplicates++;
            else Unexpected++;
            return (answeredBefore ? ResponseMatch.Duplicate : ResponseMatch.Unexpected, null);
        }

        Matched++;
        request!.Responses.Add(new CollectedResponse(responder, isError, payload));
        var owed = request.Owed[index];
        if (owed.Count > 1)
        {
            request.Owed[index] = owed with { Count = owed.Count - 1 };
            return (ResponseMatch.Matched, null);
        }
        request.Owed.RemoveAt(index);
        return (ResponseMatch.Matched, request.Owed.Count == 0 ? Close(request, CompletionReason.Complete) : null);
    }

    /// <summary>
    /// A node left or was downed: every entry it owed completes as missing now, without waiting
    /// for the timeout. Returns the send messages this completed.
    /// </summary>
    public IReadOnlyList<CompletedRequest<TRequester>> NodeGone(ulong node)
    {
        var completed = new List<CompletedRequest<TRequester>>();
        foreach (var request in _open.Values.Where(r => r.IndexOf(node) >= 0).ToList())
        {
            request.Owed.RemoveAt(request.IndexOf(node));
            request.Missing.Add(node);
            if (request.Owed.Count == 0) completed.Add(Close(request, CompletionReason.Complete));
        }
        return completed;
    }

    /// <summary>Every send message whose deadline is at or before <paramref name="now"/> completes with what came.</summary>
    public IReadOnlyList<CompletedRequest<TRequester>> Expire(long now)
    {
        List<CompletedRequest<TRequester>>? expired = null;
        foreach (var request in _open.Values)
        {
            if (request.Deadline > now) continue;
            TimedOut++;
            request.Missing.AddRange(request.Owed.Select(o => o.Responder));
            request.Owed.Clear();
            (expired ??= []).Add(request.Complete(CompletionReason.TimedOut));
        }
        if (expired is null) return [];
        foreach (var completed in expired) _open.Remove(completed.MessageId);
        return expired;
    }

    private CompletedRequest<TRequester> Close(OpenRequest request, CompletionReason reason)
    {
        _open.Remove(request.MessageId);
        return request.Complete(reason);
    }

    private readonly record struct Owed(ulong Responder, int Count);

    /// <summary>One send message's entries. A handful of responders at most, so lists beat hash sets here.</summary>
    private sealed class OpenRequest(ulong messageId, TRequester requester, long deadline)
    {
        public ulong MessageId { get; } = messageId;
        public long Deadline { get; } = deadline;
        public List<Owed> Owed { get; } = new(1);
        public List<CollectedResponse> Responses { get; } = new(1);
        public List<ulong> Missing { get; } = [];

        public int IndexOf(ulong responder)
        {
            for (var i = 0; i < Owed.Count; i++)
                if (Owed[i].Responder == responder) return i;
            return -1;
        }

        public CompletedRequest<TRequester> Complete(CompletionReason reason) =>
            new(MessageId, requester, Responses, Missing.Order().ToList(), reason);
    }
}
