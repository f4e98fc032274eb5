using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Vios.Actors.Partitions;
using Vios.Actors.Serialization;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// The ownership epoch (fencing token) of a partition: 1 when defined, raised by every move, kept
/// above a deleted partition's when the name is used again, and the same after recovery from events
/// written before the epoch existed (which read as 1).
/// </summary>
public sealed class OwnershipEpochSpecs
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static NodeResources Node(string name) => NodeResources.FromDomains(name, [new ResourceDomain("cec1/node0", 4, 4096, ["eth"])]);

    private static PartitionRegistry TwoNodes()
    {
        var registry = new PartitionRegistry();
        registry.Register(Node("vios-a"), new Dictionary<string, LparState>());
        registry.Register(Node("vios-b"), new Dictionary<string, LparState>());
        return registry;
    }

    private static T Apply<T>(PartitionRegistry registry, (T? Event, string? Refusal) decided) where T : class, IViosMessage
    {
        Assert.True(decided.Event is not null, decided.Refusal);
        registry.Apply(decided.Event);
        return decided.Event;
    }

    private static T Apply<T>(PartitionRegistry registry, (T? Event, LparRefused? Refusal) decided) where T : class, IViosMessage =>
        Apply(registry, (decided.Event, decided.Refusal?.Reason));

    [Fact]
    public void A_new_partition_has_epoch_1_and_every_move_raises_it()
    {
        var registry = TwoNodes();
        var defined = Apply(registry, registry.Decide(new CreateLpar("z", 1, 64, PlacementPolicy.Balanced, [], "vios-a"), Now));
        Assert.Equal(1, defined.Definition.OwnerEpoch);

        var first = Apply(registry, registry.Decide(new MoveLpar("z", "vios-b", "failover")));
        var second = Apply(registry, registry.Decide(new MoveLpar("z", "vios-a", "failover")));

        Assert.Equal((2, 3), (first.Definition.OwnerEpoch, second.Definition.OwnerEpoch));
        Assert.Equal(3, registry.Find("z")!.OwnerEpoch);
    }

    [Fact]
    public void A_partition_created_again_under_a_deleted_name_starts_above_the_old_epoch_also_after_a_snapshot()
    {
        var registry = TwoNodes();
        Apply(registry, registry.Decide(new CreateLpar("z", 1, 64, PlacementPolicy.Balanced, [], "vios-a"), Now));
        Apply(registry, registry.Decide(new MoveLpar("z", "vios-b", "failover")));
        Apply(registry, registry.Decide(new DeleteLpar("z")));

        var recovered = new PartitionRegistry();
        recovered.Apply(RoundTrip(registry.Snapshot(), "lpar.manager-snapshot"));
        recovered.Register(Node("vios-a"), new Dictionary<string, LparState>());

        var again = Apply(recovered, recovered.Decide(new CreateLpar("z", 1, 64, PlacementPolicy.Balanced, [], "vios-a"), Now));
        // The fence of lpar-z stands at 2: a new z at epoch 1 could never write its journal.
        Assert.Equal(3, again.Definition.OwnerEpoch);
    }

    [Fact]
    public void Events_written_before_the_epoch_existed_load_and_their_moves_raise_it_on_recovery()
    {
        var registry = TwoNodes();
        var defined = Apply(registry, registry.Decide(new CreateLpar("z", 1, 64, PlacementPolicy.Balanced, [], "vios-a"), Now));
        var moved = Apply(registry, registry.Decide(new MoveLpar("z", "vios-b", "failover")));
        var back = Apply(registry, registry.Decide(new MoveLpar("z", "vios-a", "failover")));

        // The journal of an earlier version: the same JSON without the field.
        var recovered = new PartitionRegistry();
        foreach (var (message, manifest) in new (IViosMessage, string)[] { (defined, "lpar.defined"), (moved, "lpar.moved"), (back, "lpar.moved") })
        {
            var old = WithoutOwnerEpoch(message, manifest);
            var read = (IViosMessage)Codec(manifest).Read(old);
            recovered.Apply(read);
        }

        Assert.Equal(3, recovered.Find("z")!.OwnerEpoch);
        Assert.Equal("vios-a", recovered.Find("z")!.Node);
    }

    [Fact]
    public void A_state_report_from_a_copy_of_an_older_epoch_is_ignored()
    {
        var registry = TwoNodes();
        Apply(registry, registry.Decide(new CreateLpar("z", 1, 64, PlacementPolicy.Balanced, [], "vios-a"), Now));
        Apply(registry, registry.Decide(new MoveLpar("z", "vios-b", "failover")));
        registry.Report("z", LparState.Running, ownerEpoch: 2);

        registry.Report("z", LparState.Failed, ownerEpoch: 1);

        Assert.Equal(LparState.Running, registry.StateOf("z"));
    }

    [Theory]
    [InlineData(1, "lpar-z")]
    [InlineData(long.MaxValue, "lpar-a-b-9")]
    public void A_claim_round_trips_through_its_tag(long epoch, string key)
    {
        var claim = new OwnerClaim(key, epoch);
        Assert.Equal(claim, OwnerClaim.FromTag(claim.Tag));
    }

    [Theory]
    [InlineData("owner-epoch:")]
    [InlineData("owner-epoch:7")]
    [InlineData("owner-epoch:7:")]
    [InlineData("owner-epoch::lpar-z")]
    [InlineData("owner-epoch:-1:lpar-z")]
    [InlineData("other:7:lpar-z")]
    public void A_tag_that_is_not_a_claim_reads_as_none(string tag) => Assert.Null(OwnerClaim.FromTag(tag));

    private static MessageCodec Codec(string manifest)
    {
        Assert.True(MessageCatalog.All.TryGetByManifest(manifest, out var entry));
        return entry.Codec;
    }

    private static byte[] Write(IViosMessage message, string manifest)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Codec(manifest).Write(message, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static IViosMessage RoundTrip(IViosMessage message, string manifest) => (IViosMessage)Codec(manifest).Read(Write(message, manifest));

    private static byte[] WithoutOwnerEpoch(IViosMessage message, string manifest)
    {
        var node = JsonNode.Parse(Write(message, manifest))!;
        var removed = Remove(node);
        Assert.True(removed > 0, $"no ownerEpoch in {node.ToJsonString()}");
        return Encoding.UTF8.GetBytes(node.ToJsonString());

        static int Remove(JsonNode? node) => node switch
        {
            JsonObject o => (o.Remove("OwnerEpoch") ? 1 : 0) + (o.Remove("ownerEpoch") ? 1 : 0) + o.Select(p => p.Value).ToList().Sum(Remove),
            JsonArray a => a.Sum(Remove),
            _ => 0,
        };
    }
}

public sealed class PauseDetectorSpecs
{
    private static readonly TimeSpan Threshold = TimeSpan.FromSeconds(2);

    [Fact]
    public void Regular_ticks_are_no_pause()
    {
        var detector = new PauseDetector(Threshold);
        for (var ms = 0; ms <= 10_000; ms += 250) Assert.Null(detector.Tick(TimeSpan.FromMilliseconds(ms)));
    }

    [Fact]
    public void A_gap_above_the_threshold_is_reported_once_with_its_length()
    {
        var detector = new PauseDetector(Threshold);
        detector.Tick(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(12), detector.Tick(TimeSpan.FromSeconds(13)));
        Assert.Null(detector.Tick(TimeSpan.FromSeconds(13.25)));
    }

    [Fact]
    public void A_gap_of_exactly_the_threshold_is_not_a_pause_and_the_first_tick_never_is()
    {
        var detector = new PauseDetector(Threshold);
        Assert.Null(detector.Tick(TimeSpan.FromHours(1)));
        Assert.Null(detector.Tick(TimeSpan.FromHours(1) + Threshold));
    }

    [Fact]
    public void After_a_reset_the_next_tick_starts_afresh()
    {
        var detector = new PauseDetector(Threshold);
        detector.Tick(TimeSpan.Zero);
        detector.Reset();
        Assert.Null(detector.Tick(TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void A_threshold_that_is_not_positive_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PauseDetector(TimeSpan.Zero));
}
