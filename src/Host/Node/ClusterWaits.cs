using Akka.Actor;
using Akka.Cluster;

namespace Vios.Host.Node;

/// <summary>
/// Waits for a condition on a node's view of the cluster, driven by cluster events rather than by
/// polling: the condition is checked on the initial state and again after every membership,
/// reachability or leader event. Used by `vios demo` and by the test fixtures.
/// </summary>
public static class ClusterWaits
{
    public static Task AwaitAsync(this ViosNode observer, Func<ClusterEvent.CurrentClusterState, bool> condition, TimeSpan timeout, string what) =>
        AwaitAsync(observer.System, condition, timeout, what);

    public static async Task AwaitAsync(ActorSystem system, Func<ClusterEvent.CurrentClusterState, bool> condition, TimeSpan timeout, string what)
    {
        var met = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watcher = system.ActorOf(Props.Create(() => new ConditionWatcher(condition, met)));
        try
        {
            await met.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what}: not reached within {timeout.TotalSeconds:0.#} s; cluster as seen by {Cluster.Get(system).SelfAddress}: {Describe(Cluster.Get(system).State)}");
        }
        finally
        {
            system.Stop(watcher);
        }
    }

    /// <summary>True when <paramref name="count"/> members are Up and every member is reachable.</summary>
    public static Func<ClusterEvent.CurrentClusterState, bool> MembersUp(int count) =>
        state => state.Members.Count(m => m.Status == MemberStatus.Up) == count && state.Unreachable.Count == 0;

    public static Func<ClusterEvent.CurrentClusterState, bool> Removed(Address address) =>
        state => state.Members.All(m => m.Address != address);

    public static string Describe(ClusterEvent.CurrentClusterState state) =>
        string.Join(", ", state.Members.Select(m =>
            $"{m.Address} {m.Status}{(state.Unreachable.Contains(m) ? " unreachable" : "")}"));

    private sealed class ConditionWatcher : ReceiveActor, IWithTimers
    {
        private sealed record Recheck
        {
            public static Recheck Instance { get; } = new();
        }

        public ConditionWatcher(Func<ClusterEvent.CurrentClusterState, bool> condition, TaskCompletionSource met)
        {
            var cluster = Cluster.Get(Context.System);
            ReceiveAny(_ =>
            {
                if (condition(cluster.State)) met.TrySetResult();
            });
            cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent), typeof(ClusterEvent.LeaderChanged));
        }

        public ITimerScheduler? Timers { get; set; }

        // Cluster.State is updated by its own subscriber, which may see an event after this one
        // does; the periodic recheck covers that ordering without relying on it.
        protected override void PreStart() =>
            Timers!.StartPeriodicTimer("recheck", Recheck.Instance, TimeSpan.FromMilliseconds(200));

        protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
