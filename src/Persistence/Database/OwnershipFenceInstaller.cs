using Akka.Actor;
using Akka.Persistence;
using Vios.Actors.Partitions;

namespace Vios.Persistence.Database;

/// <summary>
/// Puts the ownership fence in place when a vios node starts, before it hosts any partition: waits
/// until the cluster-wide journal has created its tables (Akka.Persistence.Sql's auto-initialize
/// runs when the journal actor starts and holds every request until it is done, so a replay
/// answered means the <c>tags</c> table exists), then installs the fence table and trigger and
/// makes it this ActorSystem's <see cref="OwnershipFences"/>.
/// </summary>
public static class OwnershipFenceInstaller
{
    /// <summary>A persistence id that is never written: replaying it only proves the journal is initialized.</summary>
    public const string ProbePersistenceId = "vios-fence-install";

    public static async Task<SqlOwnershipFence> InstallAsync(ActorSystem system, DatabaseSettings cluster, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        var journal = Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(PartitionManagerActor.ClusterJournalPluginId);
        var answer = await journal.Ask<object>(replyTo => new ReplayMessages(0, 0, 0, ProbePersistenceId, replyTo), timeout, cancellationToken);
        if (answer is ReplayMessagesFailure failure)
            throw new DatabaseUnavailableException($"the cluster-wide journal cannot be read ({cluster.Describe()}): {failure.Cause.Message}", failure.Cause);
        var fence = new SqlOwnershipFence(cluster);
        try
        {
            await fence.InstallAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException)
        {
            throw new DatabaseUnavailableException($"cannot install the ownership fence in {cluster.Describe()}: {e.Message}", e);
        }
        OwnershipFences.Get(system).Use(fence);
        return fence;
    }
}
