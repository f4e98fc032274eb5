using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Vios.Actors;
using Vios.Actors.Cluster;
using Vios.Actors.Cluster.Daemons;
using Vios.Actors.Availability;
using Vios.Actors.Operations;
using Vios.Actors.Partitions;
using Akka.Cluster.Tools.Singleton;
using Vios.Host.Logging;
using Vios.Host.Ops;
using Vios.Persistence.Database;
using AkkaCluster = Akka.Cluster.Cluster;

namespace Vios.Host.Node;

/// <summary>
/// One running node: its ActorSystem (always named <c>vios</c>), its ops endpoint and, on a vios
/// node, its domain actors. <c>vios node</c>, <c>vios demo</c> and the test fixtures all start nodes
/// through <see cref="StartAsync"/>, so what the tests exercise is what operators run.
/// </summary>
public sealed class ViosNode : IAsyncDisposable
{
    private static readonly TimeSpan BootRecordTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The cluster-wide journal creating its tables, then the fence table and trigger (a first start on PostgreSQL).</summary>
    private static readonly TimeSpan FenceInstallTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DownedStopTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a shutdown waits for a join in flight to finish, so that the node leaves instead of
    /// falling silent; within the first phase's 5 s.
    /// </summary>
    private static readonly TimeSpan JoinSettleTimeout = TimeSpan.FromSeconds(4);

    /// <summary>As long as the boot record: the first read (and maybe write) of the cluster-wide journal.</summary>
    private static readonly TimeSpan ClusterIdentityTimeout = TimeSpan.FromSeconds(20);

    private OpsServer? _ops;

    private ViosNode(ActorSystem system, NodeSettings settings, string name, DatabaseSettings? database, DatabaseSettings? clusterDatabase,
        DatabaseSettings? controlDatabase, PartitionSettings? partitions)
    {
        Partitions = partitions;
        System = system;
        Settings = settings;
        Name = name;
        Database = database;
        ClusterDatabase = clusterDatabase;
        ControlDatabase = controlDatabase;
    }

    public ActorSystem System { get; }
    public NodeSettings Settings { get; }
    public string Name { get; }
    public NodeRole Role => Settings.Role;
    public string DataDirectory => Settings.DataDirectory;

    /// <summary>The journal database of a vios node; null on a lighthouse, which persists nothing.</summary>
    public DatabaseSettings? Database { get; }

    /// <summary>The database of cluster-wide state (partition images, the cluster identity) that every vios node shares; null on a lighthouse.</summary>
    public DatabaseSettings? ClusterDatabase { get; }

    /// <summary>The control plane's cluster-wide database (the managers' events), beside <see cref="ClusterDatabase"/>; null on a lighthouse.</summary>
    public DatabaseSettings? ControlDatabase { get; }

    /// <summary>The persistent record of this node's starts (vios nodes only).</summary>
    public IActorRef? BootLog { get; private set; }

    /// <summary>The node's VKE at <c>/user/vke</c> (vios nodes only).</summary>
    public IActorRef? Vke { get; private set; }

    /// <summary>This node's partition settings and advertised resources (vios nodes only).</summary>
    public PartitionSettings? Partitions { get; }

    /// <summary>The proxy to the partition manager singleton, <c>/user/partition-manager-proxy</c> (vios nodes only).</summary>
    public IActorRef? PartitionManager { get; private set; }

    /// <summary>The proxy to the HA manager singleton, <c>/user/ha-manager-proxy</c> (vios nodes only).</summary>
    public IActorRef? HaManager { get; private set; }

    /// <summary>The node's S16 heartbeat master, at <c>/user/heartbeat</c>; null on a lighthouse.</summary>
    public IActorRef? Heartbeat { get; private set; }

    /// <summary>
    /// This node's control view at <c>/user/control-view</c> (vios nodes only): the last lists the
    /// singletons published and this node's view of reachability, for reads that cannot wait (issue 12).
    /// </summary>
    public IActorRef? ControlView { get; private set; }

    /// <summary>This node's partition firmware at <c>/user/firmware</c> (vios nodes only).</summary>
    public IActorRef? Firmware { get; private set; }

    /// <summary>The identity of the cluster-wide journal this node uses (vios nodes only), loaded or created before it joined.</summary>
    public ClusterIdentity? ClusterIdentity { get; private set; }

    /// <summary>The node's cluster identity guard at <c>/user/cluster-identity</c> (vios nodes only).</summary>
    public IActorRef? ClusterIdentityGuard { get; private set; }

    /// <summary>
    /// Set when an older vios member uses another cluster-wide journal: the one line saying so and
    /// how to fix it. The node then leaves the cluster; <c>vios node</c> prints it and exits 1.
    /// </summary>
    public string? Refusal { get; private set; }

    /// <summary>Which start of this node this is, as persisted in its boot log (1 for the first).</summary>
    public int Incarnation { get; private set; }

    public IPEndPoint OpsEndpoint => _ops?.Endpoint ?? throw new InvalidOperationException("the ops endpoint is not started");
    public AkkaCluster Cluster => AkkaCluster.Get(System);
    public Address SelfAddress => Cluster.SelfAddress;
    public Task WhenTerminated => System.WhenTerminated;

    /// <summary>True once the cluster has downed this node (it then shuts itself down).</summary>
    public bool WasDowned => CoordinatedShutdown.Get(System).ShutdownReason is CoordinatedShutdown.ClusterDowningReason;

    public static async Task<ViosNode> StartAsync(NodeOptions options, CancellationToken cancellationToken = default)
    {
        var config = NodeConfigBuilder.Build(options);
        NodeSettings settings;
        try
        {
            settings = NodeSettings.FromConfig(config);
        }
        catch (ConfigurationException e)
        {
            throw new NodeStartupException(e.Message, e);
        }
        var consoleLevel = ParseLogLevel(settings.ConsoleLogLevel);
        if (settings.Ops.RequiresToken && settings.Ops.Token is null)
            throw new NodeStartupException(
                $"the ops endpoint is bound to {settings.Ops.Host}, which is not loopback: set --ops-token-file, --ops-token or VIOS_OPS_TOKEN");
        if (settings.Role == NodeRole.Vios && settings.SeedNodes.Count == 0)
            throw new NodeStartupException("a vios node needs seed nodes: pass --seeds host:port (a lighthouse) or set CLUSTER_SEEDS");

        CreateDataDirectory(settings.DataDirectory);
        var name = NodeIdentity.LoadOrCreate(settings.DataDirectory, settings.ConfiguredName, settings.Role);

        DatabaseSettings? database = null, clusterDatabase = null, controlDatabase = null;
        PartitionSettings? partitions = null;
        if (settings.Role == NodeRole.Vios)
        {
            try
            {
                partitions = PartitionSettings.FromConfig(config, name);
            }
            catch (Exception e) when (e is ConfigurationException or FormatException)
            {
                throw new NodeStartupException(e.Message, e);
            }
            try
            {
                database = DatabaseSettings.FromConfig(config);
                await DatabasePreflight.CheckAsync(database, cancellationToken);
                clusterDatabase = DatabaseSettings.ClusterFromConfig(config);
                if (clusterDatabase != database) await DatabasePreflight.CheckAsync(clusterDatabase, cancellationToken, "cluster-wide ");
                controlDatabase = DatabaseSettings.ControlFromConfig(config);
                if (controlDatabase != clusterDatabase) await DatabasePreflight.CheckAsync(controlDatabase, cancellationToken, "control plane ");
                config = clusterDatabase.ToClusterConfig().WithFallback(controlDatabase.ToControlConfig()).WithFallback(config);
            }
            catch (DatabaseUnavailableException e)
            {
                throw new NodeStartupException(e.Message, e);
            }
        }

        // The node joins its seeds itself once its services are up (StartServicesAsync), so that no
        // other node sees it Up before its VKE and daemons can answer.
        var finalConfig = ConfigurationFactory.ParseString($"""
                vios.node.name = "{name}"
                akka.loglevel = {ViosLogger.AkkaLogLevelFor(consoleLevel)}
                akka.cluster.seed-nodes = []
                """)
            .WithFallback(config);

        ActorSystem system;
        try
        {
            system = ActorSystem.Create(NodeConfigBuilder.SystemName, finalConfig);
        }
        catch (Exception e)
        {
            throw new NodeStartupException($"cannot start the actor system: {Innermost(e).Message}", e);
        }

        var node = new ViosNode(system, settings, name, database, clusterDatabase, controlDatabase, partitions);
        try
        {
            await node.StartServicesAsync(cancellationToken);
            return node;
        }
        catch (Exception e)
        {
            await node.StopAsync();
            throw e as NodeStartupException ?? new NodeStartupException(Innermost(e).Message, e);
        }
    }

    /// <summary>Leaves the cluster gracefully (CoordinatedShutdown) and waits until the node has stopped.</summary>
    public async Task StopAsync(CoordinatedShutdown.Reason? reason = null)
    {
        await CoordinatedShutdown.Get(System).Run(reason ?? CoordinatedShutdown.ClrExitReason.Instance);
        await System.WhenTerminated;
        if (_ops is not null) await _ops.DisposeAsync();
    }

    /// <summary>
    /// Stops the node abruptly, as a crash would: its ActorSystem terminates without leaving the
    /// cluster (CoordinatedShutdown does not run), so the other nodes find out by its silence.
    /// </summary>
    public async Task KillAsync()
    {
        await System.Terminate();
        if (_ops is not null) await _ops.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StartServicesAsync(CancellationToken cancellationToken)
    {
        var log = Akka.Event.Logging.GetLogger(System, "vios.node");

        // Order matters: services first, then the ops endpoint, then the boot record, and only then
        // joining, so that whoever sees this node Up can use it.
        if (Role == NodeRole.Vios)
        {
            // S1: the node's VKE and its built-in daemons; the kcluster interface follows membership.
            Vke = VkeSystemCalls.Get(System).Endpoint;
            System.ActorOf(EchoDaemon.Props(Vke), "daemon-echo");
            System.ActorOf(StatsDaemon.Props(Vke), "daemon-stats");

            // One owner per partition and per singleton: the fences are in the database before this node hosts either.
            try
            {
                var (partitions, singletons) = await OwnershipFenceInstaller.InstallAsync(System, ClusterDatabase!, ControlDatabase!, FenceInstallTimeout, cancellationToken);
                log.Debug("ownership fences: partitions {0}, singletons {1}", partitions.Describe, singletons.Describe);
            }
            catch (Exception e) when (e is DatabaseUnavailableException or TimeoutException or AskTimeoutException)
            {
                throw new NodeStartupException(e.Message, e);
            }

            // Before the singletons, so that their first publication finds it.
            ControlView = System.ActorOf(ControlViewActor.Props(), ControlViewActor.Name);

            // The partition manager: a persistent singleton on the oldest vios node, a proxy on each.
            System.ActorOf(ClusterSingletonManager.Props(
                PartitionManagerActor.SingletonProps(Partitions!.Ownership),
                FencedSingleton.HandOver.Instance,
                ClusterSingletonManagerSettings.Create(System).WithRole("vios")), "partition-manager");
            PartitionManager = System.ActorOf(ClusterSingletonProxy.Props(
                "/user/partition-manager",
                ClusterSingletonProxySettings.Create(System).WithRole("vios")), "partition-manager-proxy");
            Firmware = System.ActorOf(PartitionFirmwareActor.Props(Name, Partitions!, PartitionManager), PartitionFirmwareActor.Name);

            // The HA manager (S5, S17): a persistent singleton too, restarting the partitions that fail;
            // the node's S16 heartbeat master reports silent guests and nodes to it.
            var availability = AvailabilitySettings.FromConfig(System.Settings.Config);
            System.ActorOf(ClusterSingletonManager.Props(
                HaManagerActor.SingletonProps(PartitionManager, availability, Partitions!.Ownership),
                FencedSingleton.HandOver.Instance,
                ClusterSingletonManagerSettings.Create(System).WithRole("vios")), "ha-manager");
            HaManager = System.ActorOf(ClusterSingletonProxy.Props(
                "/user/ha-manager",
                ClusterSingletonProxySettings.Create(System).WithRole("vios")), "ha-manager-proxy");
            Heartbeat = System.ActorOf(HeartbeatActor.Props(availability, HaManager), HeartbeatActor.Name);
            // When the HA manager dies with its node, the designated survivors restart that node's partitions themselves.
            System.ActorOf(TakeoverActor.Props(Name, ControlView, Firmware, PartitionManager, HaManager, availability, Partitions!.Ownership), TakeoverActor.Name);
            // A freeze of this process (SIGSTOP, a long GC pause) makes every partition check it still owns itself.
            System.ActorOf(PauseWatchActor.Props(Partitions!.Ownership, Firmware), PauseWatchActor.Name);
            // A downed member frozen inside a write of the shared SQLite files is killed, so its lock goes with it.
            if (Settings.KillDownedLocalProcesses == "on" || (Settings.KillDownedLocalProcesses == "auto" && ClusterDatabase!.Kind == DatabaseKind.Sqlite))
            {
                var processes = Path.Combine(Settings.SharedDirectory, LocalProcessFence.DirectoryName);
                LocalProcessFence.Record(processes, SelfAddress.ToString(), Cluster.SelfUniqueAddress.Uid);
                System.ActorOf(LocalProcessFenceActor.Props(processes), LocalProcessFenceActor.Name);
            }
            // Downed: the partitions stop in the first phase of the shutdown, before the survivors' copies run.
            var firmware = Firmware;
            CoordinatedShutdown.Get(System).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "stop-partitions-when-downed", async () =>
            {
                if (!WasDowned) return Akka.Done.Instance;
                try
                {
                    await firmware.Ask<AllPartitionsStopped>(new StopAllPartitions("this node was downed by the cluster"), DownedStopTimeout);
                }
                catch (AskTimeoutException)
                {
                    log.Warning("the partitions did not stop within {0} s of the down; the process ends with them", DownedStopTimeout.TotalSeconds);
                }
                return Akka.Done.Instance;
            });
        }

        _ops = await OpsServer.StartAsync(Settings.Ops, this, cancellationToken);
        CoordinatedShutdown.Get(System).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "stop-ops-endpoint", async () =>
        {
            await _ops.DisposeAsync();
            return Akka.Done.Instance;
        });

        if (Role == NodeRole.Vios)
        {
            BootLog = System.ActorOf(NodeBootLogActor.Props(Name), "boot-log");
            try
            {
                var recorded = await System.AskWhileAliveAsync<BootRecorded>(
                    BootLog, new RecordBoot(SelfAddress.ToString(), DateTimeOffset.UtcNow), BootRecordTimeout);
                Incarnation = recorded.Incarnation;
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                throw new NodeStartupException($"the journal did not record this node's start ({e.Message}); see {Settings.LogFile}", e);
            }

            // One cluster-wide state: the journal's identity, announced to the other vios members once Up.
            try
            {
                ClusterIdentity = await ClusterIdentityLoader.LoadAsync(System, Name, ClusterIdentityTimeout);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                throw new NodeStartupException(
                    $"the cluster-wide journal ({ClusterDatabase?.Describe()}) did not give its identity ({e.Message}); see {Settings.LogFile}", e);
            }
            WarnOfFormerDefaultJournal(log);
            var own = new ClusterMemberIdentity(ClusterIdentity, ClusterDatabase!.Describe(), Name, SelfAddress.ToString());
            ClusterIdentityGuard = System.ActorOf(ClusterIdentityGuardActor.Props(own, Refuse, Settings.IdentityAnnounceRetry), ClusterIdentityGuardActor.Name);
        }

        // A shutdown while the join is in flight (SIGTERM a moment after the ready line: the seed may have
        // made this node a member before its welcome arrived) first lets the join finish: leaving before
        // it is a member in its own view does nothing, and the cluster would take its silence for a crash
        // (and fail its partitions over). In the first phase, so both a stop and the runtime's exit hook wait.
        var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Cluster.RegisterOnMemberUp(() => joined.TrySetResult());
        // Also run when the cluster shuts down: a node that never got in does not wait for it.
        Cluster.RegisterOnMemberRemoved(() => joined.TrySetResult());
        CoordinatedShutdown.Get(System).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "finish-join", async () =>
        {
            await Task.WhenAny(joined.Task, Task.Delay(JoinSettleTimeout));
            return Akka.Done.Instance;
        });
        // A lighthouse without seeds seeds itself, as petabridge/lighthouse does.
        if (Settings.SeedNodes.Count > 0)
        {
            // Through the members seen Up last as well: restarted seeds must not found a second cluster.
            var seeds = KnownMembers.Seeds(Settings.SeedNodes, KnownMembers.Load(Settings.DataDirectory), SelfAddress.ToString());
            if (seeds.Count > Settings.SeedNodes.Count) log.Info("joining through the seeds and {0} member(s) seen Up before: {1}", seeds.Count - Settings.SeedNodes.Count, string.Join(", ", seeds));
            System.ActorOf(KnownMembersActor.Props(Settings.DataDirectory), KnownMembersActor.Name);
            Cluster.JoinSeedNodes(seeds.Select(Address.Parse));
        }
        else Cluster.Join(SelfAddress);

        log.Info("{0} node {1} listening at {2}; ops endpoint {3}; data {4}{5}",
            Role == NodeRole.Lighthouse ? "lighthouse" : "vios",
            Name,
            SelfAddress,
            OpsEndpoint,
            DataDirectory,
            Database is null ? "" : $"; journal {Database.Describe()}; cluster-wide state {ClusterDatabase?.Describe()} ({ClusterIdentity?.Describe()}); control plane {ControlDatabase?.Describe()}; incarnation {Incarnation}");
    }

    /// <summary>
    /// Before <c>--shared-data</c> defaulted to <c>shared</c> beside the data directory it was
    /// <c>&lt;data&gt;/shared</c>: a node with state there and no <c>--shared-data</c> now uses
    /// another journal, which the operator should hear of before the identity check refuses a node.
    /// </summary>
    private void WarnOfFormerDefaultJournal(ILoggingAdapter log)
    {
        if (ClusterDatabase is not { Kind: DatabaseKind.Sqlite } cluster) return;
        var former = Path.Combine(DataDirectory, NodeConfigBuilder.SharedDirectoryName, "cluster-journal.db");
        if (!File.Exists(former) || cluster.Describe() == DatabaseSettings.Describe(DatabaseKind.Sqlite, DatabaseSettings.SqliteConnection(former))) return;
        log.Warning("found a cluster-wide journal at {0}, where it was kept by default before; this node uses {1}. "
            + "To keep the old one, start every vios node of this machine with --shared-data {2}",
            former, cluster.Describe(), Path.GetDirectoryName(former));
    }

    /// <summary>An older vios member uses another cluster-wide journal: remember why, and leave the cluster.</summary>
    private void Refuse(string line)
    {
        Refusal = line;
        _ = CoordinatedShutdown.Get(System).Run(ClusterIdentityRefusedReason.Instance);
    }

    /// <summary>Why the node stopped: its cluster-wide journal is not the cluster's.</summary>
    public sealed class ClusterIdentityRefusedReason : CoordinatedShutdown.Reason
    {
        public static ClusterIdentityRefusedReason Instance { get; } = new();

        private ClusterIdentityRefusedReason()
        {
        }

        public override int ExitCode => 1;
    }

    private static Akka.Event.LogLevel? ParseLogLevel(string text)
    {
        try
        {
            return ViosLogger.ParseLevel(text);
        }
        catch (ArgumentException e)
        {
            throw new NodeStartupException(e.Message, e);
        }
    }

    private static void CreateDataDirectory(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            Directory.CreateDirectory(Path.Combine(directory, "logs"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeStartupException($"cannot create the data directory {directory}: {e.Message}", e);
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
