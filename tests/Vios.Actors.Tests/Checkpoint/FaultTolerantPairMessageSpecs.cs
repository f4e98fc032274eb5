using System.Buffers;
using Vios.Actors.Checkpoint;
using Vios.Actors.Serialization;

namespace Vios.Actors.Tests.Checkpoint;

/// <summary>S22's messages that cross nodes go through our own serializer, with stable manifests.</summary>
public sealed class FaultTolerantPairMessageSpecs
{
    public static TheoryData<string, object> Messages() => new()
    {
        { "replica.slow", new SlowReplica("db", TimeSpan.FromMicroseconds(250)) },
        { "replica.slowed", new ReplicaSlowed("db", "vios-b", TimeSpan.Zero) },
        {
            "checkpoint.stats",
            new CheckpointStats("db", "replicating to vios-b every 20 ms (S23)", 20, 120, 0, 310.5, 990.25, 1 << 20, 1 << 19, 0.5, 3, 400, null, null,
                new FaultTolerantPairStats(Lag: 9, PrimaryRate: 0.32768, Lowered: 5, Raised: 2, Held: 113))
        },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void A_message_round_trips_under_its_manifest(string manifest, object message)
    {
        Assert.True(MessageCatalog.All.TryGetByType(message.GetType(), out var entry));
        Assert.Equal(manifest, entry.Manifest);
        var buffer = new ArrayBufferWriter<byte>();

        entry.Codec.Write(message, buffer);

        Assert.Equal(message, entry.Codec.Read(buffer.WrittenSpan));
    }
}
