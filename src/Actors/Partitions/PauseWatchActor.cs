using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Vios.Actors.Checkpoint;

namespace Vios.Actors.Partitions;

/// <summary>
/// The node's pause watch (<c>/user/pause-watch</c>): ticks every <see cref="OwnershipSettings.PauseTick"/>
/// and feeds a <see cref="PauseDetector"/> with the monotonic clock. A gap means this process was
/// frozen long enough to have been failed over: every partition of the firmware holds and checks
/// its ownership fence (<see cref="CheckOwnership"/>), and stops if a newer owner raised it.
/// </summary>
public sealed class PauseWatchActor : ReceiveActor, IWithTimers
{
    public const string Name = "pause-watch";
    private const string TickTimer = "pause-tick";

    private readonly PauseDetector _detector;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public PauseWatchActor(OwnershipSettings settings, IActorRef firmware)
    {
        _detector = new PauseDetector(settings.PauseThreshold);
        var log = Context.GetLogger();
        Receive<Tick>(_ =>
        {
            if (_detector.Tick(_clock.Elapsed) is not { } gap) return;
            log.Warning("this process was frozen for {0:0.0} s (more than {1:0.0} s): every partition holds until its ownership fence is checked",
                gap.TotalSeconds, settings.PauseThreshold.TotalSeconds);
            firmware.Tell(new CheckOwnership($"this process was frozen for {gap.TotalSeconds:0.0} s") { AfterFreeze = true });
            // The singletons' gates check their fences too, and hold back a restart while the node settles.
            OwnershipFences.Get(Context.System).NoteFreeze();
            Context.System.EventStream.Publish(new ProcessFroze(gap));
            var cluster = Akka.Cluster.Cluster.Get(Context.System);
            if (!FreezeResponse.DownsItself(gap, settings.DownSelfAfterFreeze, Availability.MemberView.Of(cluster), cluster.SelfAddress.ToString())) return;
            log.Error("this process was frozen for {0:0.0} s, long enough for the cluster to fail it over: it downs itself, so that no decision "
                + "is taken from its stale view (every peer looks unreachable from here); its partitions stop, and it exits to be started again",
                gap.TotalSeconds);
            cluster.Down(cluster.SelfAddress);
        });
        _tick = settings.PauseTick;
    }

    private readonly TimeSpan _tick;

    protected override void PreStart() => Timers.StartPeriodicTimer(TickTimer, Tick.Instance, _tick);

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(OwnershipSettings settings, IActorRef firmware) =>
        Akka.Actor.Props.Create(() => new PauseWatchActor(settings, firmware));

    /// <summary>Published on the event stream when the watch finds this process was frozen for <paramref name="Gap"/>.</summary>
    public sealed record ProcessFroze(TimeSpan Gap);

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }
}
