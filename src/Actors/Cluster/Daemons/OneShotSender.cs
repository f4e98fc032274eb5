using System.Diagnostics;
using Akka.Actor;
using Vios.Actors.Protocol;

namespace Vios.Actors.Cluster.Daemons;

/// <summary>What a one-shot send came to: the VKE's reply and the time from submit to that reply.</summary>
public sealed record SendOutcome(IViosMessage Reply, TimeSpan RoundTrip);

/// <summary>
/// A short-lived sending daemon: registers with the VKE under a unique id, builds one packet with
/// its node id, submits it, and completes with the VKE's one reply (collected responses, sent, or
/// refused). `vios ctl vke`, the demo and the benchmarks send through it.
/// </summary>
public sealed class OneShotSender : ReceiveActor
{
    public OneShotSender(IActorRef vke, Func<ulong, string, ViosFrame> build, IReadOnlyList<ulong>? destinations, TaskCompletionSource<SendOutcome> outcome)
    {
        var daemonId = $"ctl-{Guid.NewGuid():N}"[..16];
        var clock = new Stopwatch();
        Receive<DaemonRegistered>(registered =>
        {
            byte[] packet;
            try
            {
                packet = FrameCodec.Encode(build(registered.NodeId, daemonId));
            }
            catch (ProtocolException e)
            {
                Finish(outcome, new SendOutcome(new PacketRefused(0, e.Message), TimeSpan.Zero));
                return;
            }
            clock.Start();
            VkeSystemCalls.Get(Context.System).Submit(packet, destinations, Self);
        });
        Receive<DaemonRefused>(refused => Finish(outcome, new SendOutcome(refused, TimeSpan.Zero)));
        Receive<ResponsesCollected>(reply => Finish(outcome, new SendOutcome(reply, clock.Elapsed)));
        Receive<PacketSent>(reply => Finish(outcome, new SendOutcome(reply, clock.Elapsed)));
        Receive<PacketRefused>(reply => Finish(outcome, new SendOutcome(reply, clock.Elapsed)));
        vke.Tell(new RegisterDaemon(daemonId));
    }

    /// <summary>
    /// Sends the packet <paramref name="build"/> makes from (node id, daemon id). Responses are
    /// bounded by the packet's own timeout; <paramref name="deadline"/> guards against a VKE that never replies.
    /// </summary>
    public static Task<SendOutcome> SendAsync(
        IActorRefFactory factory, IActorRef vke, Func<ulong, string, ViosFrame> build, TimeSpan deadline, IReadOnlyList<ulong>? destinations = null)
    {
        var outcome = new TaskCompletionSource<SendOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = factory.ActorOf(Props.Create(() => new OneShotSender(vke, build, destinations, outcome)));
        return outcome.Task.WaitAsync(deadline).ContinueWith(t =>
        {
            if (!t.IsCompletedSuccessfully) sender.Tell(PoisonPill.Instance);
            return t;
        }, TaskScheduler.Default).Unwrap();
    }

    private void Finish(TaskCompletionSource<SendOutcome> outcome, SendOutcome result)
    {
        outcome.TrySetResult(result);
        Context.Stop(Self);
    }
}
