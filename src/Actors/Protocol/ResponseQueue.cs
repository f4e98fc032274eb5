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
/// node that leaves or is downed complete as missing at once. The queue knows no clocks: the VKE
/// calls <see cref="TimeOut"/> when a send message's timer fires.
/// </summary>
public sealed class ResponseQueue<TRequester>
{
    private readonly Dictionary<ulong, OpenRequest> _open = new();

    public int OpenRequests => _open.Count;
    public int OpenEntries => _open.Values.Sum(r => r.Owed.Values.Sum());
    public long Matched { get; private set; }
    public long Duplicates { get; private set; }
    public long Unexpected { get; private set; }
    public long TimedOut { get; private set; }

    public bool IsOpen(ulong messageId) => _open.ContainsKey(messageId);

    /// <summary>
    /// Opens entries for <paramref name="messageId"/>: <paramref name="responsesPerNode"/> from each of
    /// <paramref name="responders"/>. With no responders the request is complete at once (returned).
    /// </summary>
    public CompletedRequest<TRequester>? Open(ulong messageId, TRequester requester, IEnumerable<ulong> responders, int responsesPerNode = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(responsesPerNode, 1);
        if (_open.ContainsKey(messageId))
            throw new InvalidOperationException($"message {messageId:x} already has open response entries");
        var request = new OpenRequest(messageId, requester, responders.Distinct().ToDictionary(r => r, _ => responsesPerNode));
        if (request.Owed.Count == 0) return request.Complete(CompletionReason.Complete);
        _open.Add(messageId, request);
        return null;
    }

    /// <summary>Matches a response (or error response) from <paramref name="responder"/> to the send message it correlates with.</summary>
    public (ResponseMatch Match, CompletedRequest<TRequester>? Completed) Match(
        ulong correlationId, ulong responder, bool isError, ReadOnlyMemory<byte> payload)
    {
        if (!_open.TryGetValue(correlationId, out var request) || !request.Answered.Contains(responder) && !request.Owed.ContainsKey(responder))
        {
            Unexpected++;
            return (ResponseMatch.Unexpected, null);
        }
        if (!request.Owed.TryGetValue(responder, out var owed))
        {
            Duplicates++;
            return (ResponseMatch.Duplicate, null);
        }

        Matched++;
        request.Responses.Add(new CollectedResponse(responder, isError, payload));
        if (owed > 1)
        {
            request.Owed[responder] = owed - 1;
            return (ResponseMatch.Matched, null);
        }
        request.Owed.Remove(responder);
        request.Answered.Add(responder);
        return (ResponseMatch.Matched, request.Owed.Count == 0 ? Close(request, CompletionReason.Complete) : null);
    }

    /// <summary>
    /// A node left or was downed: every entry it owed completes as missing now, without waiting
    /// for the timeout. Returns the send messages this completed.
    /// </summary>
    public IReadOnlyList<CompletedRequest<TRequester>> NodeGone(ulong node)
    {
        var completed = new List<CompletedRequest<TRequester>>();
        foreach (var request in _open.Values.Where(r => r.Owed.ContainsKey(node)).ToList())
        {
            request.Owed.Remove(node);
            request.Missing.Add(node);
            if (request.Owed.Count == 0) completed.Add(Close(request, CompletionReason.Complete));
        }
        return completed;
    }

    /// <summary>The send message's timeout fired: it completes with what came; null if it already completed.</summary>
    public CompletedRequest<TRequester>? TimeOut(ulong messageId)
    {
        if (!_open.TryGetValue(messageId, out var request)) return null;
        TimedOut++;
        request.Missing.AddRange(request.Owed.Keys);
        request.Owed.Clear();
        return Close(request, CompletionReason.TimedOut);
    }

    private CompletedRequest<TRequester> Close(OpenRequest request, CompletionReason reason)
    {
        _open.Remove(request.MessageId);
        return request.Complete(reason);
    }

    private sealed class OpenRequest(ulong messageId, TRequester requester, Dictionary<ulong, int> owed)
    {
        public ulong MessageId { get; } = messageId;
        public Dictionary<ulong, int> Owed { get; } = owed;
        public HashSet<ulong> Answered { get; } = [];
        public List<CollectedResponse> Responses { get; } = [];
        public List<ulong> Missing { get; } = [];

        public CompletedRequest<TRequester> Complete(CompletionReason reason) =>
            new(MessageId, requester, Responses, Missing.Order().ToList(), reason);
    }
}
