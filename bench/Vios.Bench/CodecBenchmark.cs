using System.Buffers;
using System.Diagnostics;
using Vios.Actors.Protocol;

namespace Vios.Bench;

/// <summary>
/// Issue 3: VIOS frame codec throughput. One operation is an encode of a frame into a reused
/// buffer writer plus a decode of the written packet (the decoded payload is a slice, so the
/// payload is copied once per operation, by the encoder). The baseline in the same run is a
/// plain <see cref="Span{T}.CopyTo"/> of the same payload bytes into a reused buffer: memcpy, the
/// least any encoder that copies the payload can cost.
/// </summary>
public static class CodecBenchmark
{
    public sealed record Result(
        int PayloadBytes,
        double CodecFramesPerSecond,
        double CodecBytesAllocatedPerFrame,
        double CopiesPerSecond)
    {
        public double CodecMegabytesPerSecond => CodecFramesPerSecond * PayloadBytes / 1e6;

        public double CopyMegabytesPerSecond => CopiesPerSecond * PayloadBytes / 1e6;

        public double NanosecondsPerFrame => 1e9 / CodecFramesPerSecond;
    }

    /// <summary>
    /// Measures codec and memcpy alternately <paramref name="runs"/> times for <paramref name="duration"/>
    /// each and keeps the median of each side, so a burst of load from other processes on a shared
    /// machine moves the figure less.
    /// </summary>
    public static Result Run(int payloadBytes, TimeSpan duration, TimeSpan warmup, int runs, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(payloadBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var payload = new byte[payloadBytes];
        new Random(payloadBytes).NextBytes(payload);
        var frame = new ViosFrame(
            new FrameHeader(MessageKind.Send, FrameFlags.ResponseRequired, 1, 1, 2),
            new SubHeader("disk-daemon", "ha-daemon") { ResponseRequired = true, ExpectedResponses = 1, Timeout = TimeSpan.FromSeconds(5) },
            payload);
        var output = new ArrayBufferWriter<byte>(FrameCodec.EncodedLength(frame));
        var copyTarget = new byte[payloadBytes];
        // Enough operations per clock read that reading the clock does not count.
        var batch = Math.Max(1, (1 << 20) / Math.Max(payloadBytes, 64));

        long sink = 0;
        long EncodeDecode(int count)
        {
            long seen = 0;
            for (var i = 0; i < count; i++)
            {
                output.ResetWrittenCount();
                FrameCodec.Encode(frame, output);
                var decoded = FrameCodec.Decode(output.WrittenMemory);
                seen += decoded.Payload.Length + (long)decoded.Header.MessageId;
            }

            return seen;
        }

        long Copy(int count)
        {
            long seen = 0;
            for (var i = 0; i < count; i++)
            {
                payload.AsSpan().CopyTo(copyTarget);
                seen += copyTarget[0];
            }

            return seen;
        }

        // Warm-up: long enough for tiered compilation to reach its optimised code for both loops.
        sink += Measure(EncodeDecode, batch, warmup).Operations;
        sink += Measure(Copy, batch, warmup).Operations;

        var codecRuns = new List<double>();
        var copyRuns = new List<double>();
        long allocated = 0;
        long frames = 0;
        for (var run = 0; run < runs; run++)
        {
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var codec = Measure(EncodeDecode, batch, duration);
            allocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            frames += codec.Operations;
            var copy = Measure(Copy, batch, duration);
            sink += codec.Sink + copy.Sink;
            codecRuns.Add(codec.PerSecond);
            copyRuns.Add(copy.PerSecond);
            log.WriteLine($"  {payloadBytes} B, run {run + 1}: codec {codec.PerSecond * payloadBytes / 1e6:0} MB/s, memcpy {copy.PerSecond * payloadBytes / 1e6:0} MB/s");
        }

        log.WriteLine($"  (checksum of results {sink & 0xFF}, so that nothing is optimised away)");
        return new Result(payloadBytes, Median(codecRuns), (double)allocated / frames, Median(copyRuns));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }

    private readonly record struct Measurement(long Operations, double PerSecond, long Sink);

    private static Measurement Measure(Func<int, long> run, int batch, TimeSpan duration)
    {
        long operations = 0;
        long sink = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            sink += run(batch);
            operations += batch;
        }

        return new Measurement(operations, operations / clock.Elapsed.TotalSeconds, sink);
    }
}
