using System.Diagnostics;
using Akka.Actor;

namespace Vios.Actors.Partitions;

/// <summary>
/// One partition on its node (a child of the firmware, named after the partition): a thin shell
/// over <see cref="Lpar"/> that runs its workload on a timer and reports state changes upwards.
/// </summary>
public sealed class LparActor : ReceiveActor, IWithTimers
{
    private readonly Lpar _lpar;
    private readonly string _node;
    private readonly PartitionSettings _settings;
    private readonly Stopwatch _clock = new();

    public LparActor(LparDefinition definition, string node, PartitionSettings settings)
    {
        _lpar = new Lpar(definition, settings.Vmm);
        _node = node;
        _settings = settings;

        Receive<StartLpar>(_ => Reply(_lpar.Start()));
        Receive<StopLpar>(_ => Reply(_lpar.Stop()));
        Receive<ShowLpar>(_ => Sender.Tell(_lpar.Status(_node)));
        Receive<RunWorkload>(workload =>
        {
            var refusal = _lpar.SetWorkload(workload);
            if (refusal is null && _lpar.HasWorkload && !Timers.IsTimerActive("workload"))
            {
                _clock.Restart();
                Timers.StartPeriodicTimer("workload", Tick.Instance, _settings.WorkloadTick);
            }
            Reply(refusal);
        });
        Receive<Tick>(_ =>
        {
            _lpar.Advance(_clock.Elapsed);
            _clock.Restart();
            if (!_lpar.HasWorkload) Timers.Cancel("workload");
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(LparDefinition definition, string node, PartitionSettings settings) =>
        Akka.Actor.Props.Create(() => new LparActor(definition, node, settings));

    protected override void PostStop() => _lpar.Dispose();

    /// <summary>Answers with the refusal or the new status, and tells the firmware when the state changed.</summary>
    private void Reply(string? refusal)
    {
        if (refusal is not null)
        {
            Sender.Tell(new LparRefused(_lpar.Definition.Name, refusal));
            return;
        }
        if (!_lpar.HasWorkload) Timers.Cancel("workload");
        Context.Parent.Tell(new LparStateChanged(_lpar.Definition.Name, _lpar.State));
        Sender.Tell(_lpar.Status(_node));
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }
}
