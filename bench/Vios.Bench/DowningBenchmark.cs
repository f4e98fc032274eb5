using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Bench;

/// <summary>
/// Time from SIGKILL of a vios node process to the survivors marking it unreachable, downing it
/// (split-brain resolver) and removing it, for the shipped settings and for Akka.NET's defaults,
/// in the same run on the same machine. The observer is an in-process lighthouse; the two vios
/// nodes are real `vios node` processes, one of which is killed and restarted each round.
/// </summary>
public static class DowningBenchmark
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RemovalTimeout = TimeSpan.FromSeconds(90);

    public sealed record Round(string Profile, int Number, double UnreachableSeconds, double DownedSeconds, double RemovedSeconds);

    public static async Task<IReadOnlyList<Round>> RunAsync(string profile, int rounds, TextWriter log)
    {
        var root = Path.Combine(Path.GetTempPath(), $"vios-bench-{Guid.NewGuid():N}"[..23]);
        var profileFile = Path.Combine(AppContext.BaseDirectory, "profiles", $"{profile}.hocon");
        var observer = await ViosNode.StartAsync(new NodeOptions
        {
            Role = NodeRole.Lighthouse,
            Port = 0,
            OpsPort = 0,
            DataDirectory = Path.Combine(root, "lighthouse"),
            ConfigFile = profileFile,
            LogLevel = "off",
            Environment = new Dictionary<string, string?>(),
        });
        var seed = observer.SelfAddress.ToString();
        var nodes = new List<ViosProcess>();
        ViosProcess StartNode(int index) => ViosProcess.Start(
            ["node", "--seeds", seed, "--port", "0", "--ops-port", "0", "--data", Path.Combine(root, $"vios{index}"),
             "--config", profileFile, "--log-level", "warning"]);

        var results = new List<Round>();
        try
        {
            nodes.Add(StartNode(0));
            nodes.Add(StartNode(1));
            await AwaitMembersUp(observer, nodes);

            for (var round = 1; round <= rounds; round++)
            {
                var victimIndex = round % 2;
                var victim = nodes[victimIndex];
                var (address, _) = await victim.WaitForStartAsync(StartTimeout);
                // The recorder's clock starts here, immediately before the kill.
                using var recorder = new EventRecorder(observer.System, Address.Parse(address));
                victim.Kill();
                await recorder.Removed.WaitAsync(RemovalTimeout);

                results.Add(new Round(profile, round,
                    recorder.Unreachable.IsCompleted ? recorder.Unreachable.Result.TotalSeconds : double.NaN,
                    recorder.Downed.IsCompleted ? recorder.Downed.Result.TotalSeconds : double.NaN,
                    recorder.Removed.Result.TotalSeconds));
                log.WriteLine($"  {profile} round {round}: unreachable {results[^1].UnreachableSeconds:0.00} s, downed {results[^1].DownedSeconds:0.00} s, removed {results[^1].RemovedSeconds:0.00} s");

                await victim.DisposeAsync();
                nodes[victimIndex] = StartNode(victimIndex);
                await AwaitMembersUp(observer, nodes);
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
            await observer.StopAsync();
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        return results;
    }

    private static async Task AwaitMembersUp(ViosNode observer, IReadOnlyList<ViosProcess> nodes)
    {
        foreach (var node in nodes) await node.WaitForStartAsync(StartTimeout);
        await observer.AwaitAsync(ClusterWaits.MembersUp(nodes.Count + 1), StartTimeout, $"{nodes.Count + 1} members up");
    }

    /// <summary>Stamps, on a clock started at the kill, when the observer saw each stage for one address.</summary>
    private sealed class EventRecorder : IDisposable
    {
        private readonly ActorSystem _system;
        private readonly IActorRef _actor;
        private readonly TaskCompletionSource<TimeSpan> _unreachable = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<TimeSpan> _downed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<TimeSpan> _removed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EventRecorder(ActorSystem system, Address address)
        {
            _system = system;
            var clock = Stopwatch.StartNew();
            _actor = system.ActorOf(Props.Create(() => new Listener(address, clock, _unreachable, _downed, _removed)));
        }

        public Task<TimeSpan> Unreachable => _unreachable.Task;
        public Task<TimeSpan> Downed => _downed.Task;
        public Task<TimeSpan> Removed => _removed.Task;

        public void Dispose() => _system.Stop(_actor);

        private sealed class Listener : ReceiveActor
        {
            public Listener(Address address, Stopwatch clock, TaskCompletionSource<TimeSpan> unreachable,
                TaskCompletionSource<TimeSpan> downed, TaskCompletionSource<TimeSpan> removed)
            {
                Receive<ClusterEvent.UnreachableMember>(e => e.Member.Address == address, _ => unreachable.TrySetResult(clock.Elapsed));
                Receive<ClusterEvent.MemberDowned>(e => e.Member.Address == address, _ => downed.TrySetResult(clock.Elapsed));
                Receive<ClusterEvent.MemberRemoved>(e => e.Member.Address == address, _ => removed.TrySetResult(clock.Elapsed));
                ReceiveAny(_ => { });
                Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                    typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
            }

            protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
        }
    }
}
