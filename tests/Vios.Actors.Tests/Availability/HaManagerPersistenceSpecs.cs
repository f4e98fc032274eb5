using System.Collections.Concurrent;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Event;
using Akka.Serialization;
using Microsoft.Data.Sqlite;
using Vios.Actors.Availability;
using Vios.Actors.Partitions;
using Vios.Persistence.Serialization;
using Vios.Testing;

namespace Vios.Actors.Tests.Availability;

/// <summary>
/// Issue 19, point 5: the HA manager applies an event only once the journal recorded it, answers
/// a rejected write with the reason and keeps running, and saves a snapshot every
/// <see cref="HaManagerActor.SnapshotEvery"/> events, after which its older events are deleted and
/// a successor recovers from the snapshot. On the real control-plane journal (SQLite).
/// </summary>
public sealed class HaManagerPersistenceSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _directory;

    public HaManagerPersistenceSpecs()
        : this(new TempDirectory())
    {
    }

    private HaManagerPersistenceSpecs(TempDirectory directory)
        : base(HaManagerHarness.Config(directory.Path, """
            akka.actor.serializers.refusing = "Vios.Actors.Tests.Availability.RefusingSerializer, Vios.Actors.Tests"
            akka.actor.serialization-bindings {
              "Vios.Actors.Availability.AvailabilityDeclared, Vios.Actors" = refusing
              "Vios.Actors.Availability.SetAvailabilityRequirement, Vios.Actors" = refusing
            }
            """)) => _directory = directory;

    [Fact]
    public async Task Declarations_the_journal_rejects_are_not_applied_and_the_manager_goes_on()
    {
        RefusingSerializer.Refuse<AvailabilityDeclared>("unstorable");
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));
        var manager = StartManager(HaManagerHarness.List([HaManagerHarness.Running("unstorable", "n2"), HaManagerHarness.Running("fine", "n2")], "n2", "n3"));

        await errors.FishForMessageAsync(m => m is Error e && e.Message.ToString()!.Contains("the journal rejected AvailabilityDeclared"), Wait);

        // Both declarations were one write: neither is in the registry, and the manager still answers.
        var status = await manager.Ask<HaStatus>(GetHaStatus.Instance, Wait);
        Assert.Empty(status.Records);
        var refused = await manager.Ask<object>(new GetFailures("unstorable"), Wait);
        Assert.Contains("has no availability record", Assert.IsType<HaRefused>(refused).Reason);
    }

    [Fact]
    public async Task A_requirement_the_journal_rejects_is_answered_with_the_reason_and_not_applied()
    {
        RefusingSerializer.Refuse<SetAvailabilityRequirement>("picky");
        var manager = StartManager(HaManagerHarness.List([HaManagerHarness.Running("picky", "n2")], "n2", "n3"));
        await AwaitAssertAsync(async () => Assert.IsType<AvailabilityRecord>(await manager.Ask<object>(new GetFailures("picky"), Wait)), Wait);

        var reply = await manager.Ask<object>(new SetAvailabilityRequirement("picky", TimeSpan.FromSeconds(3), FullPerformance: false), Wait);

        Assert.Contains("the control plane's journal rejected it, nothing was changed", Assert.IsType<HaRefused>(reply).Reason);
        var record = Assert.IsType<AvailabilityRecord>(await manager.Ask<object>(new GetFailures("picky"), Wait));
        Assert.Null(record.Requirement);
        Assert.Null(record.Standby);
    }

    [Fact]
    public async Task A_snapshot_every_hundred_events_deletes_the_older_ones_and_a_successor_recovers_from_it()
    {
        var names = Enumerable.Range(1, HaManagerActor.SnapshotEvery + 20).Select(i => $"p{i:000}").ToList();
        var list = HaManagerHarness.List(names.Select(n => HaManagerHarness.Running(n, "n2")), "n2", "n3");
        var manager = StartManager(list);
        var journal = Path.Combine(_directory.Path, "shared", "control-journal.db");
        var snapshots = Path.Combine(_directory.Path, "shared", "control-snapshots.db");

        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(names.Count, (await manager.Ask<HaStatus>(GetHaStatus.Instance, Wait)).Records.Count);
            Assert.Equal(1, await CountAsync(snapshots, "SELECT count(*) FROM snapshot WHERE persistence_id = 'ha-manager'"));
            // The events the snapshot holds are gone (Akka.Persistence.Sql keeps the highest deleted row as a marker).
            Assert.True(await CountAsync(journal, "SELECT count(*) FROM journal WHERE persistence_id = 'ha-manager' AND is_deleted = 0") <= 20);
        }, Wait, TimeSpan.FromMilliseconds(200));

        Watch(manager);
        Sys.Stop(manager);
        await ExpectTerminatedAsync(manager, Wait);
        var successor = StartManager(list);
        var recovered = await successor.Ask<HaStatus>(GetHaStatus.Instance, Wait);
        Assert.Equal(names, recovered.Records.Select(r => r.Lpar).Order(StringComparer.Ordinal));
        Assert.All(recovered.Records, r => Assert.Equal("n2", r.Node));
    }

    private IActorRef StartManager(LparList list)
    {
        var probe = CreateTestProbe();
        probe.SetAutoPilot(new ScriptedPartitionManager(TestActor) { List = list });
        return Sys.ActorOf(HaManagerActor.Props(probe.Ref, AvailabilitySettings.Default));
    }

    private static async Task<long> CountAsync(string file, string sql)
    {
        if (!File.Exists(file)) return -1;
        await using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        try
        {
            return Convert.ToInt64(await command.ExecuteScalarAsync());
        }
        catch (SqliteException)
        {
            return -1;
        }
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _directory.Dispose();
    }
}

/// <summary>
/// The shipped serializer, except that it refuses the events of the partitions a test names: the
/// journal then rejects the write (a serialization failure), as it would an event it cannot store.
/// </summary>
public sealed class RefusingSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static readonly ConcurrentDictionary<(Type Event, string Lpar), bool> Refused = new();
    private readonly ViosSerializer _inner = new(system);

    public static void Refuse<TEvent>(string lpar) => Refused[(typeof(TEvent), lpar)] = true;

    public override int Identifier => 4799;

    public override string Manifest(object o) => _inner.Manifest(o);

    public override byte[] ToBinary(object obj) => LparOf(obj) is { } lpar && Refused.ContainsKey((obj.GetType(), lpar))
        ? throw new SerializationException($"the test refuses to store events of '{lpar}'")
        : _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, string manifest) => _inner.FromBinary(bytes, manifest);

    private static string? LparOf(object o) => o switch
    {
        AvailabilityDeclared declared => declared.Lpar,
        SetAvailabilityRequirement requirement => requirement.Lpar,
        _ => null,
    };
}
