using System.Text;
using CsCheck;
using Vios.Host.Ops;

namespace Vios.Host.Tests.Ops;

public sealed class RequestLineReaderSpecs
{
    [Theory]
    [InlineData("{}\n", RequestLineStatus.Complete, "{}")]
    [InlineData("{}\r\n", RequestLineStatus.Complete, "{}")]
    [InlineData("{}\nmore after the line", RequestLineStatus.Complete, "{}")]
    [InlineData("\n", RequestLineStatus.Complete, "")]
    [InlineData("{\"x\"", RequestLineStatus.Ended, null)]
    [InlineData("", RequestLineStatus.Ended, null)]
    [InlineData("0123456789", RequestLineStatus.TooLong, null)]
    [InlineData("012345678\n", RequestLineStatus.TooLong, null)]
    [InlineData("01234567\n", RequestLineStatus.Complete, "01234567")]
    public async Task A_line_is_read_up_to_its_newline_within_the_buffer(string input, RequestLineStatus status, string? line)
    {
        var buffer = new byte[9];

        var read = await RequestLineReader.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(input)), buffer, CancellationToken.None);

        Assert.Equal(status, read.Status);
        if (line is not null) Assert.Equal(line, Encoding.UTF8.GetString(buffer, 0, read.Length));
    }

    [Fact]
    public async Task A_line_arriving_in_pieces_is_put_together()
    {
        var buffer = new byte[64];

        var read = await RequestLineReader.ReadAsync(new TricklingStream("{\"palette\":\"x\"}\n"u8.ToArray()), buffer, CancellationToken.None);

        Assert.Equal(RequestLineStatus.Complete, read.Status);
        Assert.Equal("{\"palette\":\"x\"}", Encoding.UTF8.GetString(buffer, 0, read.Length));
    }

    [Fact]
    public Task Random_bytes_never_break_the_reader_nor_overrun_the_buffer() =>
        Gen.Byte.Array[0, 300].SampleAsync(async bytes =>
        {
            var buffer = new byte[128];
            var read = await RequestLineReader.ReadAsync(new TricklingStream(bytes), buffer, CancellationToken.None);
            var newline = Array.IndexOf(bytes, (byte)'\n');
            var expected = newline is >= 0 and < 128 ? RequestLineStatus.Complete
                : bytes.Length >= 128 ? RequestLineStatus.TooLong
                : RequestLineStatus.Ended;
            Assert.Equal(expected, read.Status);
            Assert.InRange(read.Length, 0, buffer.Length);
        });

    /// <summary>Hands out at most three bytes per read, as a slow network might.</summary>
    private sealed class TricklingStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(3, buffer.Length)], cancellationToken);
    }
}
