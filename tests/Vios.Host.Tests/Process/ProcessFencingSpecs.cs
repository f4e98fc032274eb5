using System.Data.Common;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;
using Vios.Testing;

namespace Vios.Host.Tests.Process;

/// <summary>
/// One owner per partition with real processes: a lighthouse and three `vios node`s; partition `z`
/// runs with periodic checkpoints and a workload on vios2 (vios1, the oldest, hosts the singletons).
/// vios2 is frozen with SIGSTOP until a survivor says `z` runs elsewhere, then continued. The journal
/// of `z` must hold no write of the old owner's epoch after the failover, the old copy must stop (the
/// resumed node stops it, or it is downed and exits), and a restore into a fresh partition must give
/// the memory checksum of the new owner's last committed image. On SQLite and on PostgreSQL. And on
/// SQLite, a node frozen inside a write of the shared files is killed by the survivors (power fencing),
/// so the failover does not wait for its lock.
/// </summary>
public sealed class ProcessFencingSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan FailoverLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task A_node_frozen_past_its_failover_never_writes_the_partition_again_on_sqlite()
    {
        // The survivors would kill the downed process (vios.node.kill-downed-local-processes, the next
        // spec); off here, so that the resumed process itself must find the fence and stop its copy.
        using var config = new TempDirectory();
        var noKill = Path.Combine(config.Path, "no-kill.hocon");
        await File.WriteAllTextAsync(noKill, "vios.node.kill-downed-local-processes = off");
        ProcessCluster? cluster = null;
        // One machine's SQLite files take one writer at a time, and a frozen process keeps the lock it
        // holds: frozen inside a journal transaction, it stalls every node's cluster-wide state until it
        // runs again. The freeze this spec is about comes between transactions.
        await AFrozenNodeNeverWritesAgain(["--config", noKill], () => OpenSqlite(cluster!), c => cluster = c, async () => !await HoldsSqliteLockAsync(cluster!));
    }

    [Fact]
    public async Task A_node_frozen_inside_a_write_of_the_shared_sqlite_files_is_killed_and_its_partition_fails_over_while_it_stays_frozen()
    {
        var nodes = new Dictionary<string, NodeProcess>();
        try
        {
            await using var cluster = await ProcessCluster.StartAsync();
            var ops = await StartWithCheckpointingPartitionAsync(cluster, nodes);

            // Frozen while it holds the cluster-wide journal's write lock: no other node can write
            // that file (the new owner's fence first) until the lock goes, and it is never continued.
            // Each attempt lets it write again first (the journal grows), then freezes it wherever it is.
            var frozen = nodes["vios2"].Process;
            var journal = () => OpenSqlite(cluster);
            for (var attempt = 1; ; attempt++)
            {
                var before = await HighestSequenceNrAsync(journal);
                await AwaitAssertAsync(async () => Assert.True(await HighestSequenceNrAsync(journal) > before), FailoverLimit, TimeSpan.FromMilliseconds(20));
                frozen.Stop();
                if (await HoldsSqliteLockAsync(cluster)) break;
                frozen.Continue();
                Assert.True(attempt < 500, "vios2 held no lock of the shared database at any of 500 freezes");
            }

            // A survivor kills the downed process; its lock goes with it and z runs elsewhere.
            await frozen.Exited.WaitAsync(FailoverLimit);
            Assert.Equal(137, frozen.ExitCode);
            Assert.Contains(nodes.Values.Where(n => n.Process != frozen).SelectMany(n => n.Process.Output),
                line => line.Contains("killed process") && line.Contains(nodes["vios2"].Address));
            await AwaitAssertAsync(async () =>
            {
                var failures = (await JsonAsync(ops, "ha", "failures", "z")).GetProperty("failures");
                Assert.True(failures.GetArrayLength() >= 1 && failures[0].GetProperty("completed").GetBoolean(), failures.ToString());
                var shown = await JsonAsync(ops, "lpar", "show", "z");
                Assert.NotEqual("vios2", shown.GetProperty("node").GetString());
                Assert.Equal("running", shown.GetProperty("state").GetString()!.ToLowerInvariant());
            }, FailoverLimit, Poll);
            Assert.False(await HoldsSqliteLockAsync(cluster));
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException(string.Join("\n", nodes.Select(n => $"--- {n.Key}\n{string.Join("\n", n.Value.Process.Output.TakeLast(40))}")) + "\n" + e);
        }
    }

    /// <summary>Whether a process holds a write lock of the cluster-wide SQLite files: a write transaction cannot begin within a second.</summary>
    private static async Task<bool> HoldsSqliteLockAsync(ProcessCluster cluster)
    {
        foreach (var file in new[] { "cluster-journal.db", "cluster-snapshots.db" })
        {
            await using var probe = new SqliteConnection($"Data Source={Path.Combine(cluster.DataDirectory("shared"), file)};Default Timeout=1");
            await probe.OpenAsync();
            await using var command = probe.CreateCommand();
            command.CommandText = "BEGIN IMMEDIATE; ROLLBACK;";
            try
            {
                await command.ExecuteNonQueryAsync();
            }
            catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6)
            {
                return true;
            }
        }
        return false;
    }

    [PostgresFact]
    public async Task A_node_frozen_past_its_failover_never_writes_the_partition_again_on_postgres()
    {
        await using var database = await TestPostgres.CreateDatabaseAsync();
        await AFrozenNodeNeverWritesAgain(["--db", "postgres", "--db-connection", database.ConnectionString],
            () => new NpgsqlConnection(database.ConnectionString), _ => { }, () => Task.FromResult(true));
    }

    private static DbConnection OpenSqlite(ProcessCluster cluster) =>
        new SqliteConnection($"Data Source={Path.Combine(cluster.DataDirectory("shared"), "cluster-journal.db")};Mode=ReadOnly");

    /// <param name="frozenCleanly">After SIGSTOP: whether the frozen process holds no lock that stalls the others; if not it is continued and frozen again.</param>
    private async Task AFrozenNodeNeverWritesAgain(string[] database, Func<DbConnection> journal, Action<ProcessCluster> started, Func<Task<bool>> frozenCleanly)
    {
        var nodes = new Dictionary<string, NodeProcess>();
        try
        {
            await FrozenNodeNeverWritesAgain(database, journal, started, frozenCleanly, nodes);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException(string.Join("\n", nodes.Select(n => $"--- {n.Key}\n{string.Join("\n", n.Value.Process.Output.TakeLast(40))}")) + "\n" + e);
        }
    }

    private async Task FrozenNodeNeverWritesAgain(string[] database, Func<DbConnection> journal, Action<ProcessCluster> started, Func<Task<bool>> frozenCleanly,
        Dictionary<string, NodeProcess> nodes)
    {
        await using var cluster = await ProcessCluster.StartAsync(database);
        started(cluster);
        var ops = await StartWithCheckpointingPartitionAsync(cluster, nodes);

        // Frozen: a long GC pause, a suspended host. The cluster takes it for dead and fails z over.
        var frozen = nodes["vios2"].Process;
        for (var attempt = 1; ; attempt++)
        {
            frozen.Stop();
            if (await frozenCleanly()) break;
            frozen.Continue();
            Assert.True(attempt < 50, "vios2 held a lock of the shared database at each of 50 freezes");
        }
        string newOwner = "";
        await AwaitAssertAsync(async () =>
        {
            // The failover is complete (restored), not only decided: then z runs on its new node.
            var failures = (await JsonAsync(ops, "ha", "failures", "z")).GetProperty("failures");
            Assert.True(failures.GetArrayLength() >= 1 && failures[0].GetProperty("completed").GetBoolean(), failures.ToString());
            newOwner = failures[0].GetProperty("targetNode").GetString()!;
            Assert.NotEqual("vios2", newOwner);
            var shown = await JsonAsync(ops, "lpar", "show", "z");
            Assert.Equal((newOwner, "running"), (shown.GetProperty("node").GetString(), shown.GetProperty("state").GetString()!.ToLowerInvariant()));
        }, FailoverLimit, Poll);
        // The journal as the new owner restored it: nothing of the old owner may come after this.
        var restoredAt = await HighestSequenceNrAsync(journal);
        var restoredTags = await ClaimsAsync(journal);
        Assert.All(restoredTags, t => Assert.Equal(1, t.Epoch));

        frozen.Continue();
        // The old copy stops: the resumed node finds the fence above its epoch, or it was downed and exits.
        var fenced = frozen.WaitForLineAsync(l => l.Contains("ownership lost") || l.Contains("lost its ownership"), FailoverLimit, "the old copy fenced");
        var finished = await Task.WhenAny(fenced, frozen.Exited).WaitAsync(FailoverLimit);
        if (finished == fenced) await fenced;

        // The new owner checkpoints under epoch 2 (the failover restored z without its interval).
        var shown = await JsonAsync(ops, "lpar", "show", "z");
        Assert.Equal((newOwner, 2L), (shown.GetProperty("node").GetString(), shown.GetProperty("ownerEpoch").GetInt64()));
        await CtlOnceAcceptedAsync(ops, "checkpoint", "take", "z", "--interval", "200", "--verify");
        await AwaitAssertAsync(async () => Assert.True((await ClaimsAsync(journal)).Count(t => t.Epoch == 2) >= 3), FailoverLimit, Poll);
        await CtlOnceAcceptedAsync(ops, "checkpoint", "stop", "z");

        // Only the new owner's epochs after the failover: every write of epoch 1 is at or before where the new owner restored.
        var claims = await ClaimsAsync(journal);
        Assert.All(claims.Where(t => t.Epoch == 1), t => Assert.True(t.SequenceNr <= restoredAt,
            $"epoch-1 write at sequence number {t.SequenceNr}, after the failover at {restoredAt}: {string.Join(", ", claims)}"));
        Assert.All(claims.Where(t => t.SequenceNr > restoredAt), t => Assert.Equal(2, t.Epoch));
        Assert.Equal(claims.OrderBy(t => t.SequenceNr).Select(t => t.Epoch), claims.OrderBy(t => t.SequenceNr).Select(t => t.Epoch).Order());

        // A restore into a fresh partition is the new owner's last committed image, byte for byte.
        var epochs = (await JsonAsync(ops, "checkpoint", "list", "z")).GetProperty("epochs");
        var last = epochs[epochs.GetArrayLength() - 1];
        await CtlOnceAcceptedAsync(ops, "lpar", "create", "z-copy", "--vcpus", "1", "--memory-mb", "16", "--node", newOwner);
        JsonElement restored = default;
        await AwaitAssertAsync(async () => restored = await JsonAsync(ops, "checkpoint", "restore", "z", "--into", "z-copy"), FailoverLimit, Poll);
        Assert.Equal(last.GetProperty("epoch").GetInt64(), restored.GetProperty("epoch").GetInt64());
        Assert.Equal(last.GetProperty("memoryChecksum").GetUInt64(), restored.GetProperty("memoryChecksum").GetUInt64());
        Assert.True(restored.GetProperty("verified").GetBoolean());
    }

    /// <summary>
    /// vios1, vios2 and vios3 (vios1 first: the oldest vios node hosts the partition manager and the HA
    /// manager), and z on vios2 with a workload and checkpoints every 200 ms; returns vios1's ops endpoint.
    /// </summary>
    private async Task<string> StartWithCheckpointingPartitionAsync(ProcessCluster cluster, Dictionary<string, NodeProcess> nodes)
    {
        foreach (var name in new[] { "vios1", "vios2", "vios3" }) nodes[name] = await cluster.StartViosNodeAsync(name, name);
        var ops = nodes["vios1"].Ops;
        await AwaitAssertAsync(async () => Assert.Equal(3, (await JsonAsync(ops, "lpar", "list")).GetProperty("nodes").GetArrayLength()),
            ProcessCluster.StartTimeout, Poll);

        await CtlOkAsync(ops, "lpar", "create", "z", "--vcpus", "1", "--memory-mb", "16", "--node", "vios2");
        await CtlOkAsync(ops, "lpar", "start", "z");
        await CtlOkAsync(ops, "lpar", "workload", "z", "--rate", "20000");
        await CtlOkAsync(ops, "checkpoint", "take", "z", "--interval", "200", "--verify");
        await AwaitAssertAsync(async () =>
        {
            Assert.True((await JsonAsync(ops, "checkpoint", "list", "z")).GetProperty("epochs").GetArrayLength() >= 3);
            Assert.Equal(1, (await JsonAsync(ops, "lpar", "show", "z")).GetProperty("ownerEpoch").GetInt64());
        }, ProcessCluster.StartTimeout, Poll);
        return ops;
    }

    private sealed record Claim(long SequenceNr, long Epoch);

    /// <summary>The owner epochs the journal of z was written under, read from the journal's tag table.</summary>
    private static async Task<IReadOnlyList<Claim>> ClaimsAsync(Func<DbConnection> open)
    {
        await using var connection = open();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT sequence_nr, tag FROM tags WHERE persistence_id = 'lpar-z' AND tag LIKE 'owner-epoch:%' ORDER BY sequence_nr";
        var claims = new List<Claim>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            claims.Add(new Claim(Convert.ToInt64(reader.GetValue(0)), long.Parse(reader.GetString(1).Split(':')[1])));
        return claims;
    }

    private static async Task<long> HighestSequenceNrAsync(Func<DbConnection> open)
    {
        await using var connection = open();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(sequence_number), 0) FROM journal WHERE persistence_id = 'lpar-z'";
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>
    /// A change, asked again while the node refuses to send it: for a moment after the frozen node runs
    /// again, its stale heartbeats make the others hold the new owner silent.
    /// </summary>
    private async Task CtlOnceAcceptedAsync(string ops, params string[] command) =>
        await AwaitAssertAsync(async () =>
        {
            var (exitCode, output, error) = await ProcessCluster.CtlAsync(ops, command);
            if (exitCode != 0 && error.Contains("not sent:")) Assert.Fail($"refused for now: {error}");
            Assert.True(exitCode == 0, $"vios ctl {string.Join(' ', command)} failed ({exitCode}): {error}{output}");
        }, FailoverLimit, Poll);

    private static async Task CtlOkAsync(string ops, params string[] command)
    {
        var (exitCode, output, error) = await ProcessCluster.CtlAsync(ops, command);
        Assert.True(exitCode == 0, $"vios ctl {string.Join(' ', command)} failed ({exitCode}): {error}{output}");
    }

    private static async Task<JsonElement> JsonAsync(string ops, params string[] command)
    {
        var (exitCode, output, error) = await ProcessCluster.CtlAsync(ops, ["--json", .. command]);
        Assert.True(exitCode == 0, $"vios ctl {string.Join(' ', command)} failed ({exitCode}): {error}");
        using var document = JsonDocument.Parse(output);
        return document.RootElement.Clone();
    }
}
