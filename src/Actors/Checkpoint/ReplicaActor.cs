using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Vios.Actors.Partitions;

namespace Vios.Actors.Checkpoint;

/// <summary>
/// The backup side of a replicated partition (S23), a child of the backup node's firmware: applies
/// each epoch's pages to its copy of the memory when the epoch's commit arrives and acknowledges with
/// its feedback. The primary commits the epoch only on that acknowledgement. A replica slowed with
/// <see cref="SlowReplica"/> holds each acknowledgement as long as its apply is made to cost
/// (<see cref="ReplicaSlowdown{TReply}"/>; released by a timer, so to the scheduler's resolution),
/// so it answers as a slower secondary would; its memory
/// copy, and the applied epoch <see cref="GetReplicaStatus"/> reports, may then be ahead of what the
/// primary has seen acknowledged.
/// </summary>
public sealed class ReplicaActor : ReceiveActor, IWithTimers
{
    private const string ReleaseTimer = "release";

    private readonly ReplicaState _state;
    private readonly string _lpar;
    private readonly string _node;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ReplicaSlowdown<(IActorRef To, object Reply)> _slowdown = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
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
            var pagesBefore = _state.PagesApplied;
            object reply;
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
                reply = new ReplicaAck(_lpar, commit.Epoch, added, dropped, verified);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                _log.Warning("replica of {0}: epoch {1} not applied: {2}", _lpar, commit.Epoch, e.Message);
                reply = new ReplicaFailed(_lpar, commit.Epoch, e.Message);
            }
            Reply(Sender, reply, (int)(_state.PagesApplied - pagesBefore));
        });
        Receive<SlowReplica>(slow =>
        {
            if (_slowdown.Slow(slow.PerPage) is { } refusal)
            {
                Sender.Tell(new LparRefused(_lpar, refusal));
                return;
            }
            ReleaseDue();
            Sender.Tell(new ReplicaSlowed(_lpar, _node, _slowdown.PerPage));
        });
        Receive<ReleaseReplies>(_ => ReleaseDue());
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

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string lpar, string node, long pageCount) => Akka.Actor.Props.Create(() => new ReplicaActor(lpar, node, pageCount));

    protected override void PostStop() => _state.Dispose();

    /// <summary>Answers a commit now, or, on a slowed replica, once its apply would have finished.</summary>
    private void Reply(IActorRef to, object reply, int pages)
    {
        if (_slowdown.Hold(_clock.Elapsed, pages, (to, reply))) ReleaseDue();
        else to.Tell(reply);
    }

    private void ReleaseDue()
    {
        var now = _clock.Elapsed;
        foreach (var (to, reply) in _slowdown.Release(now)) to.Tell(reply);
        if (_slowdown.NextDue is { } due) Timers.StartSingleTimer(ReleaseTimer, ReleaseReplies.Instance, due > now ? due - now : TimeSpan.Zero);
        else Timers.Cancel(ReleaseTimer);
    }

    private sealed record ReleaseReplies
    {
        public static ReleaseReplies Instance { get; } = new();
    }
}
