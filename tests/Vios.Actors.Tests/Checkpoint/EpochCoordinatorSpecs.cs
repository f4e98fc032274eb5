using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>The checkpoint coordinator's epoch state machine (<see cref="EpochCoordinator{TRequester}"/>), driven without an actor.</summary>
public sealed class EpochCoordinatorSpecs
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private readonly EpochCoordinator<string> _epochs = new("web", "n1", GuestMemory.MinimumPages, CheckpointSettings.Default);

    [Fact]
    public void A_manual_epoch_is_captured_then_persisted_and_commits_only_once_the_journal_has_it()
    {
        var capture = Assert.IsType<CaptureEpoch>(Lpar(Assert.Single(_epochs.Take(new TakeCheckpoint("web", CheckpointMode.Full, null), "op"))));
        Assert.Equal((1L, true, true, false), (capture.Epoch, capture.Full, capture.Checksum, capture.Deferred));

        var persist = Assert.IsType<Persist>(Assert.Single(_epochs.Captured(Result(1, pages: 3))));
        Assert.Equal(1, persist.Capture.Epoch);
        // A second request while epoch 1 is being written is refused, and a tick starts nothing.
        Assert.Contains("epoch 1 is in flight", Refusal(_epochs.Take(new TakeCheckpoint("web", CheckpointMode.Incremental, null), "other")));
        Assert.Empty(_epochs.Tick(Now));

        var committed = _epochs.Persisted(1, Summary(1));
        Assert.Equal(new CommitEpoch(1), Lpar(committed[0]));
        var taken = Assert.IsType<CheckpointTaken>(Assert.Single(committed.OfType<Reply<string>>(), r => r.To == "op").Message);
        Assert.Equal((1L, false), (taken.Epoch, _epochs.NeedFull));
    }

    [Fact]
    public void A_failed_periodic_epoch_is_not_committed_the_next_is_full_and_periodic_epochs_back_off()
    {
        var started = _epochs.Take(new TakeCheckpoint("web", CheckpointMode.Incremental, 100), "op");
        Assert.Contains(started, a => a is EpochTicks { Interval: not null });
        Assert.Contains(started, a => Lpar(a) is HoldOutputs { Hold: true });
        _epochs.Captured(Result(1, pages: 3));
        _epochs.Persisted(1, Summary(1));
        Assert.False(_epochs.NeedFull);

        Lpar(Assert.Single(_epochs.Tick(Now)));
        _epochs.Captured(Result(2, pages: 1));
        var failed = _epochs.PersistFailed(2, "the journal is gone", Now);

        Assert.DoesNotContain(failed, a => Lpar(a) is CommitEpoch);
        Assert.True(_epochs.NeedFull);
        // Backing off: the next ticks within the first wait (1 s) start nothing; after it, a full epoch.
        Assert.Empty(_epochs.Tick(Now + TimeSpan.FromMilliseconds(500)));
        // Epoch numbers are not reused: epoch 2 may be half written.
        var next = Assert.IsType<CaptureEpoch>(Lpar(Assert.Single(_epochs.Tick(Now + TimeSpan.FromSeconds(1)))));
        Assert.Equal((3L, true), (next.Epoch, next.Full));
    }

    [Fact]
    public void A_pair_keeps_at_most_two_epochs_awaiting_acknowledgement_and_each_commits_with_its_ack()
    {
        Pair();
        // The first epoch after pairing sends every page; later ones pre-copy the cold pages first.
        var first = Assert.IsType<CaptureEpoch>(Lpar(Assert.Single(_epochs.Tick(Now), Starts)));
        Assert.True(first.Full);
        var sent = _epochs.Captured(Result(1, pages: 2, full: true));
        Assert.Contains(sent, a => a is ToReplica { Message: ReplicaPart });
        Assert.Contains(sent, a => a is ToReplica { Message: ReplicaCommit { Epoch: 1 } });
        Assert.Contains(sent, a => a is AckDeadline { Epoch: 1, Timeout: not null });

        Assert.IsType<PreCopyPages>(Lpar(Assert.Single(_epochs.Tick(Now), Starts)));
        Assert.IsType<CaptureEpoch>(Lpar(Assert.Single(_epochs.PreCopied(new PreCopied(2, [], [])), a => a is ToLpar)));
        _epochs.Captured(Result(2, pages: 1));
        Assert.Equal(2, _epochs.Pairing!.Unacknowledged.Count);
        Assert.DoesNotContain(_epochs.Tick(Now), a => Lpar(a) is PreCopyPages or CaptureEpoch);

        var acknowledged = _epochs.Acknowledged(new ReplicaAck("web", 1, [], [], null));
        Assert.Contains(acknowledged, a => Lpar(a) is CommitEpoch { Epoch: 1 });
        Assert.Contains(acknowledged, a => a is AckDeadline { Epoch: 1, Timeout: null });
        // An acknowledgement out of order commits nothing.
        Assert.Empty(_epochs.Acknowledged(new ReplicaAck("web", 3, [], [], null)));
        Assert.Contains(_epochs.Tick(Now), a => Lpar(a) is PreCopyPages);
    }

    [Fact]
    public void A_failing_replica_ends_the_pair_refusing_its_unacknowledged_epochs_and_the_next_epoch_is_persisted_whole()
    {
        Pair();
        _epochs.Tick(Now);
        _epochs.Captured(Result(1, pages: 2, full: true));

        var unpaired = _epochs.ReplicaFailed(new ReplicaFailed("web", 1, "disk full"));

        Assert.Null(_epochs.Pairing);
        Assert.Contains(unpaired, a => a is ToReplica { Message: StopReplica });
        Assert.Contains(unpaired, a => a is ReplicaReleased);
        Assert.Contains(unpaired, a => a is AckDeadline { Epoch: 1, Timeout: null });
        Assert.True(_epochs.NeedFull);
        Assert.Contains("back to persisted checkpoints", _epochs.Stats(new StatsQuery(false, 0, 0), Now).Note);
        var next = Assert.IsType<CaptureEpoch>(Lpar(Assert.Single(_epochs.Tick(Now))));
        Assert.True(next.Full);
        Assert.IsType<Persist>(Assert.Single(_epochs.Captured(Result(2, pages: 2, full: true))));
    }

    [Fact]
    public void A_copy_that_lost_its_ownership_refuses_the_epoch_in_flight_and_leaves_the_replica_alone()
    {
        Pair();
        _epochs.Take(new TakeCheckpoint("web", CheckpointMode.Incremental, null), "op");

        var lost = _epochs.Lose();

        Assert.Contains("lost its ownership", Refusal(lost));
        Assert.DoesNotContain(lost, a => a is ToReplica);
        Assert.Contains(lost, a => a is ReplicaReleased);
        Assert.Empty(_epochs.Tick(Now));
    }

    [Fact]
    public void A_journal_that_stops_while_it_persists_an_epoch_fails_that_epoch_and_epochs_go_on()
    {
        _epochs.Take(new TakeCheckpoint("web", CheckpointMode.Incremental, 100), "op");
        _epochs.Captured(Result(1, pages: 3));

        var stopped = _epochs.JournalStopped("the checkpoint journal stopped", Now);

        Assert.DoesNotContain(stopped, a => Lpar(a) is CommitEpoch);
        Assert.Contains("the checkpoint journal stopped", Refusal(stopped));
        Assert.True(_epochs.NeedFull);
        // Not stuck: once the back-off allows, the next tick captures a full epoch (before, none ever started).
        Assert.IsType<CaptureEpoch>(Lpar(Assert.Single(_epochs.Tick(Now + TimeSpan.FromSeconds(1)))));
        // A journal that stops with nothing being persisted changes nothing.
        Assert.Empty(_epochs.JournalStopped("again", Now));
    }

    [Fact]
    public void Pairing_a_partition_that_checkpoints_to_its_journal_keeps_its_outputs_held_until_a_replicated_epoch_commits_them()
    {
        var started = _epochs.Take(new TakeCheckpoint("web", CheckpointMode.Incremental, 100), "op");
        Assert.Contains(started, a => Lpar(a) is HoldOutputs { Hold: true });
        _epochs.Captured(Result(1, pages: 3));
        _epochs.Persisted(1, Summary(1));

        _epochs.Replicate(new ReplicateCheckpoints("web", "n2", 20, Verify: false, TargetFirmware: "n2/firmware"), "op");
        var paired = _epochs.Paired("n2", "akka.tcp://vios@127.0.0.1:4102");

        // What the guest output after epoch 1 belongs to no committed epoch: it stays held (it was released here).
        Assert.DoesNotContain(paired, a => Lpar(a) is HoldOutputs { Hold: false });
        Assert.Contains(paired, a => Lpar(a) is HoldOutputs { Hold: true });
        var stats = Assert.IsType<CheckpointStats>(Assert.Single(paired.OfType<Reply<string>>()).Message);
        Assert.Equal(("n2", "akka.tcp://vios@127.0.0.1:4102"), (stats.ReplicaNode, stats.ReplicaAddress));
    }

    private void Pair()
    {
        var asked = Assert.Single(_epochs.Replicate(new ReplicateCheckpoints("web", "n2", 20, Verify: false, TargetFirmware: "n2/firmware"), "op"));
        Assert.IsType<AskForReplica>(asked);
        var paired = _epochs.Paired("n2");
        Assert.Contains(paired, a => a is Reply<string> { To: "op", Message: CheckpointStats { Checkpointing: Checkpointing.Replicating } });
    }

    private static object? Lpar(EpochAction action) => (action as ToLpar)?.Message;

    /// <summary>An epoch's start, as a pair's tick may also steer the CPU share.</summary>
    private static bool Starts(EpochAction action) => Lpar(action) is CaptureEpoch or PreCopyPages;

    private static string Refusal(IReadOnlyList<EpochAction> actions) =>
        Assert.IsType<LparRefused>(Assert.Single(actions.OfType<Reply<string>>(), r => r.Message is LparRefused).Message).Reason;

    private static EpochCaptureResult Result(long epoch, int pages, bool full = false)
    {
        var frames = Enumerable.Range(0, pages).Select(i => (uint)i).ToArray();
        return new EpochCaptureResult(new EpochCapture(epoch, full ? ImageKind.Full : ImageKind.Delta, GuestMemory.MinimumPages, frames, new byte[pages * GuestMemory.PageSize], [1, 2],
            null, TimeSpan.FromMicroseconds(300), Now), null, ForBoot: false);
    }

    private static EpochSummary Summary(long epoch) => new(epoch, ImageKind.Full, 3, 3 * GuestMemory.PageSize, 300, null, Now);
}
