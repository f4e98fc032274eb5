using Akka.Configuration;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary><c>vios.partitions</c> and <c>vios.resources</c> read into typed settings, and what a bad value says.</summary>
public sealed class PartitionSettingsSpecs
{
    private const string TwoDomains = """
        vios.resources.domains = [
          { position = "cec1/node0", cpus = 4, memory = 8 GiB, adapters = [eth, fc] }
          { position = "cec1/node1", cpus = 2, memory = 512 MiB }
        ]
        """;

    private static PartitionSettings Read(string hocon) =>
        PartitionSettings.FromConfig(ConfigurationFactory.ParseString(hocon), "vios-a");

    private static string Rejected(string hocon) =>
        Assert.Throws<ConfigurationException>(() => Read(hocon)).Message;

    [Fact]
    public void Each_domain_gives_its_cpus_its_memory_bank_and_its_adapters_with_their_positions()
    {
        var resources = Read(TwoDomains).Resources;

        Assert.Equal("vios-a", resources.Node);
        Assert.Equal(
            ["cec1/node0/cpu0", "cec1/node0/cpu1", "cec1/node0/cpu2", "cec1/node0/cpu3", "cec1/node1/cpu0", "cec1/node1/cpu1"],
            resources.Cpus.Select(c => c.Position.ToString()));
        Assert.Equal("vios-a/cec1/node1/cpu1", resources.Cpus[^1].Id);
        Assert.Equal([("cec1/node0/dimm0", 8192L), ("cec1/node1/dimm0", 512L)], resources.Memory.Select(m => (m.Position.ToString(), m.SizeMb)));
        Assert.Equal([("eth", "cec1/node0/slot1"), ("fc", "cec1/node0/slot2")], resources.Adapters.Select(a => (a.Kind, a.Position.ToString())));
    }

    [Fact]
    public void Partition_settings_are_read_with_their_defaults()
    {
        var settings = Read(TwoDomains);

        Assert.True(settings.Vmm.ShadowCacheEnabled);
        Assert.Equal(64, settings.Vmm.ShadowCacheCapacity);
        Assert.Equal(TimeSpan.FromMilliseconds(10), settings.WorkloadTick);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.RegistrationRetry);
    }

    [Fact]
    public void The_shadow_cache_and_the_timings_can_be_set()
    {
        var settings = Read(TwoDomains + """

            vios.partitions {
              shadow-cache = off
              shadow-cache-capacity = 8
              workload-tick = 25ms
              registration-retry = 5s
            }
            """);

        Assert.False(settings.Vmm.ShadowCacheEnabled);
        Assert.Equal(8, settings.Vmm.ShadowCacheCapacity);
        Assert.Equal(TimeSpan.FromMilliseconds(25), settings.WorkloadTick);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.RegistrationRetry);
    }

    [Theory]
    [InlineData("vios.partitions.shadow-cache = on", "vios.resources.domains must be a list")]
    [InlineData("vios.resources.domains = cec1", "vios.resources.domains must be a list")]
    [InlineData("vios.resources.domains = [cec1]", "vios.resources.domains[0] must be an object")]
    [InlineData("""vios.resources.domains = [{ position = "cec1", cpus = 4 }]""", "vios.resources.domains[0].position 'cec1' is not a position domain")]
    [InlineData("""vios.resources.domains = [{ position = "cec1/node0/slot1", cpus = 4 }]""", "vios.resources.domains[0].position 'cec1/node0/slot1' is not a position domain")]
    [InlineData("""vios.resources.domains = [{ position = "cec1/", cpus = 4 }]""", "vios.resources.domains[0].position 'cec1/' is not a position domain")]
    [InlineData("""vios.resources.domains = [{ cpus = 4 }]""", "vios.resources.domains[0].position '' is not a position domain")]
    [InlineData("""vios.resources.domains = [{ position = "cec1/node0", cpus = 4 }, { position = "cec1/node1", cpus = -1 }]""", "vios.resources.domains[1].cpus must not be negative")]
    [InlineData("""vios.resources.domains = [{ position = "cec1/node0", cpus = 0, memory = 1 GiB }]""", "vios.resources.domains advertise no CPUs")]
    // Akka's HOCON does not read [] as a list (it is an unknown value): rejected, naming the key all the same.
    [InlineData("vios.resources.domains = []", "vios.resources.domains must be a list")]
    [InlineData("""vios.resources.domains = [{ position = "cec1/node0", cpus = 4 }, { position = "cec1/node0", cpus = 2 }]""", "vios.resources.domains[1].position 'cec1/node0' is already")]
    public void A_resources_section_that_makes_no_sense_is_rejected_naming_the_key(string hocon, string message)
    {
        Assert.StartsWith(message, Rejected(hocon));
    }

    [Theory]
    [InlineData("vios.partitions.shadow-cache-capacity = 0", "vios.partitions.shadow-cache-capacity must be at least 1")]
    [InlineData("vios.partitions.shadow-cache-capacity = -3", "vios.partitions.shadow-cache-capacity must be at least 1")]
    [InlineData("vios.partitions.workload-tick = 0s", "vios.partitions.workload-tick must be positive")]
    public void A_partitions_section_that_makes_no_sense_is_rejected_naming_the_key(string hocon, string message)
    {
        Assert.Equal(message, Rejected(TwoDomains + "\n" + hocon));
    }

    [Fact]
    public void Fault_tolerant_pair_setpoints_are_read_with_their_defaults_and_can_be_set()
    {
        Assert.Equal(Vios.Actors.Availability.LagControllerSettings.Default, Read(TwoDomains).Checkpoint.FaultTolerantPair);

        var pair = Read(TwoDomains + """

            vios.availability.ft-pair {
              raise-below-lag = 1
              lower-above-lag = 4
              lower-factor = 0.5
              raise-factor = 1.5
              min-rate = 0.25
            }
            """).Checkpoint.FaultTolerantPair;

        Assert.Equal((1L, 4L, 0.5, 1.5, 0.25, 1.0), (pair.RaiseBelowLag, pair.LowerAboveLag, pair.LowerFactor, pair.RaiseFactor, pair.MinRate, pair.MaxRate));
    }

    [Theory]
    [InlineData("raise-below-lag = -1", "vios.availability.ft-pair.raise-below-lag must not be negative; got -1")]
    [InlineData("lower-above-lag = 1", "vios.availability.ft-pair.lower-above-lag must be at least raise-below-lag (2); got 1")]
    [InlineData("lower-factor = 1.2", "vios.availability.ft-pair.lower-factor must be above 0 and below 1; got 1.2")]
    [InlineData("lower-factor = 0", "vios.availability.ft-pair.lower-factor must be above 0 and below 1; got 0")]
    [InlineData("raise-factor = 0.9", "vios.availability.ft-pair.raise-factor must be above 1; got 0.9")]
    [InlineData("min-rate = 0", "vios.availability.ft-pair.min-rate must be above 0 and at most 1 (all of the CPU); got 0")]
    [InlineData("min-rate = 2", "vios.availability.ft-pair.min-rate must be above 0 and at most 1 (all of the CPU); got 2")]
    public void A_fault_tolerant_pair_setpoint_that_makes_no_sense_is_rejected_naming_the_key(string hocon, string message)
    {
        Assert.Equal(message, Rejected(TwoDomains + "\nvios.availability.ft-pair." + hocon));
    }

    [Fact]
    public void The_shipped_configuration_gives_a_node_of_two_domains_and_16_cpus()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Vios.Actors.sln")))
        {
            directory = directory.Parent;
        }

        Assert.NotNull(directory);
        var hocon = File.ReadAllText(Path.Combine(directory.FullName, "hocon", "vios.hocon"));

        var settings = Read(hocon);

        Assert.Equal(16, settings.Resources.Cpus.Count);
        Assert.Equal(["cec1/node0", "cec1/node1"], settings.Resources.Cpus.Select(c => c.Position.Domain).Distinct());
        Assert.Equal([16384L, 16384L], settings.Resources.Memory.Select(m => m.SizeMb));
        Assert.Equal(["eth", "fc", "eth"], settings.Resources.Adapters.Select(a => a.Kind));
        Assert.True(settings.Vmm.ShadowCacheEnabled);
        Assert.Equal(Vios.Actors.Availability.LagControllerSettings.Default, settings.Checkpoint.FaultTolerantPair);
    }

    [Fact]
    public void Availability_settings_are_read_with_their_defaults_and_nonsense_is_rejected_naming_the_key()
    {
        var defaults = Vios.Actors.Availability.AvailabilitySettings.FromConfig(ConfigurationFactory.Empty);
        Assert.Equal((TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(1), 3, true),
            (defaults.Policy.FailureWindow, defaults.Heartbeat.Interval, defaults.Heartbeat.NodeMissedIntervals, defaults.FenceSilentNodes));
        var set = Vios.Actors.Availability.AvailabilitySettings.FromConfig(ConfigurationFactory.ParseString(
            "vios.availability { failure-window = 2m\n heartbeat { interval = 200ms, node-missed-intervals = 5 }\n fence-silent-nodes = off }"));
        Assert.Equal((TimeSpan.FromMinutes(2), TimeSpan.FromMilliseconds(200), 5, false),
            (set.Policy.FailureWindow, set.Heartbeat.Interval, set.Heartbeat.NodeMissedIntervals, set.FenceSilentNodes));

        var zero = Assert.Throws<ConfigurationException>(() => Vios.Actors.Availability.AvailabilitySettings.FromConfig(
            ConfigurationFactory.ParseString("vios.availability.heartbeat.interval = 0s")));
        Assert.Contains("vios.availability.heartbeat.interval must be a positive duration", zero.Message);
        var missed = Assert.Throws<ConfigurationException>(() => Vios.Actors.Availability.AvailabilitySettings.FromConfig(
            ConfigurationFactory.ParseString("vios.availability.heartbeat.guest-missed-intervals = 0")));
        Assert.Contains("vios.availability.heartbeat.guest-missed-intervals must be at least 1", missed.Message);
    }

    [Fact]
    public void Ownership_settings_are_read_and_reach_the_checkpoint_coordinator()
    {
        var settings = Read(TwoDomains + "\n" + """
            vios.partitions.ownership { pause-threshold = 3s, pause-tick = 100ms, fence-timeout = 2s, fence-retry = 500ms }
            """);
        Assert.Equal(new OwnershipSettings(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(500)),
            settings.Ownership);
        Assert.Equal(settings.Ownership, settings.Checkpoint.Ownership);
        Assert.Equal(OwnershipSettings.Default, Read(TwoDomains).Ownership);
    }

    [Fact]
    public void Downing_itself_after_a_freeze_defaults_to_five_seconds_and_can_be_set_or_turned_off()
    {
        OwnershipSettings Ownership(string setting) => Read(TwoDomains + $"\nvios.partitions.ownership {{ {setting} }}").Ownership;

        Assert.Equal(TimeSpan.FromSeconds(5), Read(TwoDomains).Ownership.DownSelfAfterFreeze);
        Assert.Equal(TimeSpan.FromSeconds(12), Ownership("down-self-after-freeze = 12s").DownSelfAfterFreeze);
        Assert.Null(Ownership("down-self-after-freeze = off").DownSelfAfterFreeze);
        Assert.Null(Ownership("pause-threshold = 30s, down-self-after-freeze = off").DownSelfAfterFreeze);
    }

    [Theory]
    [InlineData("pause-threshold = 0s", "vios.partitions.ownership.pause-threshold must be positive")]
    [InlineData("fence-timeout = 0ms", "vios.partitions.ownership.fence-timeout must be positive")]
    [InlineData("pause-tick = 2s", "pause-tick (00:00:02) must be shorter than pause-threshold (00:00:02)")]
    [InlineData("down-self-after-freeze = 2s", "vios.partitions.ownership.down-self-after-freeze must be longer than pause-threshold (00:00:02), or off; got 00:00:02")]
    [InlineData("pause-threshold = 6s, pause-tick = 1s", "down-self-after-freeze must be longer than pause-threshold (00:00:06), or off; got 00:00:05")]
    [InlineData("settle-after-freeze = -1s", "vios.partitions.ownership.settle-after-freeze must be a duration such as 500ms or 2s; got '-1s'")]
    [InlineData("fence-retry = soon", "vios.partitions.ownership.fence-retry must be a duration such as 500ms or 2s; got 'soon'")]
    public void A_bad_ownership_setting_is_refused_by_name(string setting, string expected) =>
        Assert.Contains(expected, Rejected(TwoDomains + $"\nvios.partitions.ownership {{ {setting} }}"));
}
