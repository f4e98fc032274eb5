using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Vios.Actors.Partitions;

namespace Vios.Actors.Kernel;

/// <summary>
/// Keeps a WPAR's last <c>wpar checkpoint</c> image in the cluster-wide journal under
/// <c>wpar-&lt;lpar&gt;-&lt;wpar&gt;</c>, so it outlives the node: a partition restored elsewhere (after an
/// HA failover or <c>checkpoint restore</c>) reads it back there. One event per checkpoint; the
/// events before the latest are deleted once it is written. A child of the LPAR actor, started
/// when a command needs it.
/// </summary>
public sealed class WparImageStoreActor : ReceivePersistentActor
{
    private byte[]? _image;
    private IActorRef? _persisting;

    public WparImageStoreActor(string lpar, string wpar, OwnerClaim? claim)
    {
        PersistenceId = PersistenceIdOf(lpar, wpar);
        JournalPluginId = PersistencePlugins.ClusterJournal;
        SnapshotPluginId = PersistencePlugins.ClusterSnapshots;

        Recover<WparImageStored>(stored => _image = stored.Image);

        Command<StoreWparImage>(store =>
        {
            var replyTo = Sender;
            _persisting = replyTo;
            // The partition's owner claim, checked by the database fence (see CheckpointStoreActor).
            var stored = new WparImageStored(store.Image);
            Persist<object>(claim is null ? (object)stored : new Tagged(stored, new[] { claim.Tag }), _ =>
            {
                _persisting = null;
                _image = stored.Image;
                replyTo.Tell(store.Reply with { SequenceNr = LastSequenceNr });
                if (LastSequenceNr > 1) DeleteMessages(LastSequenceNr - 1);
            });
        });
        Command<LoadWparImage>(load => Sender.Tell(new WparImageLoaded(load.Request, _image, load.ReplyTo)));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    public override string PersistenceId { get; }

    public static string PersistenceIdOf(string lpar, string wpar) => $"wpar-{lpar}-{wpar}";

    public static Props Props(string lpar, string wpar, OwnerClaim? claim = null) => Akka.Actor.Props.Create(() => new WparImageStoreActor(lpar, wpar, claim));

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // The asker hears now that nothing was kept, rather than a timeout.
        _persisting?.Tell(new LparRefused("", $"the cluster-wide journal did not keep the WPAR image: {cause.Message}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }
}

/// <summary>Keep this image as the WPAR's latest; answer <paramref name="Reply"/> (with its sequence number) once it is written.</summary>
internal sealed record StoreWparImage(byte[] Image, WparCheckpointed Reply);

/// <summary>Asks the store for the latest image of the WPAR of <paramref name="Request"/>, to restart it for <paramref name="ReplyTo"/>.</summary>
internal sealed record LoadWparImage(RestartWpar Request, IActorRef ReplyTo);

/// <summary>The store's latest image (null when the WPAR was never checkpointed), with what it was asked for.</summary>
internal sealed record WparImageLoaded(RestartWpar Request, byte[]? Image, IActorRef ReplyTo);
