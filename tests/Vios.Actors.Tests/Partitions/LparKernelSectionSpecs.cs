using Vios.Actors.Checkpoint;
using Vios.Actors.Kernel;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// The guest kernel's WPARs travel in the LPAR's vCPU and device state (version 2, a kernel section
/// of WPAR images each with its own checksum): restored on another node, the WPAR sees the same and
/// the kernel's real ids differ; version 1 state still loads; a damaged section is refused by name.
/// </summary>
public sealed class LparKernelSectionSpecs
{
    private static LparDefinition Definition()
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("node", [new ResourceDomain("cec1/node0", 8, 1024, [])]));
        var allocation = planner.Place(new ResourceRequest("guest", 1, 8, [], PlacementPolicy.Locality)).Allocation!;
        return new LparDefinition("guest", 1, 8, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UnixEpoch);
    }

    /// <summary>A full image of a running partition on node-a with the demo WPAR in its kernel, as the store would restore it.</summary>
    private static (RestoredImage Image, WparView View, IReadOnlyList<IdMapping> RealIds) CheckpointWithDemoWpar()
    {
        using var lpar = new Lpar(Definition(), VmmSettings.Default, node: "node-a");
        Assert.Null(lpar.Start());
        var session = ScriptedSession.Run(lpar.Kernel!);
        Assert.True(session.Ok, session.ToString());
        var view = lpar.Kernel!.View(session.Value.WparId);
        var realIds = lpar.Kernel.RealIds(session.Value.WparId);
        var (capture, refusal) = lpar.Capture(1, full: true, withChecksum: true);
        Assert.Null(refusal);
        // S10: the checkpoint froze the streams and thawed them after.
        Assert.All(lpar.Kernel.View(session.Value.WparId).Streams, s => Assert.False(s.Frozen));

        using var assembler = new ImageAssembler(1);
        var chunks = ImageChunker.Split(capture!);
        var seqNr = 0L;
        foreach (var chunk in chunks) assembler.OnChunk(++seqNr, chunk);
        assembler.OnCommit(++seqNr, new EpochCommitted(1, capture!.Kind, 1, chunks.Count, capture.Frames.Length, capture.PageCount,
            capture.VcpuState, ImageChecksum.OfState(capture.VcpuState), capture.MemoryChecksum, 1, capture.At));
        var image = assembler.Complete();
        Assert.True(image is not null, assembler.Refusal);
        return (image, view, realIds);
    }

    [Fact]
    public void A_restore_on_another_node_keeps_the_wpar_view_and_changes_its_real_ids()
    {
        var (image, view, realIds) = CheckpointWithDemoWpar();
        using var restored = new Lpar(Definition(), VmmSettings.Default, node: "node-b");

        Assert.Null(restored.Restore(image));

        Assert.Equal(LparState.Running, restored.State);
        var wpar = Assert.Single(restored.Kernel!.ListWpars());
        Assert.Equal("demo", wpar.Name);
        Assert.Equal(view, restored.Kernel.View(wpar.Id));
        var after = restored.Kernel.RealIds(wpar.Id);
        Assert.Equal(realIds.Select(m => (m.Kind, m.Virtual)), after.Select(m => (m.Kind, m.Virtual)));
        Assert.NotEqual(realIds.Select(m => m.Real), after.Select(m => m.Real));
    }

    [Fact]
    public void Version_1_state_loads_with_an_empty_kernel()
    {
        var (image, _, _) = CheckpointWithDemoWpar();
        var version1 = new byte[42];
        version1[0] = 1;
        using var restored = new Lpar(Definition(), VmmSettings.Default, node: "node-b");

        Assert.Null(restored.Restore(image with { VcpuState = version1 }));

        Assert.Equal(LparState.Running, restored.State);
        Assert.Empty(restored.Kernel!.ListWpars());
    }

    [Fact]
    public void A_damaged_kernel_section_refuses_the_restore_naming_the_wpar_and_the_refusal()
    {
        var (image, _, _) = CheckpointWithDemoWpar();
        var damaged = image.VcpuState.ToArray();
        damaged[^10] ^= 0x5A; // inside the last WPAR image's body: its XxHash64 no longer matches
        using var restored = new Lpar(Definition(), VmmSettings.Default, node: "node-b");

        var refusal = restored.Restore(image with { VcpuState = damaged });

        Assert.NotNull(refusal);
        Assert.Contains("WPAR demo", refusal, StringComparison.Ordinal);
        Assert.Contains(nameof(RestartRefusal.ChecksumMismatch), refusal, StringComparison.Ordinal);
        Assert.NotEqual(LparState.Running, restored.State);
        Assert.Null(restored.Kernel);
    }

    [Fact]
    public void A_truncated_kernel_section_is_a_format_error_not_a_crash()
    {
        var (image, _, _) = CheckpointWithDemoWpar();
        using var restored = new Lpar(Definition(), VmmSettings.Default, node: "node-b");

        var refusal = restored.Restore(image with { VcpuState = image.VcpuState[..^5] });

        Assert.NotNull(refusal);
        Assert.Contains("WPAR demo", refusal, StringComparison.Ordinal);
        Assert.NotEqual(LparState.Running, restored.State);
    }
}
