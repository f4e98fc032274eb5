using System.Buffers;
using System.Runtime.InteropServices;
using CsCheck;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Tests.Serialization;

/// <summary>
/// The durable binary formats over <see cref="SpanWriter"/> and <see cref="SpanReader"/>: each round
/// trips, and random bytes give the format's own error, never another exception.
/// </summary>
public sealed class BinaryFormatSpecs
{
    private const int PageSize = GuestMemory.PageSize;

    private static readonly Gen<ImageChunk> Chunks =
        Gen.Select(Gen.Long, Gen.Int, Gen.ULong, Gen.UInt.Array[0, 3])
            .Select(t => new ImageChunk(t.Item1, t.Item2, t.Item4, Pages(t.Item4.Length, t.Item1), t.Item3));

    private static readonly Gen<ReplicaPart> Parts =
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 40], Gen.Long, Gen.Int, Gen.Byte.Array[0, 300])
            .Select(t => new ReplicaPart(t.Item1, t.Item2, t.Item3, t.Item4));

    private static readonly Gen<SavedWpar> Wpars =
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 20], Gen.Byte.Array[0, 40]).Select(t => new SavedWpar(t.Item1, t.Item2));

    private static readonly Gen<VcpuState> States =
        Gen.Select(Gen.Select(Gen.Bool, Gen.Int, Gen.Double, Gen.Int), Gen.Select(Gen.ULong, Gen.Double, Gen.Long, Gen.Byte.Array[0, 64]), Wpars.Array[0, 3])
            .Select(t => new VcpuState(t.Item1.Item1, t.Item1.Item2, t.Item1.Item3, t.Item1.Item4, t.Item2.Item1, t.Item2.Item2, t.Item2.Item3, t.Item2.Item4, t.Item3));

    [Fact]
    public void Fields_written_in_order_read_back_in_order()
    {
        Gen.Select(Gen.Select(Gen.Int, Gen.ULong, Gen.Double, Gen.String[Gen.Char.AlphaNumeric, 0, 50]), Gen.Select(Gen.Byte.Array[0, 100], Gen.Bool, Gen.UInt.Array[0, 20]))
            .Sample(t =>
            {
                var ((i, u, d, text), (bytes, flag, words)) = t;
                using var writer = new SpanWriter(8);
                writer.Int32(i);
                writer.UInt64(u);
                writer.Double(d);
                writer.String16(text);
                var at = writer.BeginLength();
                writer.Bytes(bytes);
                writer.EndLength(at);
                writer.Bool(flag);
                writer.UInt32s(words);

                var reader = new SpanReader(writer.Written, "fields");
                Assert.Equal(i, reader.Int32());
                Assert.Equal(u, reader.UInt64());
                Assert.Equal(d, reader.Double());
                Assert.Equal(text, reader.String16());
                Assert.Equal(bytes, reader.Bytes(reader.Length32("the bytes")).ToArray());
                Assert.Equal(flag, reader.Bool());
                Assert.Equal(words, reader.UInt32s(words.Length));
                reader.ExpectEnd("after the words");
            });
    }

    [Fact]
    public void Reading_random_bytes_past_their_end_or_as_bad_values_is_a_format_error_that_says_where()
    {
        Gen.Byte.Array[0, 40].Sample(bytes =>
        {
            var error = Record.Exception(() =>
            {
                var reader = new SpanReader(bytes, "random bytes");
                reader.Bool();
                reader.String16();
                reader.Bytes(reader.Length32("a blob"));
                reader.Count(4);
                reader.ExpectEnd("at the end");
            });
            if (error is not null) Assert.StartsWith("random bytes: ", Assert.IsType<FormatException>(error).Message);
        });
    }

    [Fact]
    public void Image_chunks_round_trip_and_random_bytes_are_a_message_format_error()
    {
        var codec = new ImageChunkCodec();
        Chunks.Sample(chunk =>
        {
            var read = (ImageChunk)codec.Read(Write(codec, chunk));
            Assert.Equal((chunk.Epoch, chunk.Index, chunk.Checksum), (read.Epoch, read.Index, read.Checksum));
            Assert.Equal(chunk.Frames, read.Frames);
            Assert.Equal(chunk.Data, read.Data);
        });
        Gen.Byte.Array[0, 64].Sample(bytes => ReadsOrFailsWith<MessageFormatException>(() => codec.Read(bytes)));
    }

    [Fact]
    public void Image_chunks_name_their_frames_little_endian_and_version_1_records_read_in_the_hosts_order()
    {
        var chunk = new ImageChunk(7, 2, [0x01020304u], Pages(1, 7), 99);

        var bytes = Write(new ImageChunkCodec(), chunk);

        Assert.Equal(new byte[] { 0x04, 0x03, 0x02, 0x01 }, bytes[ImageChunkLayout.HeaderLength..(ImageChunkLayout.HeaderLength + 4)]);
        // Version 1 wrote the frame numbers as the host lays out a uint.
        var version1 = bytes.ToArray();
        MemoryMarshal.Write(version1.AsSpan(ImageChunkLayout.HeaderLength), 0x01020304u);
        var legacy = new ImageChunkCodec(hostOrderFrames: true);
        Assert.Equal(chunk.Frames, ((ImageChunk)legacy.Read(version1)).Frames);
        Assert.Throws<NotSupportedException>(() => legacy.Write(chunk, new ArrayBufferWriter<byte>()));
        Assert.True(MessageCatalog.All.TryGetByType(typeof(ImageChunk), out var current));
        Assert.Equal(ImageChunkLayout.Manifest, current.Manifest);
        Assert.True(MessageCatalog.All.TryGetByManifest(ImageChunkLayout.ManifestVersion1, out var old) && old.ReadOnly);
    }

    [Fact]
    public void Replica_parts_round_trip_and_random_bytes_are_a_message_format_error()
    {
        var codec = new ReplicaPartCodec();
        Parts.Sample(part => Assert.Equal(part, codec.Read(Write(codec, part))));
        Gen.Byte.Array[0, 64].Sample(bytes => ReadsOrFailsWith<MessageFormatException>(() => codec.Read(bytes)));
    }

    [Fact]
    public void Vcpu_states_round_trip_and_random_bytes_are_a_format_error()
    {
        States.Sample(state =>
        {
            var read = VcpuStateCodec.Decode(VcpuStateCodec.Encode(state));
            Assert.Equal(state with { EngineState = [], Wpars = [] }, read with { EngineState = [], Wpars = [] });
            Assert.Equal(state.EngineState, read.EngineState);
            Assert.Equal(state.Wpars.Select(w => (w.Name, Convert.ToHexString(w.Image))), read.Wpars.Select(w => (w.Name, Convert.ToHexString(w.Image))));
        });
        // Mostly a known version, so that the reads get past the header.
        Gen.Select(Gen.Byte[1, 3], Gen.Byte.Array[0, 120]).Sample(t =>
            ReadsOrFailsWith<FormatException>(() => VcpuStateCodec.Decode([t.Item1, .. t.Item2])));
    }

    [Fact]
    public void A_version_1_vcpu_state_keeps_its_engine_state_and_has_no_wpars()
    {
        var version2 = VcpuStateCodec.Encode(new VcpuState(true, 500, 0.5, 2, 42, 0.25, 17, [1, 2, 3], []));
        // Version 1: the same header, then the engine's state as the rest of the bytes.
        byte[] version1 = [1, .. version2[1..VcpuStateLayout.HeaderLength], 1, 2, 3];

        var read = VcpuStateCodec.Decode(version1);

        Assert.Equal((true, 500, 0.5, 2, 42UL, 0.25, 17L), (read.HasWorkload, read.WritesPerSecond, read.Skew, read.Processes, read.Seed, read.OwedWrites, read.OutputsCounted));
        Assert.Equal(new byte[] { 1, 2, 3 }, read.EngineState);
        Assert.Empty(read.Wpars);
    }

    [Fact]
    public void A_saved_workload_state_restores_and_random_bytes_are_a_format_error()
    {
        using var memory = new GuestMemory(GuestMemory.MinimumPages);
        var vmm = new Vmm(memory, VmmSettings.Default);
        var settings = new WorkloadSettings(Processes: 2, PageTableEntries: 16);
        var engine = new WorkloadEngine(memory, vmm, settings, 5);
        engine.Step(500);
        var saved = engine.SaveState();

        Assert.Equal(saved, WorkloadEngine.Restore(memory, vmm, settings, saved).SaveState());
        Gen.Select(Gen.Int[0, saved.Length - 1], Gen.Byte).Array[1, 4].Sample(flips =>
        {
            var damaged = saved.ToArray();
            foreach (var (at, value) in flips) damaged[at] = value;
            ReadsOrFailsWith<FormatException>(() => WorkloadEngine.Restore(memory, vmm, settings, damaged));
        });
        Gen.Byte.Array[0, 120].Sample(bytes => ReadsOrFailsWith<FormatException>(() => WorkloadEngine.Restore(memory, vmm, settings, bytes)));
    }

    private static byte[] Pages(int count, long seed)
    {
        var data = new byte[count * PageSize];
        new Random((int)seed).NextBytes(data);
        return data;
    }

    private static byte[] Write(MessageCodec codec, object message)
    {
        var output = new ArrayBufferWriter<byte>();
        codec.Write(message, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Reading succeeds (random bytes can be a valid record, or the damage was to a value any record may hold) or fails with <typeparamref name="T"/>, never another exception.</summary>
    private static void ReadsOrFailsWith<T>(Func<object> read) where T : Exception
    {
        if (Record.Exception(read) is { } error) Assert.IsType<T>(error);
    }
}
