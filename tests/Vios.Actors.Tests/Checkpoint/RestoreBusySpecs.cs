using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>A second restore while one is pending is refused; the first requester still gets its answer.</summary>
public sealed class RestoreBusySpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _directory;

    public RestoreBusySpecs()
        : this(new TempDirectory())
    {
    }

    private RestoreBusySpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path)) => _directory = directory;

    [Fact]
    public async Task A_second_restore_while_the_first_is_pending_is_refused_as_busy_and_the_first_is_answered()
    {
        var partition = CreateTestProbe();
        // Processed on the calling thread: both requests are in before the image reader can answer the first.
        var coordinator = ActorOfAsTestActorRef<CheckpointCoordinatorActor>(
            CheckpointCoordinatorActor.Props("guest", "n1", CheckpointSettings.Default, pageCount: 16, new OwnerClaim(OwnerClaim.FenceKeyFor("guest"), 1)), partition.Ref);
        var first = CreateTestProbe();
        var second = CreateTestProbe();

        coordinator.Tell(new RestoreCheckpoint("guest", "never-checkpointed", null), first.Ref);
        coordinator.Tell(new RestoreCheckpoint("guest", "never-checkpointed", 0), second.Ref);

        var busy = await second.ExpectMsgAsync<LparRefused>(Wait);
        Assert.Contains("a restore of 'guest' from 'never-checkpointed' is under way", busy.Reason);
        // The first restore's answer (there is no image to restore) reaches its own requester.
        var answered = await first.ExpectMsgAsync<LparRefused>(Wait);
        Assert.Contains("cannot restore 'guest' from 'never-checkpointed'", answered.Reason);
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}
