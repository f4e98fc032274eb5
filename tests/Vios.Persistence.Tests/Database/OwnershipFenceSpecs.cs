using System.Data.Common;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Microsoft.Data.Sqlite;
using Npgsql;
using Vios.Actors;
using Vios.Actors.Partitions;
using Vios.Host.Node;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests.Database;

/// <summary>
/// The ownership fence in the cluster-wide database, as a vios node installs it, exercised through
/// the real Akka.Persistence.Sql journal on SQLite and PostgreSQL: a write tagged with an epoch below
/// the fence (or under a fence never raised) is refused as a whole, a current one is accepted, other
/// tags pass, and the fence never goes down.
/// </summary>
public sealed class OwnershipFenceSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public Task The_trigger_refuses_stale_writes_and_accepts_current_ones_on_sqlite() => RefusesStaleWrites(DatabaseKind.Sqlite, null);

    [PostgresFact]
    public async Task The_trigger_refuses_stale_writes_and_accepts_current_ones_on_postgres()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await RefusesStaleWrites(DatabaseKind.Postgres, database.ConnectionString);
    }

    private async Task RefusesStaleWrites(DatabaseKind kind, string? connection)
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1, kind, connection);
        var node = cluster.ViosNodes[0];
        var fence = OwnershipFences.Get(node.System).Fence;
        Assert.IsType<SqlOwnershipFence>(fence);
        var key = $"lpar-f{Guid.NewGuid():N}"[..14];

        Assert.Equal(2, await fence.RaiseAsync(key, 2));
        // Never down: an old owner raising to its own epoch leaves the fence where the new one put it.
        Assert.Equal(2, await fence.RaiseAsync(key, 1));
        Assert.Equal(2, await fence.ReadAsync(key));

        var stale = await WriteAsync(node, $"{key}-stale", new OwnerClaim(key, 1).Tag);
        Assert.Contains(Ownership.RefusalMarker, Assert.IsType<WriteFailed>(stale).Error);
        Assert.True(Ownership.IsFenceRefusal(((WriteFailed)stale).Cause));
        // The untagged event of the same atomic write went with it.
        Assert.Equal(0, await RowsAsync(node, $"{key}-stale"));

        Assert.IsType<Written>(await WriteAsync(node, $"{key}-current", new OwnerClaim(key, 2).Tag));
        Assert.Equal(2, await RowsAsync(node, $"{key}-current"));

        // A fence never raised refuses too: every owner raises before it writes.
        var unraised = await WriteAsync(node, $"{key}-unraised", new OwnerClaim($"{key}-none", 5).Tag);
        Assert.Contains(Ownership.RefusalMarker, Assert.IsType<WriteFailed>(unraised).Error);

        // Other tags are none of the fence's business.
        Assert.IsType<Written>(await WriteAsync(node, $"{key}-other", "some-tag"));

        Assert.Equal(3, await fence.RaiseAsync(key, 3));
        var overtaken = await WriteAsync(node, $"{key}-current", new OwnerClaim(key, 2).Tag);
        Assert.IsType<WriteFailed>(overtaken);
        Assert.Equal(2, await RowsAsync(node, $"{key}-current"));
        Assert.Null(await fence.ReadAsync($"{key}-never"));
    }

    [PostgresFact]
    public async Task A_node_that_finds_the_fence_installed_takes_no_lock_on_the_journal_on_postgres()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1, DatabaseKind.Postgres, database.ConnectionString);
        var fence = new SqlOwnershipFence(cluster.ViosNodes[0].ClusterDatabase!);

        // A journal write in progress (a writer frozen inside it, say) holds this lock until it ends.
        await using var writer = new NpgsqlConnection(database.ConnectionString);
        await writer.OpenAsync();
        await using var transaction = await writer.BeginTransactionAsync();
        await using (var lockTags = writer.CreateCommand())
        {
            lockTags.Transaction = transaction;
            lockTags.CommandText = "LOCK TABLE tags IN ROW EXCLUSIVE MODE";
            await lockTags.ExecuteNonQueryAsync();
        }

        // Replacing the trigger would wait for that write, and every journal write after it for the replacement.
        await fence.InstallAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await transaction.RollbackAsync();
    }

    [Fact]
    public async Task Installing_twice_keeps_the_fence_rows()
    {
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1);
        var node = cluster.ViosNodes[0];
        var fence = new SqlOwnershipFence(node.ClusterDatabase!);
        await fence.RaiseAsync("lpar-twice", 4);
        await fence.InstallAsync();
        await fence.InstallAsync();
        Assert.Equal(4, await fence.ReadAsync("lpar-twice"));
        Assert.IsType<WriteFailed>(await WriteAsync(node, "twice-stale", new OwnerClaim("lpar-twice", 3).Tag));
    }

    [PostgresFact]
    public async Task On_postgres_the_fence_answers_at_once_after_the_server_ended_every_pooled_connection()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1, DatabaseKind.Postgres, database.ConnectionString);
        var fence = new SqlOwnershipFence(cluster.ViosNodes[0].ClusterDatabase!);
        Assert.Equal(3, await fence.RaiseAsync("lpar-pooled", 3));

        // As a restart of the server does: every backend of the database ends, the pool's idle ones too.
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false }.ConnectionString))
        {
            await admin.OpenAsync();
            await using var terminate = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", admin);
            Assert.True((long)(await terminate.ExecuteScalarAsync())! >= 1);
        }

        // The first call after it answers, instead of failing on a dead pooled connection.
        Assert.Equal(3, await fence.ReadAsync("lpar-pooled"));
        Assert.Equal(4, await fence.AdvanceAsync("lpar-pooled"));
    }

    [PostgresFact]
    public async Task On_postgres_a_raise_waits_for_a_write_that_passed_the_check_to_commit()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await using var cluster = await TestCluster.StartAsync(viosNodes: 1, DatabaseKind.Postgres, database.ConnectionString);
        var fence = OwnershipFences.Get(cluster.ViosNodes[0].System).Fence;
        await fence.RaiseAsync("lpar-race", 1);

        // A write of the old owner that has passed the trigger and not yet committed.
        await using var writer = new NpgsqlConnection(database.ConnectionString);
        await writer.OpenAsync();
        await using var transaction = await writer.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
                         "INSERT INTO tags (ordering_id, tag, persistence_id, sequence_nr) VALUES (-1, 'owner-epoch:1:lpar-race', 'lpar-race', 1)",
                         writer, transaction))
            await insert.ExecuteNonQueryAsync();

        var raise = fence.RaiseAsync("lpar-race", 2);
        // The raise is blocked on the write's share lock of the fence row, as pg_locks shows.
        await AwaitAssertAsync(async () =>
        {
            await using var observer = new NpgsqlConnection(database.ConnectionString);
            await observer.OpenAsync();
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO vios_fence%'", observer);
            Assert.Equal(1L, await waiting.ExecuteScalarAsync());
        }, Wait, TimeSpan.FromMilliseconds(100));
        Assert.False(raise.IsCompleted);

        await transaction.CommitAsync();
        Assert.Equal(2, await raise.WaitAsync(Wait));
    }

    private async Task<object> WriteAsync(ViosNode node, string persistenceId, string tag)
    {
        var writer = node.System.ActorOf(Props.Create(() => new TaggedWriter(persistenceId)));
        return await writer.Ask<object>(new Write(tag), Wait);
    }

    private static async Task<long> RowsAsync(ViosNode node, string persistenceId)
    {
        var database = node.ClusterDatabase!;
        await using DbConnection connection = database.Kind == DatabaseKind.Postgres
            ? new NpgsqlConnection(database.JournalConnection)
            : new SqliteConnection(database.JournalConnection);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM journal WHERE persistence_id = '{persistenceId}'";
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private sealed record Write(string Tag);

    private sealed record Written(long SequenceNr);

    private sealed record WriteFailed(string Error, Exception Cause);

    /// <summary>Writes one atomic pair on the cluster-wide journal: an untagged event, then one with <see cref="Write.Tag"/>.</summary>
    private sealed class TaggedWriter : ReceivePersistentActor
    {
        private IActorRef? _replyTo;

        public TaggedWriter(string persistenceId)
        {
            PersistenceId = persistenceId;
            JournalPluginId = PersistencePlugins.ClusterJournal;
            SnapshotPluginId = PersistencePlugins.ClusterSnapshots;
            Command<Write>(write =>
            {
                _replyTo = Sender;
                PersistAll<object>([new LparIntent("x", true), new Tagged(new LparIntent("x", false), new[] { write.Tag })], e =>
                {
                    if (e is Tagged) _replyTo.Tell(new Written(LastSequenceNr));
                });
            });
        }

        public override string PersistenceId { get; }

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
        {
            _replyTo?.Tell(new WriteFailed(cause.ToString(), cause));
            base.OnPersistFailure(cause, @event, sequenceNr);
        }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
        {
            _replyTo?.Tell(new WriteFailed(cause.ToString(), cause));
            base.OnPersistRejected(cause, @event, sequenceNr);
        }
    }
}
