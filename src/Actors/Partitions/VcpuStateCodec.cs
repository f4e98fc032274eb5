using Vios.Actors.Serialization;

namespace Vios.Actors.Partitions;

/// <summary>A WPAR of the partition's kernel as an image keeps it: its name and its <see cref="Kernel.WparImageCodec"/> image.</summary>
public sealed record SavedWpar(string Name, byte[] Image);

/// <summary>
/// What an image keeps of a partition besides its memory: whether a workload runs and its
/// parameters, where its random sequence and write debt stand, the outputs counted, the workload
/// engine's own state (<see cref="Memory.WorkloadEngine.SaveState"/>), and the kernel's WPARs (S10).
/// </summary>
public sealed record VcpuState(
    bool HasWorkload, int WritesPerSecond, double Skew, int Processes, ulong Seed, double OwedWrites, long OutputsCounted,
    byte[] EngineState, IReadOnlyList<SavedWpar> Wpars);

/// <summary>
/// The layout of <see cref="VcpuState"/>, little-endian. Version 2: version (byte), workload flag
/// (byte), rate (int32), skew (double), processes (int32), seed (uint64), owed writes (double),
/// outputs counted (int64), 42 bytes in all as version 1; the engine's state length (int32) and
/// state; then the kernel section: the count of WPARs (int32) and per WPAR its name (uint16 length,
/// UTF-8) and its image (int32 length, bytes), which carries its own XxHash64. Version 1 ends with
/// the engine's state (the rest of the bytes) and has no kernel section.
/// </summary>
public static class VcpuStateLayout
{
    public const byte Version = 2;

    public const int HeaderLength = 42;
}

/// <summary><see cref="VcpuState"/> to bytes and back (<see cref="VcpuStateLayout"/>); what cannot be read is a <see cref="FormatException"/> that says where.</summary>
public static class VcpuStateCodec
{
    public static byte[] Encode(VcpuState state)
    {
        using var writer = new SpanWriter(VcpuStateLayout.HeaderLength + 8 + state.EngineState.Length + state.Wpars.Sum(w => 6 + (w.Name.Length * 3) + w.Image.Length));
        writer.Byte(VcpuStateLayout.Version);
        writer.Bool(state.HasWorkload);
        writer.Int32(state.WritesPerSecond);
        writer.Double(state.Skew);
        writer.Int32(state.Processes);
        writer.UInt64(state.Seed);
        writer.Double(state.OwedWrites);
        writer.Int64(state.OutputsCounted);
        writer.Int32(state.EngineState.Length);
        writer.Bytes(state.EngineState);
        writer.Int32(state.Wpars.Count);
        foreach (var wpar in state.Wpars)
        {
            writer.String16(wpar.Name);
            writer.Int32(wpar.Image.Length);
            writer.Bytes(wpar.Image);
        }
        return writer.ToArray();
    }

    public static VcpuState Decode(ReadOnlySpan<byte> bytes)
    {
        var reader = new SpanReader(bytes, "the vCPU state");
        if (bytes.Length < VcpuStateLayout.HeaderLength || bytes[0] is not (1 or VcpuStateLayout.Version))
            throw new FormatException($"unknown vCPU state (version {(bytes.Length > 0 ? bytes[0] : 0)}, {bytes.Length} bytes)");
        var version = reader.Byte();
        // Version 1 wrote the flag as any non-zero byte for a workload.
        var hasWorkload = reader.Byte() != 0;
        var (rate, skew, processes, seed, owed, outputs) = (reader.Int32(), reader.Double(), reader.Int32(), reader.UInt64(), reader.Double(), reader.Int64());
        if (version == 1) return new VcpuState(hasWorkload, rate, skew, processes, seed, owed, outputs, reader.Rest().ToArray(), []);

        var engine = reader.Bytes(reader.Length32("the engine state"), "the engine state").ToArray();
        var count = reader.Count(6, "WPARs in the kernel section");
        var wpars = new List<SavedWpar>(count);
        for (var i = 0; i < count; i++)
        {
            var name = reader.String16($"the name of WPAR {i + 1} of {count}");
            wpars.Add(new SavedWpar(name, reader.Bytes(reader.Length32($"the image of WPAR {name}"), $"the image of WPAR {name}").ToArray()));
        }
        reader.ExpectEnd("after the kernel section");
        return new VcpuState(hasWorkload, rate, skew, processes, seed, owed, outputs, engine, wpars);
    }
}
