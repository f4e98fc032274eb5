using Vios.Actors.Checkpoint;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>A partition's restores, one at a time (<see cref="RestoreGate{TRequester}"/>).</summary>
public sealed class RestoreGateSpecs
{
    [Fact]
    public void A_restore_reads_the_partitions_own_or_boot_journal_and_a_second_one_is_refused_until_the_first_is_over()
    {
        var gate = new RestoreGate<string>();

        Assert.Equal((CheckpointStoreActor.PersistenceIdFor("web"), (string?)null), gate.Begin(new RestoreCheckpoint("web", "web", 7), "ha"));
        Assert.True(gate.Busy);
        var (_, refusal) = gate.Begin(new RestoreCheckpoint("web", "web", null), "op");
        Assert.Equal("a restore of 'web' from 'web' at epoch 7 is under way; try again once it is done", refusal);

        Assert.Equal((new RestoreCheckpoint("web", "web", 7), "ha"), gate.Read());
        Assert.False(gate.Busy);
        Assert.Null(gate.Read());
        Assert.Equal(CheckpointStoreActor.BootPersistenceIdFor("web"), gate.Begin(new RestoreCheckpoint("web", "web", 0), "op").PersistenceId);
    }

    [Fact]
    public void An_unreadable_image_answers_its_requester_with_the_reason_once()
    {
        var gate = new RestoreGate<string>();
        gate.Begin(new RestoreCheckpoint("web", "db", null), "ha");

        var (replyTo, refused) = Assert.NotNull(gate.Unreadable("chunk 3 of epoch 9 is corrupt"));

        Assert.Equal(("ha", "cannot restore 'web' from 'db': chunk 3 of epoch 9 is corrupt"), (replyTo, refused.Reason));
        Assert.Null(gate.Unreadable("again"));
    }
}
