namespace Vios.Host.Ops;

public enum RequestLineStatus
{
    /// <summary>A line ended by <c>\n</c>; its bytes (without <c>\r\n</c>) are at the start of the buffer.</summary>
    Complete,

    /// <summary>The buffer filled up before a <c>\n</c> arrived.</summary>
    TooLong,

    /// <summary>The client closed the connection before ending the line.</summary>
    Ended,

    /// <summary>The client sent no complete line in time.</summary>
    TimedOut,
}

public readonly record struct RequestLine(RequestLineStatus Status, int Length);

/// <summary>Reads the one request line a client sends, never more than the buffer holds.</summary>
public static class RequestLineReader
{
    /// <summary>Bytes after the <c>\n</c> are read too and ignored: a client sends exactly one line.</summary>
    public static async Task<RequestLine> ReadAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[filled..], cancellationToken);
            if (read == 0) return new RequestLine(RequestLineStatus.Ended, filled);
            var newline = buffer.Span.Slice(filled, read).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var length = filled + newline;
                if (length > 0 && buffer.Span[length - 1] == '\r') length--;
                return new RequestLine(RequestLineStatus.Complete, length);
            }
            filled += read;
        }
        return new RequestLine(RequestLineStatus.TooLong, filled);
    }
}
