using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Vios.Actors.Checkpoint;
using Vios.Actors.Storage;

namespace Vios.Actors.Partitions;

/// <summary>
/// One partition on its node (a child of the firmware, named after the partition): a thin shell
/// over <see cref="Lpar"/> that runs its workload on a timer and reports state changes upwards.
/// </summary>
public sealed partial class LparActor : ReceiveActor, IWithTimers
{
    private readonly Lpar _lpar;
    private readonly string _node;
    private readonly PartitionSettings _settings;
    private readonly Stopwatch _clock = new();
    private readonly IActorRef _checkpoint;
    private readonly ActorSelection _heartbeatMaster;
    private bool _agentSilenced;
    // Whether this node's master is watching the partition (it has had a heartbeat and no GuestGone since).
    private bool _watched;

    private readonly IActorRef _manager;
    private readonly PauseDetector _pause;
    private readonly Stopwatch _monotonic = Stopwatch.StartNew();
    // Set while the coordinator checks the fence: the guest makes no progress and produces no output.
    private bool _ownershipHold;
    // The hold quiesced a running guest (shown as quiesced while it waits), to resume once confirmed.
    private bool _heldQuiesced;

    public LparActor(LparDefinition definition, string node, PartitionSettings settings, IActorRef? manager = null)
    {
        _manager = manager ?? ActorRefs.Nobody;
        _lpar = new Lpar(definition, settings.Vmm, settings.DiskDirectory is null ? null : settings.DiskPath(definition.Name), settings.DiskBlocks, node);
        _node = node;
        _settings = settings;
        _heartbeatMaster = Context.ActorSelection($"/user/{Availability.HeartbeatActor.Name}");
        _checkpoint = Context.ActorOf(CheckpointCoordinatorActor.Props(definition.Name, node, settings.Checkpoint,
            definition.MemoryMb * 1024 * 1024 / Memory.GuestMemory.PageSize, OwnerClaim.For(definition)), "checkpoint");
        _pause = new PauseDetector(settings.Ownership.PauseThreshold);

        // One owner per partition: a freeze of this process (seen by the node's pause watch or by the
        // workload's own tick), or a write the fence refused, holds the guest until the coordinator
        // has read the fence; a newer owner there ends this copy.
        Receive<CheckOwnership>(check => Hold(check));
        Receive<OwnershipConfirmed>(_ =>
        {
            if (!_ownershipHold) return;
            _ownershipHold = false;
            _clock.Restart();
            if (!_heldQuiesced) return;
            _heldQuiesced = false;
            _lpar.Resume();
            UpdateAgent();
            Context.Parent.Tell(StateChanged());
        });
        Receive<OwnershipLost>(lost =>
        {
            var held = _lpar.OutputsHeld;
            _lpar.LoseOwnership(lost.Reason);
            Timers.Cancel("workload");
            UpdateAgent();
            Context.GetLogger().Error("{0}: stopped on {1}: owner epoch {2} is stale, the fence is at {3}; {4} held output(s) dropped, none released",
                _lpar.Definition.Name, _node, lost.Epoch, lost.Fence, held);
            // The state goes up with the stale epoch, which the manager ignores; then this copy is gone,
            // so the firmware hosts the partition afresh if it is ever placed here again.
            Context.Parent.Tell(StateChanged());
            Context.Parent.Tell(lost);
            Context.Stop(Self);
        });

        Receive<StartLpar>(_ =>
        {
            var refusal = _lpar.Start();
            // The partition as first activated is its boot image, stored once under its own persistence id.
            if (refusal is null) _checkpoint.Tell(WriteBootImage.Instance);
            Reply(refusal);
        });
        Receive<StopLpar>(_ => Reply(_lpar.Stop()));
        Receive<SilenceGuestAgent>(silence =>
        {
            _agentSilenced = silence.Silent;
            UpdateAgent();
            Sender.Tell(new GuestAgentState(_lpar.Definition.Name, _node, _agentSilenced));
        });
        Receive<AgentTick>(_ =>
        {
            if (!Timers.IsTimerActive("agent")) return;
            _watched = true;
            _heartbeatMaster.Tell(new Availability.GuestAlive(_lpar.Definition.Name));
        });
        Receive<ShowLpar>(_ => Sender.Tell(_lpar.Status(_node)));
        Receive<RunWorkload>(workload =>
        {
            var refusal = _lpar.SetWorkload(workload);
            if (refusal is null) StartWorkloadTimer();
            Reply(refusal);
        });
        Receive<CaptureEpoch>(capture => capture.Deferred, capture =>
        {
            var (_, refusal) = _lpar.StunDeferred(capture.Epoch);
            // The pages are copied in the next message: workload ticks already queued run first.
            if (refusal is null) Self.Tell(new FinishCapture(capture.Epoch), Sender);
            else Sender.Tell(new EpochCaptureResult(null, refusal, ForBoot: false));
        });
        Receive<FinishCapture>(_ => Sender.Tell(new EpochCaptureResult(_lpar.FinishDeferredCapture(), null, ForBoot: false)));
        Receive<CaptureEpoch>(capture =>
        {
            var (epoch, refusal) = _lpar.Capture(capture.Epoch, capture.Full, capture.Checksum);
            Sender.Tell(new EpochCaptureResult(epoch, refusal, capture.ForBoot));
        });
        Receive<CommitEpoch>(commit => _lpar.Commit(commit.Epoch));
        Receive<AllocatePrimaryCpu>(allocate =>
        {
            if (_lpar.AllocateCpu(allocate.Share) is { } refusal) Context.GetLogger().Warning("{0}: {1}", _lpar.Definition.Name, refusal);
        });
        Receive<BeginCow>(begin =>
        {
            if (_lpar.PrepareCow(begin.Epoch) is { } refusal) Sender.Tell(new EpochCaptureResult(null, refusal, ForBoot: false));
            // The stun is the next message: workload ticks already queued run first, with the layer in place.
            else Self.Tell(new StunCow(begin.Epoch), Sender);
        });
        Receive<StunCow>(stun =>
        {
            var (time, refusal) = _lpar.StunCow(stun.Epoch);
            Sender.Tell(refusal is null ? new CowStunned(stun.Epoch, time) : new EpochCaptureResult(null, refusal, ForBoot: false));
        });
        Receive<SaveCowBatch>(batch => Sender.Tell(new CowProgress(batch.Epoch, _lpar.SaveCowPages(batch.MaxPages), _lpar.CowSavedBeforeGuestWrite)));
        Receive<CompleteCow>(complete => Sender.Tell(new EpochCaptureResult(_lpar.CompleteCow(complete.Epoch, complete.Stun), null, ForBoot: false)));
        Receive<CommitCowLayer>(commit =>
        {
            if (_lpar.Disk is null) return;
            var refusal = _lpar.CommitCowLayer(CowRetainedDiskPath(commit.Epoch));
            if (refusal is not null) Context.GetLogger().Warning("{0}: {1}", _lpar.Definition.Name, refusal);
        });
        Receive<PreCopyPages>(preCopy =>
        {
            var (frames, pages) = _lpar.PreCopy(preCopy.Pick);
            Sender.Tell(new PreCopied(preCopy.Epoch, frames, pages));
        });
        Receive<ReplicateCheckpoints>(replicate => _checkpoint.Forward(replicate));
        Receive<HoldOutputs>(hold =>
        {
            if (hold.Hold) _lpar.HoldOutputs = true;
            else _lpar.ReleaseAllOutputs();
        });
        Receive<InstallImage>(install =>
        {
            var refusal = _lpar.Restore(install.Image);
            if (refusal is not null)
            {
                install.Image.Memory.Dispose();
                install.ReplyTo.Tell(new LparRefused(_lpar.Definition.Name, $"cannot restore '{_lpar.Definition.Name}': {refusal}"));
                return;
            }
            Context.Parent.Tell(StateChanged());
            StartWorkloadTimer();
            UpdateAgent();
            var checksum = _lpar.MemoryChecksum();
            install.ReplyTo.Tell(new CheckpointRestored(_lpar.Definition.Name, install.Source, _node, install.Image.Epoch, install.Image.Epochs,
                checksum, install.Image.MemoryChecksumAtStun is { } atStun ? atStun == checksum : null));
        });
        Receive<TakeCheckpoint>(take => _checkpoint.Forward(take));
        Receive<ListCheckpoints>(list => _checkpoint.Forward(list));
        Receive<RestoreCheckpoint>(restore =>
        {
            if (_lpar.State is LparState.Activating or LparState.Running or LparState.Quiesced)
                Sender.Tell(new LparRefused(restore.Name, $"'{restore.Name}' is {_lpar.State.ToString().ToLowerInvariant()}: stop it before restoring an image into it"));
            else
                _checkpoint.Forward(restore);
        });
        Receive<GetCheckpointStats>(_ => _checkpoint.Forward(new StatsQuery(false, _lpar.OutputsHeld, _lpar.OutputsReleased)));
        Receive<StopCheckpointing>(_ =>
        {
            _lpar.ReleaseAllOutputs();
            _checkpoint.Forward(new StatsQuery(true, _lpar.OutputsHeld, _lpar.OutputsReleased));
        });
        ReceiveWparCommands();
        Receive<Tick>(_ =>
        {
            if (_pause.Tick(_monotonic.Elapsed) is { } gap) Hold(new CheckOwnership($"this process was frozen for {gap.TotalSeconds:0.0} s") { AfterFreeze = true });
            if (_ownershipHold) return;
            _lpar.Advance(_clock.Elapsed);
            _clock.Restart();
            if (!_lpar.HasWorkload) Timers.Cancel("workload");
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="manager">The partition manager (its proxy), for commands this partition sends to others (<c>wpar migrate</c>).</param>
    public static Props Props(LparDefinition definition, string node, PartitionSettings settings, IActorRef? manager = null) =>
        Akka.Actor.Props.Create(() => new LparActor(definition, node, settings, manager));

    protected override void PostStop()
    {
        if (_watched) _heartbeatMaster.Tell(new Availability.GuestGone(_lpar.Definition.Name));
        _lpar.Dispose();
    }

    /// <summary>
    /// S16: the guest agent heartbeats to its node's master while the partition runs and is not
    /// silenced; a partition that stops on purpose tells the master to stop watching it.
    /// </summary>
    private void UpdateAgent()
    {
        var running = _lpar.State is LparState.Activating or LparState.Running or LparState.Quiesced;
        if (running && !_agentSilenced)
        {
            if (Timers.IsTimerActive("agent")) return;
            Timers.StartPeriodicTimer("agent", AgentTick.Instance, TimeSpan.Zero, _settings.GuestHeartbeat);
            return;
        }
        Timers.Cancel("agent");
        // A silenced agent just stops; a partition that stopped is no longer watched.
        if (running || !_watched) return;
        _watched = false;
        _heartbeatMaster.Tell(new Availability.GuestGone(_lpar.Definition.Name));
    }

    private string CowRetainedDiskPath(long epoch) => $"{_settings.DiskPath(_lpar.Definition.Name)}.epoch-{epoch}";

    private void StartWorkloadTimer()
    {
        if (!_lpar.HasWorkload || Timers.IsTimerActive("workload")) return;
        _clock.Restart();
        _pause.Reset();
        Timers.StartPeriodicTimer("workload", Tick.Instance, _settings.WorkloadTick);
    }

    /// <summary>Answers with the refusal or the new status, and tells the firmware when the state changed.</summary>
    private void Reply(string? refusal)
    {
        if (refusal is not null)
        {
            Sender.Tell(new LparRefused(_lpar.Definition.Name, refusal));
            return;
        }
        if (!_lpar.HasWorkload) Timers.Cancel("workload");
        UpdateAgent();
        Context.Parent.Tell(StateChanged());
        Sender.Tell(_lpar.Status(_node));
    }

    /// <summary>The state, with this copy's ownership epoch: the manager ignores a copy that lost the partition.</summary>
    private LparStateChanged StateChanged() => new(_lpar.Definition.Name, _lpar.State) { OwnerEpoch = _lpar.Definition.OwnerEpoch };

    private void Hold(CheckOwnership check)
    {
        if (_ownershipHold) return;
        _ownershipHold = true;
        // Held, it does not run: every view shows it quiesced, not running beside a copy elsewhere.
        _heldQuiesced = _lpar.State == LparState.Running && _lpar.Quiesce() is null;
        if (_heldQuiesced) Context.Parent.Tell(StateChanged());
        _checkpoint.Tell(check);
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private sealed record AgentTick
    {
        public static AgentTick Instance { get; } = new();
    }
}
