using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Pattern;

namespace Vios.Actors.Partitions;

/// <summary>How both managers run as cluster singletons: fenced, supervised, and handed over.</summary>
public static class FencedSingleton
{
    /// <summary>The message the singleton manager sends to hand over: finish what is being persisted, then stop.</summary>
    public sealed record HandOver
    {
        public static HandOver Instance { get; } = new();
    }

    /// <summary>
    /// What the cluster singleton manager runs: the singleton behind its fence
    /// (<see cref="FencedSingletonActor"/>, keyed by its persistence id), under a back-off supervisor,
    /// so a manager that stops (its journal failed, or a newer one fenced it out) comes back after a
    /// pause instead of leaving the cluster without one. <see cref="HandOver"/> stops them all, once
    /// what is being persisted is written. The first pause is short (0.2 s): the usual stop is one
    /// write on a connection the database dropped when it restarted, and the next one succeeds; a
    /// database that stays down is asked ever less often, up to every 10 s. Each start advances the
    /// fence first, so a quick one never runs beside another.
    /// </summary>
    public static Props Props(string persistenceId, Func<OwnerClaim, Props> singleton, OwnershipSettings ownership) => BackoffSupervisor.Props(
        Backoff.OnStop(FencedSingletonActor.Props(persistenceId, singleton, ownership), "manager", TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), 0.2,
                maxNrOfRetries: -1)
            .WithFinalStopMessage(message => message is HandOver));
}

/// <summary>
/// A cluster singleton under an ownership fence (issue 12, point 3, for the singletons' journals):
/// before the singleton recovers, this gate advances the fence named <c>fenceKey</c> in the control
/// plane's database one above where it stands and gives the singleton that epoch as its
/// <see cref="OwnerClaim"/>; the singleton tags every event with it (<see cref="FencedPersistentActor"/>),
/// and the database refuses a write whose epoch the fence has gone past. So an earlier incarnation
/// that runs on after its node was frozen (SIGSTOP, a long GC pause) while the singleton moved can
/// no longer write the journal its successor recovered from: its write fails, and it stops.
/// Messages that arrive before the fence answers wait here; afterwards they go to the singleton,
/// sender kept. The gate stops with its singleton, so the back-off supervisor above restarts both,
/// and the restart advances the fence again (above whoever wrote last, whose events it then reads).
/// After a freeze of this process the gate reads the fence at once and stops a singleton that was
/// superseded meanwhile, without waiting for its next write; and it does not advance while the node
/// settles after a freeze (<see cref="OwnershipSettings.SettleAfterFreeze"/>): a node that was
/// frozen long enough to lose the singleton is downed and gone by then, instead of taking the
/// singleton back from its successor.
/// </summary>
public sealed class FencedSingletonActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private const string RetryTimer = "advance-again";

    private readonly string _fenceKey;
    private readonly Func<OwnerClaim, Props> _singleton;
    private readonly OwnershipSettings _settings;
    private readonly IOwnershipFence _fence;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public FencedSingletonActor(string fenceKey, Func<OwnerClaim, Props> singleton, OwnershipSettings settings)
    {
        _fenceKey = fenceKey;
        _singleton = singleton;
        _settings = settings;
        _fence = OwnershipFences.Get(Context.System).ControlFence;
        Advancing();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// The singleton <paramref name="singleton"/> makes from its claim, behind this gate. Name the
    /// singleton's own persistence id as <paramref name="fenceKey"/>: one fence per journal stream.
    /// </summary>
    public static Props Props(string fenceKey, Func<OwnerClaim, Props> singleton, OwnershipSettings settings) =>
        Akka.Actor.Props.Create(() => new FencedSingletonActor(fenceKey, singleton, settings));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(PauseWatchActor.ProcessFroze));
        Advance();
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void Advancing()
    {
        Receive<Advanced>(advanced =>
        {
            var claim = new OwnerClaim(_fenceKey, advanced.Epoch);
            _log.Info("{0}: this incarnation owns the fence at epoch {1} ({2})", _fenceKey, advanced.Epoch, _fence.Describe);
            var singleton = Context.ActorOf(_singleton(claim), $"epoch-{advanced.Epoch}");
            Context.Watch(singleton);
            Become(() => Running(singleton, claim));
            Stash.UnstashAll();
        });
        Receive<AdvanceFailed>(failed =>
        {
            _log.Warning("{0}: the fence could not be advanced, the singleton waits and tries again in {1:0.0} s: {2}",
                _fenceKey, _settings.FenceRetry.TotalSeconds, failed.Cause.Message);
            Timers.StartSingleTimer(RetryTimer, AdvanceAgain.Instance, _settings.FenceRetry);
        });
        Receive<AdvanceAgain>(_ => Advance());
        Receive<PauseWatchActor.ProcessFroze>(_ => { });
        // Handed over before it began: nothing was recovered, nothing to finish.
        Receive<FencedSingleton.HandOver>(_ => Context.Stop(Self));
        ReceiveAny(_ => Stash.Stash());
    }

    private void Running(IActorRef singleton, OwnerClaim claim)
    {
        Receive<Terminated>(t => t.ActorRef.Equals(singleton), _ => Context.Stop(Self));
        Receive<PauseWatchActor.ProcessFroze>(froze =>
        {
            var fence = _fence;
            Task.Run(() => fence.ReadAsync(claim.FenceKey)).WaitAsync(_settings.FenceTimeout)
                .PipeTo(Self, success: at => new FenceRead(at, froze.Gap), failure: e => new FenceRead(null, froze.Gap) { Error = e });
        });
        Receive<FenceRead>(read =>
        {
            if (read.Error is not null)
                _log.Warning("{0}: after a freeze of {1:0.0} s the fence could not be read ({2}); the database refuses this incarnation's writes if it was superseded",
                    claim.FenceKey, read.Gap.TotalSeconds, read.Error.Message);
            else if (Ownership.Judge(claim.Epoch, read.Epoch) == OwnershipVerdict.Lost)
            {
                _log.Warning("{0}: superseded while this process was frozen for {1:0.0} s (this incarnation has epoch {2}, the fence is at {3}): it stops",
                    claim.FenceKey, read.Gap.TotalSeconds, claim.Epoch, read.Epoch);
                Context.Stop(singleton);
            }
        });
        ReceiveAny(message => singleton.Forward(message));
    }

    private void Advance()
    {
        if (OwnershipFences.Get(Context.System).SinceLastFreeze is { } since && since < _settings.SettleAfterFreeze)
        {
            var wait = _settings.SettleAfterFreeze - since;
            _log.Info("{0}: this process was frozen {1:0.0} s ago; the singleton starts once the node has settled, in {2:0.0} s",
                _fenceKey, since.TotalSeconds, wait.TotalSeconds);
            Timers.StartSingleTimer(RetryTimer, AdvanceAgain.Instance, wait);
            return;
        }
        var fence = _fence;
        var key = _fenceKey;
        // Off this actor's thread: Microsoft.Data.Sqlite's async calls run synchronously, and a fence
        // row behind another process's write lock would hold a dispatcher thread.
        Task.Run(() => fence.AdvanceAsync(key)).WaitAsync(_settings.FenceTimeout)
            .PipeTo(Self, success: epoch => new Advanced(epoch), failure: e => new AdvanceFailed(e));
    }

    private sealed record Advanced(long Epoch);

    private sealed record AdvanceFailed(Exception Cause);

    private sealed record FenceRead(long? Epoch, TimeSpan Gap)
    {
        public Exception? Error { get; init; }
    }

    private sealed record AdvanceAgain
    {
        public static AdvanceAgain Instance { get; } = new();
    }
}

/// <summary>
/// A persistent singleton that writes under its <see cref="OwnerClaim"/> (given by
/// <see cref="FencedSingletonActor"/>): every event is persisted <see cref="Tagged"/> with the claim's
/// tag, which the database's fence trigger checks. Handlers get the event itself. Without a claim (a
/// spec's actor with no gate) events are persisted untagged.
/// </summary>
public abstract class FencedPersistentActor(OwnerClaim? claim) : ReceivePersistentActor
{
    /// <summary>The epoch this incarnation writes under; null when it runs without a fence.</summary>
    protected OwnerClaim? Claim { get; } = claim;

    protected void PersistFenced<TEvent>(TEvent @event, Action<TEvent> handler) where TEvent : notnull
    {
        if (Claim is null) Persist(@event, handler);
        else Persist(new Tagged(@event, [Claim.Tag]), tagged => handler((TEvent)tagged.Payload));
    }

    protected void PersistAllFenced<TEvent>(IReadOnlyList<TEvent> events, Action<TEvent> handler) where TEvent : notnull
    {
        if (Claim is null) PersistAll(events, handler);
        else PersistAll(events.Select(e => new Tagged(e, [Claim.Tag])).ToList(), tagged => handler((TEvent)tagged.Payload));
    }

    /// <summary>
    /// Persists the events, each handled once recorded, then runs <paramref name="then"/> after the
    /// last one's handler (at once when there are none). Not DeferAsync: in Akka.NET 1.5 a deferral
    /// beside a PersistAll in the same command is delivered ahead of it, and hands the handlers each
    /// other's events.
    /// </summary>
    protected void PersistAllFencedThen<TEvent>(IReadOnlyList<TEvent> events, Action<TEvent> handler, Action then) where TEvent : class
    {
        if (events.Count == 0)
        {
            then();
            return;
        }
        var last = events[^1];
        PersistAllFenced(events, e =>
        {
            handler(e);
            if (ReferenceEquals(e, last)) then();
        });
    }

    /// <summary>
    /// The answers to <see cref="Eventsourced.SaveSnapshot"/>: once a snapshot is saved, the events it
    /// covers and the older snapshots are deleted, so the journal and a recovery stay short; a failure
    /// is logged and changes nothing (the journal keeps every event until the next snapshot).
    /// </summary>
    protected void TrimAfterSnapshots(ILoggingAdapter log)
    {
        Command<SaveSnapshotSuccess>(success =>
        {
            DeleteMessages(success.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(failure => log.Warning("{0}: snapshot not saved (the journal keeps every event): {1}", PersistenceId, failure.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(failure => log.Warning("{0}: events before the snapshot not deleted: {1}", PersistenceId, failure.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(failure => log.Warning("{0}: older snapshots not deleted: {1}", PersistenceId, failure.Cause.Message));
    }

    /// <summary>The event a write failure names, without its tag.</summary>
    protected static object Payload(object @event) => @event is Tagged tagged ? tagged.Payload : @event;

    /// <summary>
    /// Whether a failed write was refused by the fence: a newer incarnation of this singleton runs
    /// elsewhere (or is starting), and this one must stop without acting on what it did not record.
    /// </summary>
    protected string WhyNotRecorded(Exception cause) => Ownership.IsFenceRefusal(cause)
        ? $"a newer {PersistenceId} owns its journal (the fence refused this one's write under epoch {Claim?.Epoch}); this one stops"
        : cause.Message;
}
