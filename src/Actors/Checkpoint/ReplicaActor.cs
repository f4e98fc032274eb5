using Akka.Actor;
using Akka.Event;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// The backup side of a replicated partition (S23), a child of the backup node's firmware: applies
/// each epoch's pages to its copy of the memory when the epoch's commit arrives and acknowledges with
/// its feedback. The primary commits the epoch only on that acknowledgement.
/// </summary>
public sealed class ReplicaActor : ReceiveActor
{
    private readonly ReplicaState _state;
    private readonly string _lpar;
    private readonly string _node;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _verified;
    private long _mismatches;
    // The primary's checksum of the last applied epoch, when the pair is verified.
    private ulong? _primaryChecksum;

    public ReplicaActor(string lpar, string node, long pageCount)
    {
        _lpar = lpar;
        _node = node;
        _state = new ReplicaState(pageCount);

        Receive<ReplicaPart>(part => _state.Stage(part.Epoch, part.Part, part.Payload));
        Receive<ReplicaCommit>(commit =>
        {
            try
            {
                var (added, dropped) = _state.Commit(commit.Epoch, commit.Parts, commit.VcpuState);
                bool? verified = null;
                _primaryChecksum = commit.MemoryChecksum;
                if (commit.MemoryChecksum is { } expected)
                {
                    verified = _state.Checksum() == expected;
                    if (verified == true) _verified++;
                    else _mismatches++;
                }
                Sender.Tell(new ReplicaAck(_lpar, commit.Epoch, added, dropped, verified));
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                _log.Warning("replica of {0}: epoch {1} not applied: {2}", _lpar, commit.Epoch, e.Message);
                Sender.Tell(new ReplicaFailed(_lpar, commit.Epoch, e.Message));
            }
        });
        Receive<GetReplicaStatus>(_ =>
            Sender.Tell(new ReplicaStatus(_lpar, _node, _state.AppliedEpoch, _state.Checksum(), _verified, _mismatches)));
        Receive<StopReplica>(_ => Context.Stop(Self));
        Receive<PromoteInto>(promote =>
        {
            try
            {
                var image = _state.Surrender(_primaryChecksum);
                _log.Info("replica of {0}: promoted at epoch {1}", _lpar, image.Epoch);
                promote.Lpar.Tell(new InstallImage(image, $"the replica on {_node} (epoch {image.Epoch})", promote.ReplyTo));
            }
            catch (InvalidOperationException e)
            {
                promote.ReplyTo.Tell(new Partitions.LparRefused(_lpar, $"cannot promote the replica of '{_lpar}' on {_node}: {e.Message}"));
            }
            Context.Stop(Self);
        });
    }

    /// <summary>The memory copy as of the last applied epoch (for promotion and tests).</summary>
    public ReplicaState State => _state;

    public static Props Props(string lpar, string node, long pageCount) => Akka.Actor.Props.Create(() => new ReplicaActor(lpar, node, pageCount));

    protected override void PostStop() => _state.Dispose();
}
