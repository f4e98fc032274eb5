using Vios.Testing;

namespace Vios.Host.Tests.Process;

/// <summary>
/// Real processes: a vios node whose cluster-wide journal is not the one the older vios node uses
/// (another --shared-data directory on SQLite, another database on PostgreSQL) prints one line
/// naming both journals and the fix, leaves and exits 1; the older node names it in an error and
/// keeps running and answering.
/// </summary>
public sealed class ProcessClusterIdentitySpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan RefusalTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_node_on_another_shared_directory_refuses_and_exits_1_while_the_first_keeps_running()
    {
        await using var cluster = await ProcessCluster.StartAsync();
        var first = await cluster.StartViosNodeAsync("vios1");
        var second = await cluster.StartViosNodeAsync("vios2", arguments: ["--shared-data", cluster.DataDirectory("elsewhere")], awaitUp: false);

        await RefusedAsync(cluster, first, second,
            Path.Combine(cluster.DataDirectory("elsewhere"), "cluster-journal.db"),
            Path.Combine(cluster.DataDirectory("shared"), "cluster-journal.db"));
    }

    [PostgresFact]
    public async Task A_node_on_another_postgres_database_refuses_and_exits_1_while_the_first_keeps_running()
    {
        await using var databaseA = await TestPostgres.CreateDatabaseAsync();
        await using var databaseB = await TestPostgres.CreateDatabaseAsync();
        await using var cluster = await ProcessCluster.StartAsync();
        var first = await cluster.StartViosNodeAsync("vios1", arguments: ["--db", "postgres", "--db-connection", databaseA.ConnectionString]);
        var second = await cluster.StartViosNodeAsync("vios2", arguments: ["--db", "postgres", "--db-connection", databaseB.ConnectionString], awaitUp: false);

        await RefusedAsync(cluster, first, second, "/" + DatabaseName(databaseB.ConnectionString), "/" + DatabaseName(databaseA.ConnectionString));
    }

    private static string DatabaseName(string connection) => new Npgsql.NpgsqlConnectionStringBuilder(connection).Database!;

    private async Task RefusedAsync(ProcessCluster cluster, NodeProcess first, NodeProcess second, string secondJournal, string firstJournal)
    {
        var refusal = await second.Process.WaitForLineAsync(l => l.StartsWith("vios: node refused: ", StringComparison.Ordinal), RefusalTimeout, "refusal line");
        Assert.Contains(secondJournal, refusal);
        Assert.Contains(firstJournal, refusal);
        Assert.Contains("--shared-data", refusal);
        Assert.Contains("PostgreSQL", refusal);
        await second.Process.Exited.WaitAsync(RefusalTimeout);
        Assert.Equal(1, second.Process.ExitCode);

        // The older node names the refused one in an error, and the refused node left the cluster.
        await first.Process.WaitForLineAsync(l => l.Contains("refused vios node") && l.Contains(second.Address), RefusalTimeout, "refused-node error");
        await cluster.AwaitRemovedAsync(second.Address, RefusalTimeout);

        // The first keeps running and answers, its partition manager included. Its own view hears of the
        // removal by gossip, a moment after the node whose tail said so.
        await AwaitAssertAsync(async () =>
        {
            var members = await ProcessCluster.MembersAsync(first.Ops);
            Assert.DoesNotContain(second.Address, members.Keys);
            Assert.Equal(2, members.Count);
        }, RefusalTimeout, TimeSpan.FromMilliseconds(200));
        Assert.False(first.Process.Exited.IsCompleted);
        var (exitCode, output, error) = await ProcessCluster.CtlAsync(first.Ops, "lpar", "create", "db", "--vcpus", "1", "--memory-mb", "16");
        Assert.True(exitCode == 0, $"lpar create failed ({exitCode}): {output} {error}");
    }
}
