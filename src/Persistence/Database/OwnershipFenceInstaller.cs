using Akka.Actor;
using Akka.Persistence;
using Vios.Actors;
using Vios.Actors.Partitions;

namespace Vios.Persistence.Database;

/// <summary>
/// Puts the ownership fences in place when a vios node starts, before it hosts any partition or
/// singleton: waits until a journal has created its tables (Akka.Persistence.Sql's auto-initialize
/// runs when the journal actor starts and holds every request until it is done, so a replay
/// answered means the <c>tags</c> table exists), then installs the fence table and trigger in its
/// database. The partitions' fence is in the cluster-wide journal's database, the singletons' in the
/// control plane's (on SQLite another file, which the first file's trigger cannot see; on PostgreSQL
/// the same database, so the same table and trigger). Both become this ActorSystem's
/// <see cref="OwnershipFences"/>.
/// </summary>
public static class OwnershipFenceInstaller
{
    /// <summary>A persistence id that is never written: replaying it only proves the journal is initialized.</summary>
    public const string ProbePersistenceId = "vios-fence-install";

    public static async Task<(SqlOwnershipFence Partitions, SqlOwnershipFence Control)> InstallAsync(ActorSystem system, DatabaseSettings cluster,
        DatabaseSettings control, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var partitions = await InstallAsync(system, PersistencePlugins.ClusterJournal, "cluster-wide", cluster, timeout, cancellationToken);
        var singletons = control == cluster
            ? partitions
            : await InstallAsync(system, PersistencePlugins.ControlJournal, "control plane's", control, timeout, cancellationToken);
        var fences = OwnershipFences.Get(system);
        fences.Use(partitions);
        fences.UseForControl(singletons);
        return (partitions, singletons);
    }

    private static async Task<SqlOwnershipFence> InstallAsync(ActorSystem system, string journalPluginId, string which, DatabaseSettings database,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var journal = Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(journalPluginId);
        var answer = await journal.Ask<object>(replyTo => new ReplayMessages(0, 0, 0, ProbePersistenceId, replyTo), timeout, cancellationToken);
        if (answer is ReplayMessagesFailure failure)
            throw new DatabaseUnavailableException($"the {which} journal cannot be read ({database.Describe()}): {failure.Cause.Message}", failure.Cause);
        var fence = new SqlOwnershipFence(database);
        try
        {
            await fence.InstallAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException)
        {
            throw new DatabaseUnavailableException($"cannot install the ownership fence in {database.Describe()}: {e.Message}", e);
        }
        return fence;
    }
}
