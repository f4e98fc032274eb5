using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Vios.Actors;
using Vios.Actors.Serialization;
using Vios.Host.Node;
using Vios.Persistence.Serialization;
using Vios.Testing;

namespace Vios.Persistence.Tests.Serialization;

/// <summary>
/// Every type of ours that implements <see cref="IViosMessage"/> is listed in the catalog, is bound to
/// <see cref="ViosSerializer"/> by the shipped vios.hocon (never the Newtonsoft default), and survives
/// a round trip through the serializer Akka picks for it.
/// </summary>
public sealed class SerializerCoverageSpecs : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private ActorSystem _system = null!;

    public static TheoryData<Type> MessageTypes()
    {
        var data = new TheoryData<Type>();
        foreach (var type in OurMessageTypes()) data.Add(type);
        return data;
    }

    /// <summary>Every concrete IViosMessage in the product assemblies (not in tests).</summary>
    public static IEnumerable<Type> OurMessageTypes() =>
        new[] { typeof(IViosMessage).Assembly, typeof(ViosSerializer).Assembly, typeof(ViosNode).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(IViosMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .OrderBy(t => t.FullName);

    public Task InitializeAsync()
    {
        // The node's own composed configuration, so the bindings under test are the shipped ones.
        var config = NodeConfigBuilder.Build(new NodeOptions
        {
            DataDirectory = _directory.Path,
            // In the test's own directory, not the temp folder beside it that every test run shares.
            SharedDirectory = System.IO.Path.Combine(_directory.Path, "shared"),
            Environment = new Dictionary<string, string?>(),
        });
        _system = ActorSystem.Create("serialization", Akka.Configuration.ConfigurationFactory
            .ParseString("akka.actor.provider = local\nakka.loggers = []\nakka.stdout-loglevel = OFF")
            .WithFallback(config));
        return Task.CompletedTask;
    }

    [Fact]
    public void There_are_message_types_to_check() => Assert.NotEmpty(OurMessageTypes());

    [Theory]
    [MemberData(nameof(MessageTypes))]
    public void Message_is_listed_bound_to_our_serializer_and_round_trips(Type type)
    {
        Assert.True(MessageCatalog.All.TryGetByType(type, out var entry), $"{type.Name} is missing from MessageCatalog.All");
        var sample = SampleMessages.Create(type);

        var serializer = _system.Serialization.FindSerializerFor(sample);
        Assert.IsType<ViosSerializer>(serializer);
        Assert.Equal(entry.Manifest, Akka.Serialization.Serialization.ManifestFor(serializer, sample));

        var bytes = serializer.ToBinary(sample);
        var back = _system.Serialization.Deserialize(bytes, serializer.Identifier, entry.Manifest);

        Assert.IsType(type, back);
        // Value equality where the type defines it (a frame compares its payload bytes), else field by field.
        if (!sample.Equals(back)) Assert.Equivalent(sample, back, strict: true);
        Assert.Equal(bytes, serializer.ToBinary(back));
    }

    [Fact]
    public void An_unknown_manifest_raises_SerializationException()
    {
        var error = Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize([1, 2, 3], ViosSerializer.Id, "System.IO.FileInfo"));

        Assert.Contains("unknown manifest 'System.IO.FileInfo'", error.Message);
    }

    [Fact]
    public void Bytes_that_do_not_decode_raise_SerializationException_naming_the_manifest()
    {
        var manifest = MessageCatalog.All.Entries.First().Manifest;

        var error = Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize("{not json"u8.ToArray(), ViosSerializer.Id, manifest));

        Assert.Contains(manifest, error.Message);
    }

    [Fact]
    public void A_message_missing_from_the_catalog_is_refused_rather_than_sent_some_other_way()
    {
        var unlisted = new UnlistedMessage(1);
        var serializer = _system.Serialization.FindSerializerFor(unlisted);

        Assert.IsType<ViosSerializer>(serializer);
        var error = Assert.Throws<SerializationException>(() => serializer.ToBinary(unlisted));

        Assert.Contains("not listed in MessageCatalog.All", error.Message);
    }

    public async Task DisposeAsync()
    {
        await _system.Terminate();
        _directory.Dispose();
    }

    private sealed record UnlistedMessage(int Value) : IViosMessage;
}
