using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>The S23 sender and replica models without actors: pages, diffs, feedback, pre-copy, bad input.</summary>
public sealed class ReplicationModelSpecs : IDisposable
{
    private readonly Lpar _lpar;
    private readonly ReplicationSender _sender;
    private readonly ReplicaState _replica;

    public ReplicationModelSpecs()
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("node", [new ResourceDomain("cec1/node0", 8, 1024, [])]));
        var allocation = planner.Place(new ResourceRequest("guest", 1, 8, [], PlacementPolicy.Locality)).Allocation!;
        _lpar = new Lpar(new LparDefinition("guest", 1, 8, PlacementPolicy.Locality, [], allocation, DateTimeOffset.UnixEpoch), VmmSettings.Default);
        _lpar.Start();
        _lpar.SetWorkload(new RunWorkload("guest", 200_000, 0.9, 8, Seed: 9));
        _sender = new ReplicationSender(_lpar.Memory!.PageCount);
        _replica = new ReplicaState(_lpar.Memory.PageCount);
    }

    private void Epoch(long epoch, bool deferred)
    {
        var writer = new ReplicaPayload.Writer();
        var (preFrames, prePages) = _lpar.PreCopy(_sender.IsCold);
        _sender.Encode(preFrames, i => prePages.AsSpan(i * GuestMemory.PageSize, GuestMemory.PageSize), writer, preCopy: true);
        _lpar.Advance(TimeSpan.FromMilliseconds(1));
        EpochCapture capture;
        if (deferred)
        {
            _lpar.StunDeferred(epoch);
            _lpar.Advance(TimeSpan.FromMilliseconds(1));
            capture = _lpar.FinishDeferredCapture();
        }
        else
        {
            capture = _lpar.Capture(epoch, epoch == 1, withChecksum: false).Capture!;
        }
        _sender.RecordEpoch([.. capture.Frames, .. preFrames]);
        _sender.Encode(capture.Frames, i => capture.Page(i), writer);
        var parts = writer.Complete();
        for (var i = 0; i < parts.Count; i++) _replica.Stage(epoch, i, parts[i]);
        var (added, dropped) = _replica.Commit(epoch, parts.Count, capture.VcpuState);
        _sender.Feedback(added, dropped);
    }

    [Fact]
    public void The_replica_equals_memory_at_each_stun_through_pre_copies_diffs_and_deferred_copies()
    {
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        Epoch(1, deferred: false);
        for (var epoch = 2; epoch <= 40; epoch++)
        {
            _lpar.Advance(TimeSpan.FromMilliseconds(2));
            // The memory at the stun is what the replica must hold: taken in the stun of a plain capture.
            var deferred = epoch % 2 == 0;
            Epoch(epoch, deferred);
            if (!deferred) Assert.Equal(_lpar.MemoryChecksum(), _replica.Checksum());
        }

        Assert.True(_sender.DiffPages > 0, "no page went as a diff");
        Assert.True(_sender.PreCopiedPages > 0, "no page was sent before a stun");
        Assert.Equal(40, _replica.AppliedEpoch);
    }

    [Fact]
    public void A_deferred_capture_holds_the_pages_as_they_were_at_its_stun()
    {
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        var memory = _lpar.Memory!;
        var atStun = new byte[memory.Bytes];
        for (uint frame = 0; frame < memory.PageCount; frame++) memory.Page(frame).CopyTo(atStun.AsSpan((int)frame * GuestMemory.PageSize));
        var (stun, refusal) = _lpar.StunDeferred(1);
        Assert.Null(refusal);
        var checksumAtStun = _lpar.MemoryChecksum();

        // The guest writes on, some of it to pages of the epoch, before they are copied.
        _lpar.Advance(TimeSpan.FromMilliseconds(5));
        var capture = _lpar.FinishDeferredCapture();

        Assert.NotEqual(checksumAtStun, _lpar.MemoryChecksum());
        Assert.True(capture.Frames.Length > 100);
        for (var i = 0; i < capture.Frames.Length; i++)
            Assert.True(capture.Page(i).SequenceEqual(atStun.AsSpan((int)capture.Frames[i] * GuestMemory.PageSize, GuestMemory.PageSize)),
                $"page {capture.Frames[i]} is not as it was at the stun");
        Assert.Equal(stun, capture.Stun);
    }

    [Fact]
    public void Missing_parts_and_malformed_parts_are_refused_without_applying()
    {
        _replica.Stage(1, 0, [1, 2, 3]);
        Assert.Equal("epoch 1 has 1 of its 2 parts", Assert.Throws<InvalidOperationException>(() => _replica.Commit(1, 2, [])).Message);
        Assert.Throws<FormatException>(() => _replica.Commit(1, 1, []));

        var frameOutside = new byte[7 + GuestMemory.PageSize];
        BitConverter.TryWriteBytes(frameOutside, uint.MaxValue);
        BitConverter.TryWriteBytes(frameOutside.AsSpan(5), (ushort)GuestMemory.PageSize);
        _replica.Stage(2, 0, frameOutside);
        Assert.Contains("names frame 4294967295", Assert.Throws<FormatException>(() => _replica.Commit(2, 1, [])).Message);
        Assert.Equal(0, _replica.AppliedEpoch);
    }

    [Fact]
    public void Binary_codecs_refuse_bytes_that_do_not_hold_what_they_claim()
    {
        var chunks = new ImageChunkCodec();
        Assert.Throws<MessageFormatException>(() => chunks.Read([1, 2, 3]));
        var header = new byte[24];
        BitConverter.TryWriteBytes(header.AsSpan(20), 2);
        Assert.Contains("cannot hold 2 pages", Assert.Throws<MessageFormatException>(() => chunks.Read(header)).Message);

        var parts = new ReplicaPartCodec();
        Assert.Throws<MessageFormatException>(() => parts.Read([5]));
        Assert.Throws<MessageFormatException>(() => parts.Read([200, 0, 1, 2]));
    }

    public void Dispose()
    {
        _sender.Dispose();
        _replica.Dispose();
        _lpar.Dispose();
    }
}
