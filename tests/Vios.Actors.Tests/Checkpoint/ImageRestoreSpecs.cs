using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;
using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>
/// Images captured from a partition whose workload writes between every epoch, split into chunks,
/// stored as a journal would order them, and assembled again: byte-equal to memory at each stun.
/// </summary>
public sealed class ImageRestoreSpecs : IDisposable
{
    private readonly Lpar _lpar = StartedLpar(memoryMb: 8);
    private readonly List<(long SeqNr, IViosMessage Event)> _journal = [];

    private static Lpar StartedLpar(long memoryMb)
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("node", [new ResourceDomain("cec1/node0", 8, 1024, [])]));
        var allocation = planner.Place(new ResourceRequest("guest", 2, memoryMb, [], PlacementPolicy.Locality)).Allocation!;
        var lpar = new Lpar(new LparDefinition("guest", 2, memoryMb, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UnixEpoch), VmmSettings.Default);
        Assert.Null(lpar.Start());
        Assert.Null(lpar.SetWorkload(new RunWorkload("guest", 200_000, 0.9, 8, Seed: 7)));
        return lpar;
    }

    /// <summary>Captures an epoch and appends its chunks and commit as the store does; returns a copy of memory at the stun.</summary>
    private byte[] Checkpoint(long epoch, bool full)
    {
        var (capture, refusal) = _lpar.Capture(epoch, full, withChecksum: true);
        Assert.Null(refusal);
        var atStun = Copy(_lpar.Memory!);
        var chunks = ImageChunker.Split(capture!);
        var first = _journal.Count + 1L;
        foreach (var chunk in chunks) _journal.Add((_journal.Count + 1, chunk));
        _journal.Add((_journal.Count + 1, new EpochCommitted(epoch, capture!.Kind, first, chunks.Count, capture.Frames.Length, capture.PageCount,
            capture.VcpuState, ImageChecksum.OfState(capture.VcpuState), capture.MemoryChecksum, 1, capture.At)));
        return atStun;
    }

    private static byte[] Copy(GuestMemory memory)
    {
        var bytes = new byte[memory.Bytes];
        for (uint frame = 0; frame < memory.PageCount; frame++) memory.Page(frame).CopyTo(bytes.AsSpan((int)frame * GuestMemory.PageSize));
        return bytes;
    }

    private ImageAssembler Replay(long? target = null, IEnumerable<(long SeqNr, IViosMessage Event)>? journal = null)
    {
        var assembler = new ImageAssembler(target);
        foreach (var (seqNr, e) in journal ?? _journal)
        {
            if (e is ImageChunk chunk) assembler.OnChunk(seqNr, chunk);
            else assembler.OnCommit(seqNr, (EpochCommitted)e);
        }
        return assembler;
    }

    [Fact]
    public void A_full_image_and_the_deltas_after_it_restore_byte_equal_to_memory_at_each_stun()
    {
        var atStun = new Dictionary<long, byte[]> { [1] = Checkpoint(1, full: true) };
        for (var epoch = 2; epoch <= 8; epoch++)
        {
            _lpar.Advance(TimeSpan.FromMilliseconds(5));
            atStun[epoch] = Checkpoint(epoch, full: false);
        }

        foreach (var (epoch, expected) in atStun)
        {
            using var assembler = Replay(epoch);
            var image = assembler.Complete();
            Assert.True(image is not null, assembler.Refusal);
            using var memory = image.Memory;
            Assert.Equal(epoch, image.Epoch);
            Assert.True(expected.AsSpan().SequenceEqual(Copy(memory)), $"epoch {epoch} differs");
            Assert.True(image.Verified);
        }
    }

    [Fact]
    public void The_workload_goes_on_from_a_restored_image_exactly_as_it_would_have()
    {
        Checkpoint(1, full: true);
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        Checkpoint(2, full: false);
        using var assembler = Replay();
        var image = assembler.Complete()!;
        using var twin = StartedLpar(memoryMb: 8);
        Assert.Null(twin.Stop());
        Assert.Null(twin.Restore(image));

        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        twin.Advance(TimeSpan.FromMilliseconds(5));

        Assert.Equal(_lpar.MemoryChecksum(), twin.MemoryChecksum());
        Assert.Equal(_lpar.Status("n").Workload!.Writes, twin.Status("n").Workload!.Writes);
    }

    [Fact]
    public void A_later_full_image_starts_over_and_chunks_of_an_epoch_that_never_committed_are_ignored()
    {
        Checkpoint(1, full: true);
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        // A write that failed half-way: chunks in the journal, no commit.
        var (orphan, _) = _lpar.Capture(2, full: false, withChecksum: false);
        foreach (var chunk in ImageChunker.Split(orphan!)) _journal.Add((_journal.Count + 1, chunk));
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        var expected = Checkpoint(3, full: true);

        using var assembler = Replay();
        using var memory = assembler.Complete()!.Memory;

        Assert.True(expected.AsSpan().SequenceEqual(Copy(memory)));
        Assert.Equal([1L, 3L], assembler.CommittedEpochs);
    }

    [Fact]
    public void A_corrupt_chunk_is_refused_naming_it_and_the_previous_good_epoch_is_offered_and_restores()
    {
        Checkpoint(1, full: true);
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        var good = Checkpoint(2, full: false);
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        Checkpoint(3, full: false);
        var victim = _journal.Select((e, i) => (e, i)).Last(x => x.e.Event is ImageChunk { Epoch: 3, Index: 0 });
        var chunk = (ImageChunk)victim.e.Event;
        var bytes = chunk.Data.ToArray();
        bytes[100] ^= 0x40;
        _journal[victim.i] = (victim.e.SeqNr, chunk with { Data = bytes });

        using var refused = Replay();
        Assert.Null(refused.Complete());
        Assert.Equal($"chunk 0 of epoch 3 (journal sequence number {victim.e.SeqNr}) fails its checksum: the stored bytes are not the bytes written. "
            + "The last good image before it is epoch 2 (restore it with --epoch 2)", refused.Refusal);

        using var previous = Replay(target: 2);
        using var memory = previous.Complete()!.Memory;
        Assert.True(good.AsSpan().SequenceEqual(Copy(memory)));
    }

    [Fact]
    public void A_corrupt_full_image_offers_the_boot_image_and_an_unknown_epoch_lists_those_there_are()
    {
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        Checkpoint(1, full: true);
        var chunk = (ImageChunk)_journal[0].Event;
        _journal[0] = (1, chunk with { Checksum = chunk.Checksum ^ 1 });

        using var refused = Replay();
        Assert.Null(refused.Complete());
        Assert.EndsWith("No earlier image remains in the journal; the boot image is epoch 0 (restore it with --epoch 0)", refused.Refusal);

        _journal.Clear();
        Checkpoint(1, full: true);
        Checkpoint(2, full: false);
        using var unknown = Replay(target: 9);
        Assert.Null(unknown.Complete());
        Assert.Equal("epoch 9 is not in the journal; it holds epochs 1, 2", unknown.Refusal);
    }

    [Fact]
    public void A_copy_on_write_image_saved_while_the_guest_writes_restores_byte_equal_to_memory_at_its_stun()
    {
        using var directory = new Vios.Testing.TempDirectory();
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("node", [new ResourceDomain("cec1/node0", 8, 1024, [])]));
        var allocation = planner.Place(new ResourceRequest("cow", 1, 8, [], PlacementPolicy.Locality)).Allocation!;
        var diskPath = Path.Combine(directory.Path, "cow.disk");
        using var lpar = new Lpar(new LparDefinition("cow", 1, 8, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UnixEpoch), VmmSettings.Default, diskPath, 256);
        Assert.Null(lpar.Start());
        Assert.Null(lpar.SetWorkload(new RunWorkload("cow", 200_000, 0.9, 8, Seed: 5)));
        lpar.Advance(TimeSpan.FromMilliseconds(10));
        Assert.True(lpar.DiskWrites > 0);

        Assert.Null(lpar.PrepareCow(1));
        var (_, refusal) = lpar.StunCow(1);
        Assert.Null(refusal);
        var atStun = Copy(lpar.Memory!);
        lpar.Disk!.Flush();
        var diskAtStun = File.ReadAllBytes(diskPath);
        var writesAtStun = lpar.DiskWrites;

        // The guest keeps writing while the pages of the stun are saved a batch at a time.
        while (lpar.SaveCowPages(16) > 0) lpar.Advance(TimeSpan.FromMilliseconds(1));
        var capture = lpar.CompleteCow(1, TimeSpan.Zero);

        Assert.True(lpar.DiskWrites > writesAtStun);
        Assert.Equal(diskAtStun, File.ReadAllBytes(diskPath));
        var chunks = ImageChunker.Split(capture);
        foreach (var chunk in chunks) _journal.Add((_journal.Count + 1, chunk));
        _journal.Add((_journal.Count + 1, new EpochCommitted(1, ImageKind.Full, 1, chunks.Count, capture.Frames.Length, capture.PageCount,
            capture.VcpuState, ImageChecksum.OfState(capture.VcpuState), capture.MemoryChecksum, 1, capture.At)));
        using var assembler = Replay();
        var image = assembler.Complete()!;
        using var memory = image.Memory;
        Assert.True(atStun.AsSpan().SequenceEqual(Copy(memory)), "the copy-on-write image differs from memory at the stun");
        Assert.True(image.Verified);

        // Step 8: the parent as it was at the stun is kept; the layer's writes go into the parent.
        Assert.Null(lpar.CommitCowLayer(diskPath + ".epoch-1"));
        Assert.Equal(diskAtStun, File.ReadAllBytes(diskPath + ".epoch-1"));
        Assert.NotEqual(diskAtStun, File.ReadAllBytes(diskPath));
        Assert.False(File.Exists(diskPath + ".cow-1"));
    }

    [Fact]
    public void A_guest_write_to_a_page_not_yet_saved_saves_its_original_first()
    {
        _lpar.Advance(TimeSpan.FromMilliseconds(10));
        var atStun = Copy(_lpar.Memory!);
        _lpar.StunCow(1);

        _lpar.Advance(TimeSpan.FromMilliseconds(10));

        Assert.True(_lpar.CowSavedBeforeGuestWrite > 0);
        Assert.False(atStun.AsSpan().SequenceEqual(Copy(_lpar.Memory!)));
        while (_lpar.SaveCowPages(64) > 0) { }
        var capture = _lpar.CompleteCow(1, TimeSpan.Zero);
        using var rebuilt = new GuestMemory(capture.PageCount);
        for (var i = 0; i < capture.Frames.Length; i++) capture.Page(i).CopyTo(rebuilt.Page(capture.Frames[i]));
        Assert.True(atStun.AsSpan().SequenceEqual(Copy(rebuilt)));
    }

    [Fact]
    public void Outputs_produced_in_an_epoch_are_held_until_it_commits()
    {
        _lpar.HoldOutputs = true;
        _lpar.Advance(TimeSpan.FromMilliseconds(20));
        var produced = _lpar.OutputsHeld;
        Assert.True(produced > 0);
        Assert.Equal(0, _lpar.OutputsReleased);

        _lpar.Capture(1, full: false, withChecksum: false);
        _lpar.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(0, _lpar.OutputsReleased);

        _lpar.Commit(1);
        Assert.Equal(produced, _lpar.OutputsReleased);
        Assert.True(_lpar.OutputsHeld > 0);
    }

    [Fact]
    public void A_partition_that_is_not_running_cannot_be_checkpointed()
    {
        Assert.Null(_lpar.Stop());
        var (capture, refusal) = _lpar.Capture(1, full: true, withChecksum: false);
        Assert.Null(capture);
        Assert.Equal("only a running partition can be checkpointed; 'guest' is stopped", refusal);
    }

    public void Dispose() => _lpar.Dispose();
}
