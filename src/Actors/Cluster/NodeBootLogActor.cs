using Akka.Actor;
using Akka.Persistence;

namespace Vios.Actors.Cluster;

/// <summary>
/// Persistent record of this node's starts (persistence id <c>node-&lt;name&gt;</c>). It is the
/// first thing a vios node writes, so a node whose journal does not work fails at start, loudly.
/// </summary>
public sealed class NodeBootLogActor : ReceivePersistentActor
{
    /// <summary>A snapshot every this many boots keeps recovery short on long-lived nodes.</summary>
    private const int SnapshotEvery = 50;

    private NodeBootHistory _history;

    public NodeBootLogActor(string nodeName)
    {
        PersistenceId = PersistenceIdFor(nodeName);
        _history = NodeBootHistory.Empty(nodeName);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is NodeBootHistory snapshot) _history = snapshot;
        });
        Recover<NodeBooted>(booted => _history = _history.Apply(booted));

        Command<RecordBoot>(command =>
        {
            var replyTo = Sender;
            Persist(_history.Decide(command), booted =>
            {
                _history = _history.Apply(booted);
                if (booted.Incarnation % SnapshotEvery == 0) SaveSnapshot(_history);
                replyTo.Tell(new BootRecorded(booted.Incarnation));
            });
        });
        Command<GetBootHistory>(_ => Sender.Tell(_history));
        Command<SaveSnapshotSuccess>(success =>
            DeleteMessages(success.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    public override string PersistenceId { get; }

    public static string PersistenceIdFor(string nodeName) => $"node-{nodeName}";

    public static Props Props(string nodeName) => Akka.Actor.Props.Create(() => new NodeBootLogActor(nodeName));
}
