using Akka.Actor;
using Akka.Event;
using Vios.Actors.Protocol;

namespace Vios.Actors.Cluster.Daemons;

/// <summary>
/// Base of a daemon that answers send messages: it registers with its node's VKE under its daemon
/// id, and for each delivered send message that requires a response, submits the response packet
/// that <see cref="Answer"/> builds.
/// </summary>
public abstract class DaemonActor : ReceiveActor
{
    protected DaemonActor(string daemonId, IActorRef vke)
    {
        DaemonId = daemonId;
        Vke = vke;
        // The node id comes from the VKE itself when answering: a packet can arrive before this reply does.
        Receive<DaemonRegistered>(_ => { });
        Receive<DaemonRefused>(refused =>
        {
            Log.Error("daemon {0} was refused by the VKE: {1}", refused.DaemonId, refused.Reason);
            Context.Stop(Self);
        });
        Receive<PacketRefused>(refused => Log.Warning("daemon {0}: the VKE refused a packet: {1}", DaemonId, refused.Reason));
        Receive<PacketSent>(_ => { });
    }

    protected ILoggingAdapter Log { get; } = Context.GetLogger();
    protected string DaemonId { get; }
    protected IActorRef Vke { get; }

    protected override void PreStart() => Vke.Tell(new RegisterDaemon(DaemonId));

    /// <summary>
    /// Submits the response to <paramref name="request"/> when its sender asked for one (a system call, on
    /// this thread). A response the codec refuses (too large) becomes an error response saying why.
    /// </summary>
    protected void Respond(ViosFrame request, ReadOnlyMemory<byte> payload)
    {
        if (!request.SubHeader.ResponseRequired) return;
        var vke = VkeSystemCalls.Get(Context.System);
        byte[] packet;
        try
        {
            packet = FrameCodec.Encode(Frames.ResponseTo(request, vke.SelfNodeId, payload), vke.Settings.MaxPayload);
        }
        catch (ProtocolException e)
        {
            Log.Warning("daemon {0}: cannot send its response to {1:x}: {2}", DaemonId, request.Header.MessageId, e.Message);
            packet = FrameCodec.Encode(Frames.ResponseTo(request, vke.SelfNodeId,
                System.Text.Encoding.UTF8.GetBytes($"daemon '{DaemonId}' could not send its response: {e.Message}"), MessageKind.Error));
        }
        vke.Submit(packet, null, Self);
    }
}

/// <summary>The built-in <c>echo</c> daemon: answers every send message with its own payload.</summary>
public sealed class EchoDaemon : DaemonActor
{
    public const string Id = "echo";

    public EchoDaemon(IActorRef vke) : base(Id, vke) =>
        Receive<DeliverPacket>(delivered => Respond(delivered.Frame, delivered.Frame.Payload));

    public static Props Props(IActorRef vke) => Akka.Actor.Props.Create(() => new EchoDaemon(vke));
}

/// <summary>The built-in <c>stats</c> daemon: answers with its node's VKE counters as JSON.</summary>
public sealed class StatsDaemon : DaemonActor
{
    public const string Id = "stats";

    /// <summary>How long the daemon waits for its VKE's counters.</summary>
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(5);

    public StatsDaemon(IActorRef vke) : base(Id, vke)
    {
        Receive<DeliverPacket>(delivered =>
            Vke.Ask<VkeStats>(GetVkeStats.Instance, StatsTimeout)
                .PipeTo(Self, success: stats => new StatsReady(delivered.Frame, stats), failure: e => new StatsUnavailable(e.Message)));
        Receive<StatsReady>(ready =>
            Respond(ready.Request, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(ready.Stats, VkeJsonContext.Default.VkeStats)));
        Receive<StatsUnavailable>(unavailable => Log.Warning("stats daemon: no counters from the VKE: {0}", unavailable.Reason));
    }

    public static Props Props(IActorRef vke) => Akka.Actor.Props.Create(() => new StatsDaemon(vke));

    private sealed record StatsReady(ViosFrame Request, VkeStats Stats);

    private sealed record StatsUnavailable(string Reason);
}
