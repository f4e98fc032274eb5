using Akka.Actor;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// A failover whose ask is lost or fails is tried again, not left "in progress" until the HA manager
/// restarts: a restart attempt has a deadline, and a failed ask is a typed outcome.
/// </summary>
public sealed class HaRestartDeadlineSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _directory;

    public HaRestartDeadlineSpecs()
        : this(new TempDirectory())
    {
    }

    private HaRestartDeadlineSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path)) => _directory = directory;

    [Fact]
    public async Task A_move_that_is_never_answered_is_given_up_at_the_restart_deadline_and_the_partition_is_tried_again()
    {
        var deadline = TimeSpan.FromSeconds(1);
        var partitions = Script(List("web"));
        var moves = 0;
        // The first move is never answered, as when the answer is lost with a node; later ones are.
        partitions.Answer = message => message switch
        {
            MoveLpar move when Interlocked.Increment(ref moves) > 1 => Moved(partitions, move),
            RestoreCheckpoint restore => Restored(partitions, restore),
            _ => null,
        };
        var manager = StartManager(partitions, deadline);

        var first = await ExpectMsgAsync<MoveLpar>(AskTimeout);
        Assert.Equal(("web", "n2"), (first.Name, first.ToNode));
        // Well before the first ask's own 30 s timeout: the deadline gives the attempt up.
        var again = await ExpectMsgAsync<MoveLpar>(deadline + TimeSpan.FromSeconds(5));
        Assert.Equal(("web", "n2"), (again.Name, again.ToNode));
        await ExpectMsgAsync<RestoreCheckpoint>(AskTimeout);

        await AwaitRestartedAsync(manager, "web", "n2");
    }

    [Fact]
    public async Task A_restore_whose_ask_fails_is_a_failed_attempt_and_the_partition_is_tried_again()
    {
        var partitions = Script(List("db"));
        var restores = 0;
        partitions.Answer = message => message switch
        {
            MoveLpar move => Moved(partitions, move),
            // An ask answered with a failure faults the restart's task; its pipe must turn that into an outcome.
            RestoreCheckpoint when Interlocked.Increment(ref restores) == 1 => new Status.Failure(new InvalidOperationException("the image store is gone")),
            RestoreCheckpoint restore => Restored(partitions, restore),
            _ => null,
        };
        // A deadline far beyond the test: only the failed ask's outcome can make it try again.
        var manager = StartManager(partitions, TimeSpan.FromMinutes(10));

        await ExpectMsgAsync<MoveLpar>(AskTimeout);
        await ExpectMsgAsync<RestoreCheckpoint>(AskTimeout);
        await ExpectMsgAsync<MoveLpar>(AskTimeout);
        await ExpectMsgAsync<RestoreCheckpoint>(AskTimeout);

        await AwaitRestartedAsync(manager, "db", "n2");
    }

    [Fact]
    public async Task A_retry_that_finds_the_partition_running_on_its_target_after_a_late_restore_does_not_restore_it_again()
    {
        var partitions = Script(List("app"));
        partitions.Answer = message => message switch
        {
            MoveLpar move => Moved(partitions, move),
            // The restore's reply is lost, but the restore itself happened: the partition runs on n2.
            RestoreCheckpoint => RunningOn(partitions, "app", "n2"),
            _ => null,
        };
        var manager = StartManager(partitions, TimeSpan.FromSeconds(1));

        await ExpectMsgAsync<MoveLpar>(AskTimeout);
        await ExpectMsgAsync<RestoreCheckpoint>(AskTimeout);
        await AwaitRestartedAsync(manager, "app", "n2");
        // The retry checked the list and found it done: no second move nor restore.
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task A_retry_that_finds_only_the_intent_of_a_refused_restore_restores_again()
    {
        var partitions = Script(List("crm"));
        var restores = 0;
        partitions.Answer = message => message switch
        {
            MoveLpar move => Moved(partitions, move),
            // The partition manager recorded the intent (Running on n2, as asked), then n2 refused the
            // restore, from the consistency image and from the boot image alike.
            RestoreCheckpoint when Interlocked.Increment(ref restores) <= 2 => IntendedOn(partitions, "crm", "n2"),
            RestoreCheckpoint restore => Restored(partitions, restore),
            _ => null,
        };
        var manager = StartManager(partitions, TimeSpan.FromMinutes(10));

        await ExpectMsgAsync<MoveLpar>(AskTimeout);
        Assert.Null((await ExpectMsgAsync<RestoreCheckpoint>(AskTimeout)).Epoch);
        Assert.Equal(0, (await ExpectMsgAsync<RestoreCheckpoint>(AskTimeout)).Epoch);
        // The retry does not take the intent for done: the partition is restored again.
        await FishForMessageAsync(m => m is RestoreCheckpoint, AskTimeout);
        await AwaitRestartedAsync(manager, "crm", "n2");
    }

    /// <summary>The list says <paramref name="lpar"/> is Running on <paramref name="node"/> by intent only; the reply refuses the restore.</summary>
    private static object IntendedOn(ScriptedPartitionManager script, string lpar, string node)
    {
        script.List = HaManagerHarness.List([HaManagerHarness.Running(lpar, node) with { StateReported = false }], "n2", "n3");
        return new LparRefused(lpar, $"'{lpar}' is not hosted by {node}'s firmware");
    }

    /// <summary>Makes the scripted list say <paramref name="lpar"/> runs on <paramref name="node"/>; no reply.</summary>
    private static object? RunningOn(ScriptedPartitionManager script, string lpar, string node)
    {
        script.List = HaManagerHarness.List([HaManagerHarness.Running(lpar, node)], "n2", "n3");
        return null;
    }

    /// <summary><paramref name="lpar"/> runs on n1, which has gone (it is not registered and not a member); n2 and n3 live.</summary>
    private static LparList List(string lpar) => HaManagerHarness.List([HaManagerHarness.Running(lpar, "n1")], "n2", "n3");

    /// <summary>The move's answer; the list places the partition on its new node from now on, defined there, as the partition manager's does.</summary>
    private static LparMoved Moved(ScriptedPartitionManager script, MoveLpar move)
    {
        script.List = HaManagerHarness.List([HaManagerHarness.Running(move.Name, move.ToNode) with { State = LparState.Defined, StateReported = false }], "n2", "n3");
        return new LparMoved(HaManagerHarness.Running(move.Name, move.ToNode).Definition, "n1", move.Reason);
    }

    /// <summary>The restore's answer; the list says the partition runs on n2 from now on.</summary>
    private static CheckpointRestored Restored(ScriptedPartitionManager script, RestoreCheckpoint restore)
    {
        script.List = HaManagerHarness.List([HaManagerHarness.Running(restore.Name, "n2")], "n2", "n3");
        return HaManagerHarness.Restored(restore, "n2");
    }

    private ScriptedPartitionManager Script(LparList list)
    {
        var script = new ScriptedPartitionManager(TestActor) { List = list };
        return script;
    }

    private IActorRef StartManager(ScriptedPartitionManager script, TimeSpan deadline)
    {
        var probe = CreateTestProbe();
        probe.SetAutoPilot(script);
        // No startup grace: a node missing from the list has failed at once.
        var settings = AvailabilitySettings.Default with { StartupGrace = TimeSpan.FromMilliseconds(1), RestartDeadline = deadline };
        return Sys.ActorOf(HaManagerActor.Props(probe.Ref, settings));
    }

    private async Task AwaitRestartedAsync(IActorRef manager, string lpar, string node) =>
        await AwaitAssertAsync(async () =>
        {
            var status = await manager.Ask<HaStatus>(GetHaStatus.Instance, AskTimeout);
            Assert.Empty(status.Pending);
            var record = Assert.Single(status.Records, r => r.Lpar == lpar);
            Assert.Equal(node, record.Node);
            Assert.True(Assert.Single(record.Failures).Completed);
        }, AskTimeout, TimeSpan.FromMilliseconds(100));

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}
