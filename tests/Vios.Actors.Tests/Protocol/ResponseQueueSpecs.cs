using Vios.Actors.Protocol;

namespace Vios.Actors.Tests.Protocol;

public sealed class ResponseQueueSpecs
{
    private const ulong Message = 0x1001;
    private readonly ResponseQueue<string> _queue = new();

    [Fact]
    public void Each_response_is_matched_to_its_entry_and_the_last_one_completes_the_request()
    {
        _queue.Open(Message, "daemon", [1, 2, 3]);

        Assert.Equal((ResponseMatch.Matched, null), _queue.Match(Message, 2, false, "b"u8.ToArray()));
        Assert.Equal((ResponseMatch.Matched, null), _queue.Match(Message, 1, false, "a"u8.ToArray()));
        var (match, completed) = _queue.Match(Message, 3, false, "c"u8.ToArray());

        Assert.Equal(ResponseMatch.Matched, match);
        Assert.NotNull(completed);
        Assert.Equal(CompletionReason.Complete, completed.Reason);
        Assert.Equal("daemon", completed.Requester);
        Assert.Equal([2UL, 1UL, 3UL], completed.Responses.Select(r => r.Responder));
        Assert.Equal("a", System.Text.Encoding.UTF8.GetString(completed.Responses[1].Payload.Span));
        Assert.Empty(completed.Missing);
        Assert.Equal(0, _queue.OpenRequests);
        Assert.Equal(3, _queue.Matched);
    }

    [Fact]
    public void A_second_response_from_the_same_node_is_a_duplicate_and_ignored()
    {
        _queue.Open(Message, "daemon", [1, 2]);
        _queue.Match(Message, 1, false, default);

        var (match, completed) = _queue.Match(Message, 1, false, default);

        Assert.Equal(ResponseMatch.Duplicate, match);
        Assert.Null(completed);
        Assert.Equal(1, _queue.Duplicates);
        Assert.Equal(1, _queue.OpenEntries);
    }

    [Fact]
    public void A_response_with_an_unknown_correlation_id_is_unexpected_and_ignored()
    {
        _queue.Open(Message, "daemon", [1]);

        Assert.Equal((ResponseMatch.Unexpected, null), _queue.Match(Message + 1, 1, false, default));
        Assert.Equal(1, _queue.Unexpected);
        Assert.True(_queue.IsOpen(Message));
    }

    [Fact]
    public void A_response_from_a_node_that_was_not_asked_is_unexpected()
    {
        _queue.Open(Message, "daemon", [1]);

        Assert.Equal((ResponseMatch.Unexpected, null), _queue.Match(Message, 9, false, default));
        Assert.Equal(1, _queue.OpenEntries);
    }

    [Fact]
    public void A_response_after_completion_is_unexpected()
    {
        _queue.Open(Message, "daemon", [1]);
        _queue.Match(Message, 1, false, default);

        Assert.Equal((ResponseMatch.Unexpected, null), _queue.Match(Message, 1, false, default));
    }

    [Fact]
    public void Timeout_completes_with_what_came_and_lists_the_missing_nodes()
    {
        _queue.Open(Message, "daemon", [1, 2, 3], deadline: 100);
        _queue.Open(Message + 1, "later", [1], deadline: 200);
        _queue.Match(Message, 2, false, default);

        Assert.Empty(_queue.Expire(99));
        var completed = Assert.Single(_queue.Expire(100));

        Assert.Equal(CompletionReason.TimedOut, completed.Reason);
        Assert.Equal([2UL], completed.Responses.Select(r => r.Responder));
        Assert.Equal([1UL, 3UL], completed.Missing);
        Assert.Equal(1, _queue.TimedOut);
        Assert.True(_queue.IsOpen(Message + 1));
        Assert.Equal((ResponseMatch.Unexpected, null), _queue.Match(Message, 1, false, default));
    }

    [Fact]
    public void A_node_that_leaves_completes_its_entries_as_missing_at_once()
    {
        _queue.Open(Message, "first", [1, 2]);
        _queue.Open(Message + 1, "second", [2, 3]);
        _queue.Match(Message, 1, false, default);

        var completed = _queue.NodeGone(2);

        var only = Assert.Single(completed);
        Assert.Equal("first", only.Requester);
        Assert.Equal(CompletionReason.Complete, only.Reason);
        Assert.Equal([2UL], only.Missing);
        Assert.True(_queue.IsOpen(Message + 1));
        Assert.Equal(1, _queue.OpenEntries);
        Assert.Equal((ResponseMatch.Unexpected, null), _queue.Match(Message + 1, 2, false, default));
    }

    [Fact]
    public void Error_responses_are_matched_and_marked()
    {
        _queue.Open(Message, "daemon", [1]);

        var (_, completed) = _queue.Match(Message, 1, true, "unknown daemon"u8.ToArray());

        Assert.True(Assert.Single(completed!.Responses).IsError);
    }

    [Fact]
    public void Several_responses_per_node_each_take_an_entry()
    {
        _queue.Open(Message, "daemon", [1], responsesPerNode: 2);

        Assert.Equal((ResponseMatch.Matched, null), _queue.Match(Message, 1, false, default));
        var (match, completed) = _queue.Match(Message, 1, false, default);

        Assert.Equal(ResponseMatch.Matched, match);
        Assert.Equal(2, completed!.Responses.Count);
        Assert.Equal(ResponseMatch.Unexpected, _queue.Match(Message, 1, false, default).Match);
    }

    [Fact]
    public void A_request_to_nobody_completes_at_once_and_a_reused_message_id_is_refused()
    {
        Assert.NotNull(_queue.Open(Message, "daemon", []));
        _queue.Open(Message + 1, "daemon", [1]);

        Assert.Throws<InvalidOperationException>(() => _queue.Open(Message + 1, "daemon", [2]));
    }
}
