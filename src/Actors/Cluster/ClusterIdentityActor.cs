using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Vios.Actors.Partitions;

namespace Vios.Actors.Cluster;

/// <summary>
/// The cluster-wide journal's identity (persistence id <c>cluster-identity</c>, in the cluster-wide
/// journal): recovers it, or creates it on the first load. Two nodes racing on one empty journal
/// both try to write sequence number 1; the journal's unique key refuses the second, whose actor
/// then stops, and <see cref="ClusterIdentityLoader.LoadAsync"/> starts a fresh one that recovers the winner's identity.
/// One event, ever: there is nothing to snapshot.
/// </summary>
public sealed class ClusterIdentityActor : ReceivePersistentActor
{
    public const string PersistenceIdValue = "cluster-identity";

    /// <summary>Loads after a lost race: the second recovers the winner's identity; more only if the journal keeps failing.</summary>
    public const int LoadAttempts = 3;

    private readonly ClusterIdentityRecord _record = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ClusterIdentityActor()
    {
        JournalPluginId = PersistencePlugins.ClusterJournal;
        SnapshotPluginId = PersistencePlugins.ClusterSnapshots;

        Recover<ClusterIdentityCreated>(_record.Apply);
        Command<GetClusterIdentity>(_ => Sender.Tell(new CurrentClusterIdentity(_record.Identity)));
        Command<LoadClusterIdentity>(load =>
        {
            if (_record.Decide(load, DateTimeOffset.UtcNow) is not { } created)
            {
                Sender.Tell(new ClusterIdentityLoaded(_record.Identity!));
                return;
            }
            var replyTo = Sender;
            Persist(created, e =>
            {
                _record.Apply(e);
                _log.Info("created the cluster-wide journal's identity: {0}", e.Identity.Describe());
                replyTo.Tell(new ClusterIdentityLoaded(_record.Identity!));
            });
        });
    }

    public override string PersistenceId => PersistenceIdValue;

    public static Props Props() => Akka.Actor.Props.Create(() => new ClusterIdentityActor());

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Warning("the cluster identity was not written ({0}); reading the one another node wrote", cause.Message);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Warning("the cluster identity write was rejected ({0}); reading the one another node wrote", cause.Message);
        // A rejected write leaves the actor running; stop it so the loader starts a fresh one that recovers.
        Context.Stop(Self);
    }
}

/// <summary>Loads the cluster-wide journal's identity at a node's start, through <see cref="ClusterIdentityActor"/>.</summary>
public static class ClusterIdentityLoader
{
    /// <summary>
    /// Loads (or creates) the identity through a short-lived actor, again with a fresh one if the
    /// write lost a race (the actor stops on the journal's refusal). Throws
    /// <see cref="TimeoutException"/> or <see cref="InvalidOperationException"/> if the journal
    /// does not answer.
    /// </summary>
    public static async Task<ClusterIdentity> LoadAsync(ActorSystem system, string node, TimeSpan timeout)
    {
        for (var attempt = 1; ; attempt++)
        {
            var actor = system.ActorOf(ClusterIdentityActor.Props(), $"cluster-identity-load-{attempt}-{Guid.NewGuid():N}"[..40]);
            try
            {
                var loaded = await system.AskWhileAliveAsync<ClusterIdentityLoaded>(actor, new LoadClusterIdentity(node), timeout);
                return loaded.Identity;
            }
            catch (InvalidOperationException) when (attempt < ClusterIdentityActor.LoadAttempts)
            {
                // Its write was refused (another node created the identity first): recover theirs.
            }
            finally
            {
                system.Stop(actor);
            }
        }
    }
}
