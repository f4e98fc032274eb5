using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;
using Vios.Actors.Tests.Partitions;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>
/// Issue 19, point 2: an image goes to the journal in bounded writes of
/// <see cref="CheckpointStoreActor.ChunksPerWrite"/> chunks, the commit with the last, each write
/// carrying the owner's tag; a large image is many short transactions instead of one that outlasts
/// the journal's call timeout.
/// </summary>
public sealed class BoundedImageWriteSpecs : Akka.TestKit.Xunit2.TestKit
{
    public BoundedImageWriteSpecs()
        : base(ConfigurationFactory.ParseString("""
            vios.persistence.cluster.journal.class = "Vios.Actors.Tests.Checkpoint.WriteRecordingJournal, Vios.Actors.Tests"
            """).WithFallback(InMemoryJournals.Config))
    {
    }

    [Fact]
    public void An_image_of_forty_chunks_is_three_writes_and_only_the_last_holds_its_commit()
    {
        const int chunks = 40;
        var claim = new OwnerClaim("lpar-bounded", 7);
        var store = Sys.ActorOf(CheckpointStoreActor.Props("lpar-bounded", claim: claim));

        store.Tell(new PersistEpoch(Capture(chunks * ImageChunker.PagesPerChunk)), TestActor);

        var persisted = ExpectMsg<EpochPersisted>(TimeSpan.FromSeconds(10));
        Assert.Equal(chunks * ImageChunker.PagesPerChunk, persisted.Summary.Pages);
        var writes = WriteRecordingJournal.Writes("lpar-bounded");
        Assert.Equal([16, 16, 9], writes.Select(w => w.Events.Count));
        Assert.All(writes, w => Assert.Equal(claim.Tag, Assert.Single(w.LastTags)));
        Assert.All(writes.SkipLast(1), w => Assert.All(w.Events, e => Assert.IsType<ImageChunk>(e)));
        Assert.IsType<EpochCommitted>(writes[^1].Events[^1]);
    }

    [Fact]
    public void An_image_of_one_write_or_less_is_a_single_write()
    {
        var store = Sys.ActorOf(CheckpointStoreActor.Props("lpar-small"));

        store.Tell(new PersistEpoch(Capture(3 * ImageChunker.PagesPerChunk)), TestActor);

        ExpectMsg<EpochPersisted>(TimeSpan.FromSeconds(10));
        Assert.Equal([4], WriteRecordingJournal.Writes("lpar-small").Select(w => w.Events.Count));
    }

    /// <summary>A full capture of <paramref name="pages"/> pages, each filled with its frame number.</summary>
    private static EpochCapture Capture(int pages)
    {
        var bytes = new byte[pages * GuestMemory.PageSize];
        for (var i = 0; i < pages; i++) bytes.AsSpan(i * GuestMemory.PageSize, GuestMemory.PageSize).Fill((byte)(i + 1));
        var frames = Enumerable.Range(0, pages).Select(i => (uint)i).ToArray();
        return new EpochCapture(1, ImageKind.Full, pages, frames, bytes, new byte[16], null, TimeSpan.FromMilliseconds(1), DateTimeOffset.UnixEpoch);
    }
}

/// <summary>The in-memory journal, recording each atomic write's events (unwrapped) and its last event's tags.</summary>
public sealed class WriteRecordingJournal : MemoryJournal
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<RecordedWrite>> Recorded = new();

    public static IReadOnlyList<RecordedWrite> Writes(string persistenceId) =>
        Recorded.TryGetValue(persistenceId, out var writes) ? writes.ToList() : [];

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var list = messages.ToList();
        foreach (var write in list)
        {
            var events = ((IImmutableList<IPersistentRepresentation>)write.Payload).Select(p => p.Payload).ToList();
            var tags = events[^1] is Tagged tagged ? tagged.Tags.ToList() : [];
            Recorded.GetOrAdd(write.PersistenceId, _ => new()).Enqueue(
                new RecordedWrite(events.Select(e => e is Tagged t ? t.Payload : e).ToList(), tags));
        }
        return base.WriteMessagesAsync(list, cancellationToken);
    }
}

public sealed record RecordedWrite(IReadOnlyList<object> Events, IReadOnlyList<string> LastTags);
