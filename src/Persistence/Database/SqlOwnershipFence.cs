using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;
using Vios.Actors.Partitions;

namespace Vios.Persistence.Database;

/// <summary>
/// The ownership fence in the cluster-wide database (docs/persistence.md, "Ownership fence"): the
/// table <c>vios_fence(fence_key, owner_epoch, raised_at)</c> and a trigger on the journal's
/// <c>tags</c> table that refuses a journal row tagged <c>owner-epoch:&lt;epoch&gt;:&lt;fence key&gt;</c>
/// when the fence row is above that epoch or missing. Akka.Persistence.Sql (<c>tag-write-mode =
/// TagTable</c>, its default) inserts the journal rows of a write and their tags in one transaction,
/// so the refusal undoes the whole write. On PostgreSQL the trigger reads the fence row
/// <c>FOR SHARE</c>: a raise waits for a write that already passed the check to commit, so the new
/// owner, which raises before it recovers, reads every write of the old owner that was accepted.
/// SQLite serialises writers, which gives the same order.
/// </summary>
public sealed class SqlOwnershipFence(DatabaseSettings cluster) : IOwnershipFence
{
    /// <summary>The SQLite trigger's name carries its version: SQLite has no CREATE OR REPLACE, so a changed trigger gets a new name (and drops the old).</summary>
    public const string SqliteTriggerName = "vios_fence_check_v1";

    public string Describe => $"vios_fence in {cluster.Describe()}";

    /// <summary>
    /// PostgreSQL: how long a journal transaction that passed the fence may sit idle before the server
    /// ends it. A journal write sends its statements back to back; only a frozen writer idles this long.
    /// </summary>
    private const string IdleWriterTimeoutMs = "3000";

    /// <summary>
    /// Creates the fence table and the trigger, idempotently; several nodes may do it at once. The
    /// journal's own <c>tags</c> table must exist (see <see cref="OwnershipFenceInstaller"/>).
    /// </summary>
    public async Task InstallAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = cluster.Kind == DatabaseKind.Postgres ? PostgresSchema : SqliteSchema;
        await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task<long> RaiseAsync(string fenceKey, long epoch, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epoch);
        return OnceMoreIfDroppedAsync(() => RaiseOnceAsync(fenceKey, epoch, cancellationToken));
    }

    private async Task<long> RaiseOnceAsync(string fenceKey, long epoch, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // Never down: a raise to a lower epoch (an old owner restarting its journal) leaves the fence where it is.
        command.CommandText = cluster.Kind == DatabaseKind.Postgres
            ? """
              INSERT INTO vios_fence (fence_key, owner_epoch, raised_at) VALUES (@key, @epoch, now())
              ON CONFLICT (fence_key) DO UPDATE SET
                owner_epoch = GREATEST(vios_fence.owner_epoch, EXCLUDED.owner_epoch),
                raised_at = CASE WHEN EXCLUDED.owner_epoch > vios_fence.owner_epoch THEN now() ELSE vios_fence.raised_at END
              RETURNING owner_epoch
              """
            : """
              INSERT INTO vios_fence (fence_key, owner_epoch, raised_at) VALUES (@key, @epoch, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
              ON CONFLICT (fence_key) DO UPDATE SET
                owner_epoch = max(owner_epoch, excluded.owner_epoch),
                raised_at = CASE WHEN excluded.owner_epoch > owner_epoch THEN excluded.raised_at ELSE raised_at END
              RETURNING owner_epoch
              """;
        AddParameter(command, "key", fenceKey);
        AddParameter(command, "epoch", epoch);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken));
    }

    public Task<long> AdvanceAsync(string fenceKey, CancellationToken cancellationToken = default) =>
        OnceMoreIfDroppedAsync(() => AdvanceOnceAsync(fenceKey, cancellationToken));

    private async Task<long> AdvanceOnceAsync(string fenceKey, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // One statement: two incarnations advancing at once get two different epochs.
        command.CommandText = cluster.Kind == DatabaseKind.Postgres
            ? """
              INSERT INTO vios_fence (fence_key, owner_epoch, raised_at) VALUES (@key, 1, now())
              ON CONFLICT (fence_key) DO UPDATE SET owner_epoch = vios_fence.owner_epoch + 1, raised_at = now()
              RETURNING owner_epoch
              """
            : """
              INSERT INTO vios_fence (fence_key, owner_epoch, raised_at) VALUES (@key, 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
              ON CONFLICT (fence_key) DO UPDATE SET owner_epoch = owner_epoch + 1, raised_at = excluded.raised_at
              RETURNING owner_epoch
              """;
        AddParameter(command, "key", fenceKey);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken));
    }

    public Task<long?> ReadAsync(string fenceKey, CancellationToken cancellationToken = default) =>
        OnceMoreIfDroppedAsync(() => ReadOnceAsync(fenceKey, cancellationToken));

    private async Task<long?> ReadOnceAsync(string fenceKey, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT owner_epoch FROM vios_fence WHERE fence_key = @key";
        AddParameter(command, "key", fenceKey);
        return await command.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value) : null;
    }

    /// <summary>
    /// After a PostgreSQL restart every idle pooled connection is dead, and each fails its first
    /// command (a broken stream, or the server's 57P01 when it ended the backend): Npgsql drops only that one. The pools are cleared and the operation runs once more, on
    /// a fresh connection, instead of its caller waiting a retry per dead connection (the PostgreSQL
    /// soak's singletons waited 1 s so). Every operation here may run twice: a raise and a read are
    /// idempotent, and an advance that went through unanswered only leaves a gap in the epochs.
    /// </summary>
    private static async Task<T> OnceMoreIfDroppedAsync<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation();
        }
        catch (NpgsqlException e) when (e.IsTransient)
        {
            NpgsqlConnection.ClearAllPools();
            return await operation();
        }
    }

    private async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = cluster.Kind == DatabaseKind.Postgres
            ? new NpgsqlConnection(cluster.JournalConnection)
            : new SqliteConnection(cluster.JournalConnection);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    // The tag is owner-epoch:<epoch>:<fence key>; 'owner-epoch:' is 12 characters.
    private const string SqliteSchema = $"""
        CREATE TABLE IF NOT EXISTS vios_fence (
          fence_key TEXT NOT NULL PRIMARY KEY,
          owner_epoch INTEGER NOT NULL,
          raised_at TEXT NOT NULL
        );
        CREATE TRIGGER IF NOT EXISTS {SqliteTriggerName} BEFORE INSERT ON tags
        WHEN NEW.tag LIKE '{OwnerClaim.TagPrefix}%'
        BEGIN
          SELECT RAISE(ABORT, '{Ownership.RefusalMarker} a journal write under an owner epoch below its fence (or with no fence raised) was refused')
          WHERE COALESCE(
                  (SELECT owner_epoch FROM vios_fence
                   WHERE fence_key = substr(substr(NEW.tag, 13), instr(substr(NEW.tag, 13), ':') + 1)),
                  9223372036854775807)
                > CAST(substr(substr(NEW.tag, 13), 1, instr(substr(NEW.tag, 13), ':') - 1) AS INTEGER);
        END;
        """;

    /// <summary>
    /// In the trigger function's source: a node that finds it there (and the trigger on <c>tags</c>)
    /// installs nothing. <c>CREATE OR REPLACE TRIGGER</c> takes a lock on <c>tags</c> that waits for
    /// every open journal transaction (a writer frozen mid-write holds one) and makes every journal
    /// write that comes after it wait as well; a node starts again while another is frozen in the
    /// chaos soak. Change it whenever the function changes.
    /// </summary>
    private const string PostgresVersionMarker = "vios fence check v2";

    private const string PostgresSchema = $$"""
        SELECT pg_advisory_xact_lock(4711004711);
        CREATE TABLE IF NOT EXISTS vios_fence (
          fence_key TEXT NOT NULL PRIMARY KEY,
          owner_epoch BIGINT NOT NULL,
          raised_at TIMESTAMPTZ NOT NULL
        );
        DO $install$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'vios_fence_check' AND prosrc LIKE '%{{PostgresVersionMarker}}%')
             AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'vios_fence_check' AND tgrelid = 'tags'::regclass) THEN
            RETURN;
          END IF;
          EXECUTE $ddl$
        CREATE OR REPLACE FUNCTION vios_fence_check() RETURNS trigger LANGUAGE plpgsql AS $fence$
        DECLARE
          rest TEXT;
          claimed BIGINT;
          key TEXT;
          fence BIGINT;
        BEGIN
          -- {{PostgresVersionMarker}}
          IF NEW.tag NOT LIKE '{{OwnerClaim.TagPrefix}}%' THEN
            RETURN NEW;
          END IF;
          rest := substr(NEW.tag, 13);
          claimed := split_part(rest, ':', 1)::BIGINT;
          key := substr(rest, strpos(rest, ':') + 1);
          -- FOR SHARE: a concurrent raise (an UPDATE of this row) waits until this write commits or aborts.
          SELECT owner_epoch INTO fence FROM vios_fence WHERE fence_key = key FOR SHARE;
          -- A writer frozen between here and its commit (SIGSTOP, a long GC pause) would hold that
          -- lock, and with it the next owner's raise, for as long as it is frozen: the server ends
          -- such a transaction once it has been idle this long (this transaction only).
          PERFORM set_config('idle_in_transaction_session_timeout', '{{IdleWriterTimeoutMs}}', true);
          IF fence IS NULL THEN
            RAISE EXCEPTION '{{Ownership.RefusalMarker}} write of % (sequence number %) under owner epoch % refused: the fence % was never raised',
              NEW.persistence_id, NEW.sequence_nr, claimed, key;
          END IF;
          IF claimed < fence THEN
            RAISE EXCEPTION '{{Ownership.RefusalMarker}} write of % (sequence number %) under owner epoch % refused: the fence % is at owner epoch %',
              NEW.persistence_id, NEW.sequence_nr, claimed, key, fence;
          END IF;
          RETURN NEW;
        END
        $fence$
          $ddl$;
          EXECUTE 'CREATE OR REPLACE TRIGGER vios_fence_check BEFORE INSERT ON tags FOR EACH ROW EXECUTE FUNCTION vios_fence_check()';
        END
        $install$;
        """;
}
