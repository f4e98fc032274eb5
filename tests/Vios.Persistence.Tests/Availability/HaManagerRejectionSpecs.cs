using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Vios.Actors.Availability;
using Vios.Testing;

namespace Vios.Persistence.Tests.Availability;

/// <summary>
/// A journal that rejects some writes (as a journal rejects an event it cannot serialize): the HA
/// manager applies nothing it was refused and tells the requester why.
/// </summary>
public sealed class HaManagerRejectionSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _directory;

    public HaManagerRejectionSpecs()
        : this(new TempDirectory())
    {
    }

    private HaManagerRejectionSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path,
            $"vios.persistence.cluster.journal.class = \"{typeof(RejectingJournal).AssemblyQualifiedName}\"")) => _directory = directory;

    [Fact]
    public async Task A_rejected_requirement_is_refused_to_the_requester_with_the_reason_and_not_applied()
    {
        var (manager, _) = await StartWithRecordAsync();

        var reply = await manager.Ask<object>(new SetAvailabilityRequirement(RejectingJournal.RequirementRejectedFor, TimeSpan.FromSeconds(5), false), Wait);

        var refused = Assert.IsType<HaRefused>(reply);
        Assert.Contains("the cluster-wide journal rejected it, nothing was changed", refused.Reason);
        var record = await manager.Ask<AvailabilityRecord>(new GetFailures(RejectingJournal.RequirementRejectedFor), Wait);
        Assert.Null(record.Requirement);
        Assert.Null(record.Standby);
    }

    [Fact]
    public async Task A_rejected_declaration_is_not_applied_and_the_manager_goes_on()
    {
        var (manager, script) = await StartWithRecordAsync();
        var log = CreateTestProbe();
        Sys.EventStream.Subscribe(log.Ref, typeof(LogEvent));

        script.List = HaManagerHarness.List(
            [HaManagerHarness.Running(RejectingJournal.RequirementRejectedFor, "n1"), HaManagerHarness.Running(RejectingJournal.DeclarationRejectedFor, "n1")],
            "n1", "n2");
        await log.FishForMessageAsync<LogEvent>(
            e => e.LogLevel() >= LogLevel.WarningLevel && e.Message.ToString()!.Contains(nameof(AvailabilityDeclared)), Wait);

        // Decided, rejected: the registry never had it (it is applied only once written).
        var reply = await manager.Ask<object>(new GetFailures(RejectingJournal.DeclarationRejectedFor), Wait);
        Assert.Contains("has no availability record", Assert.IsType<HaRefused>(reply).Reason);
        Assert.IsType<AvailabilityRecord>(await manager.Ask<object>(new GetFailures(RejectingJournal.RequirementRejectedFor), Wait));
    }

    /// <summary>A manager whose first partition has its availability record.</summary>
    private async Task<(IActorRef Manager, ScriptedPartitionManager Script)> StartWithRecordAsync()
    {
        var script = new ScriptedPartitionManager(TestActor)
        {
            List = HaManagerHarness.List([HaManagerHarness.Running(RejectingJournal.RequirementRejectedFor, "n1")], "n1", "n2"),
        };
        var partitions = CreateTestProbe();
        partitions.SetAutoPilot(script);
        var manager = Sys.ActorOf(HaManagerActor.Props(partitions.Ref, AvailabilitySettings.Default));
        await AwaitAssertAsync(async () =>
            Assert.IsType<AvailabilityRecord>(await manager.Ask<object>(new GetFailures(RejectingJournal.RequirementRejectedFor), Wait)),
            Wait, TimeSpan.FromMilliseconds(100));
        return (manager, script);
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}

/// <summary>An in-memory journal that rejects the writes of two marked partitions and accepts the rest.</summary>
public sealed class RejectingJournal : MemoryJournal
{
    public const string RequirementRejectedFor = "declared";
    public const string DeclarationRejectedFor = "undeclared";

    protected override async Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        await base.WriteMessagesAsync(writes.Where(w => !Rejected(w)).ToList(), cancellationToken);
        return writes.Select(w => Rejected(w) ? new InvalidOperationException("the journal refuses this event") : (Exception)null!).ToImmutableList();
    }

    private static bool Rejected(AtomicWrite write) =>
        ((IEnumerable<IPersistentRepresentation>)write.Payload).Any(p => p.Payload is
            SetAvailabilityRequirement { Lpar: RequirementRejectedFor } or AvailabilityDeclared { Lpar: DeclarationRejectedFor });
}
