using System.Globalization;
using Akka.Configuration;
using Vios.Actors.Availability;
using Vios.Actors.Checkpoint;
using Vios.Actors.Memory;
using Vios.Actors.Storage;

namespace Vios.Actors.Partitions;

/// <summary>Typed view of <c>vios.partitions</c> and <c>vios.resources</c>, read once when a vios node starts.</summary>
public sealed record PartitionSettings(NodeResources Resources, VmmSettings Vmm, TimeSpan WorkloadTick, TimeSpan RegistrationRetry)
{
    /// <summary><c>vios.checkpoint</c>: how often a full image replaces the deltas.</summary>
    public CheckpointSettings Checkpoint { get; init; } = CheckpointSettings.Default;

    /// <summary>Where partitions' virtual disks live on this node (<c>&lt;data&gt;/disks</c>); null for no disks.</summary>
    public string? DiskDirectory { get; init; }

    /// <summary>Blocks of 4 KiB in a new partition's virtual disk (<c>vios.partitions.disk-size</c>).</summary>
    public long DiskBlocks { get; init; } = 16384;

    /// <summary>S16: how often a running partition's guest agent heartbeats to its node's master (<c>vios.availability.heartbeat.interval</c>).</summary>
    public TimeSpan GuestHeartbeat { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary><c>vios.partitions.ownership</c>: the pause watch and the ownership fence's timeouts.</summary>
    public OwnershipSettings Ownership { get; init; } = OwnershipSettings.Default;

    public string DiskPath(string lpar) => Path.Combine(DiskDirectory ?? ".", $"{lpar}.disk");

    /// <exception cref="ConfigurationException">The section is missing a value or has one that makes no sense; the message says which.</exception>
    public static PartitionSettings FromConfig(Config config, string nodeName)
    {
        var capacity = config.GetInt("vios.partitions.shadow-cache-capacity", 64);
        if (capacity < 1) throw new ConfigurationException("vios.partitions.shadow-cache-capacity must be at least 1");
        var tick = config.Duration("vios.partitions.workload-tick", TimeSpan.FromMilliseconds(10));
        if (tick <= TimeSpan.Zero) throw new ConfigurationException("vios.partitions.workload-tick must be positive");
        var fullEvery = config.GetInt("vios.checkpoint.full-every", CheckpointSettings.Default.FullEvery);
        if (fullEvery < 1) throw new ConfigurationException("vios.checkpoint.full-every must be at least 1");
        var ownership = ReadOwnership(config);
        return new PartitionSettings(
            ReadResources(config, nodeName),
            new VmmSettings(config.GetBoolean("vios.partitions.shadow-cache", true), capacity),
            tick,
            config.Duration("vios.partitions.registration-retry", TimeSpan.FromSeconds(2)))
        {
            Checkpoint = new CheckpointSettings(fullEvery) { FaultTolerantPair = ReadFaultTolerantPair(config), Ownership = ownership },
            Ownership = ownership,
            DiskDirectory = config.GetString("vios.node.data-directory", "") is { Length: > 0 } data ? Path.Combine(data, "disks") : null,
            GuestHeartbeat = Availability.AvailabilitySettings.FromConfig(config).Heartbeat.Interval,
            DiskBlocks = Math.Max(1, (config.GetByteSize("vios.partitions.disk-size") ?? 64L * 1024 * 1024) / VirtualDisk.BlockSize),
        };
    }

    /// <exception cref="ConfigurationException">A duration is not positive, or the tick is not shorter than the threshold.</exception>
    public static OwnershipSettings ReadOwnership(Config config)
    {
        const string Section = "vios.partitions.ownership";
        var defaults = OwnershipSettings.Default;
        var settings = new OwnershipSettings(
            config.Duration($"{Section}.pause-threshold", defaults.PauseThreshold),
            config.Duration($"{Section}.pause-tick", defaults.PauseTick),
            config.Duration($"{Section}.fence-timeout", defaults.FenceTimeout),
            config.Duration($"{Section}.fence-retry", defaults.FenceRetry))
        {
            SettleAfterFreeze = config.Duration($"{Section}.settle-after-freeze", defaults.SettleAfterFreeze),
            DownSelfAfterFreeze = config.GetString($"{Section}.down-self-after-freeze", "5s") is "off"
                ? null
                : config.Duration($"{Section}.down-self-after-freeze", defaults.DownSelfAfterFreeze ?? TimeSpan.FromSeconds(5)),
        };
        if (settings.DownSelfAfterFreeze is { } downSelf && downSelf <= settings.PauseThreshold)
            throw new ConfigurationException($"{Section}.down-self-after-freeze must be longer than pause-threshold ({settings.PauseThreshold}), or off; got {downSelf}");
        if (settings.SettleAfterFreeze < TimeSpan.Zero)
            throw new ConfigurationException($"{Section}.settle-after-freeze must be zero or more; got {settings.SettleAfterFreeze}");
        foreach (var (key, value) in new[] { ("pause-threshold", settings.PauseThreshold), ("pause-tick", settings.PauseTick),
                     ("fence-timeout", settings.FenceTimeout), ("fence-retry", settings.FenceRetry) })
            if (value <= TimeSpan.Zero) throw new ConfigurationException($"{Section}.{key} must be positive; got {value}");
        if (settings.PauseTick >= settings.PauseThreshold)
            throw new ConfigurationException($"{Section}.pause-tick ({settings.PauseTick}) must be shorter than pause-threshold ({settings.PauseThreshold})");
        return settings;
    }

    /// <summary>
    /// <c>vios.availability.ft-pair</c> (S22): the setpoints by which a replicated pair steers its
    /// primary's CPU share; the primary's full CPU is the upper bound.
    /// </summary>
    /// <exception cref="ConfigurationException">A value makes no sense; the message names the key.</exception>
    public static LagControllerSettings ReadFaultTolerantPair(Config config)
    {
        const string Section = "vios.availability.ft-pair";
        var defaults = LagControllerSettings.Default;
        var raiseBelow = config.GetLong($"{Section}.raise-below-lag", defaults.RaiseBelowLag);
        var lowerAbove = config.GetLong($"{Section}.lower-above-lag", defaults.LowerAboveLag);
        var lowerFactor = config.GetDouble($"{Section}.lower-factor", defaults.LowerFactor);
        var raiseFactor = config.GetDouble($"{Section}.raise-factor", defaults.RaiseFactor);
        var minRate = config.GetDouble($"{Section}.min-rate", defaults.MinRate);
        if (raiseBelow < 0) throw new ConfigurationException($"{Section}.raise-below-lag must not be negative; got {raiseBelow}");
        if (lowerAbove < raiseBelow)
            throw new ConfigurationException($"{Section}.lower-above-lag must be at least raise-below-lag ({raiseBelow}); got {lowerAbove}");
        if (!(lowerFactor > 0 && lowerFactor < 1))
            throw new ConfigurationException($"{Section}.lower-factor must be above 0 and below 1; got {lowerFactor.ToString(CultureInfo.InvariantCulture)}");
        if (!(raiseFactor > 1) || double.IsInfinity(raiseFactor))
            throw new ConfigurationException($"{Section}.raise-factor must be above 1; got {raiseFactor.ToString(CultureInfo.InvariantCulture)}");
        if (!(minRate > 0 && minRate <= 1))
            throw new ConfigurationException($"{Section}.min-rate must be above 0 and at most 1 (all of the CPU); got {minRate.ToString(CultureInfo.InvariantCulture)}");
        return new LagControllerSettings(raiseBelow, lowerAbove, lowerFactor, raiseFactor, minRate, maxRate: 1.0);
    }

    /// <summary>
    /// <c>vios.resources.domains</c>: a list of <c>{ position = "cec1/node0", cpus = 4, memory = 8 GiB, adapters = [eth, fc] }</c>.
    /// </summary>
    public static NodeResources ReadResources(Config config, string nodeName)
    {
        var domains = new List<ResourceDomain>();
        var values = config.GetValue("vios.resources.domains");
        if (values is null || !values.IsArray()) throw new ConfigurationException("vios.resources.domains must be a list of position domains");
        foreach (var (value, index) in values.GetArray().Select((v, i) => (v, i)))
        {
            var where = $"vios.resources.domains[{index}]";
            if (!value.IsObject()) throw new ConfigurationException($"{where} must be an object {{ position, cpus, memory, adapters }}");
            var domain = new Config(new Akka.Configuration.Hocon.HoconRoot(value));
            var position = domain.GetString("position", "");
            if (position.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
                throw new ConfigurationException($"{where}.position '{position}' is not a position domain (expected cec/node, e.g. cec1/node0)");
            // Resources are known by their position: two domains at one would give one CPU or bank twice.
            if (domains.Any(d => d.Domain == position))
                throw new ConfigurationException($"{where}.position '{position}' is already the position of another domain");
            var cpus = domain.GetInt("cpus", 0);
            if (cpus < 0) throw new ConfigurationException($"{where}.cpus must not be negative");
            var memory = domain.GetByteSize("memory") ?? 0;
            if (memory < 0) throw new ConfigurationException($"{where}.memory must not be negative");
            var adapters = domain.HasPath("adapters") ? domain.GetStringList("adapters").ToList() : [];
            domains.Add(new ResourceDomain(position, cpus, memory / (1024 * 1024), adapters));
        }
        if (domains.Sum(d => d.Cpus) == 0) throw new ConfigurationException("vios.resources.domains advertise no CPUs");
        return NodeResources.FromDomains(nodeName, domains);
    }
}
