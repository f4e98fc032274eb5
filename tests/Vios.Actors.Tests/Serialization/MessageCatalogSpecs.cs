using System.Text.Json.Serialization;
using Vios.Actors.Serialization;

namespace Vios.Actors.Tests.Serialization;

public sealed partial class MessageCatalogSpecs
{
    [Fact]
    public void Two_types_under_one_manifest_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new MessageCatalog(
            [MessageManifest.Json("same", CatalogSpecsJson.Default.First)],
            [MessageManifest.Json("same", CatalogSpecsJson.Default.Second)]));

        Assert.Contains("'same'", error.Message);
    }

    [Fact]
    public void One_type_under_two_manifests_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new MessageCatalog(
            [MessageManifest.Json("a", CatalogSpecsJson.Default.First), MessageManifest.Json("b", CatalogSpecsJson.Default.First)]));

        Assert.Contains(nameof(First), error.Message);
    }

    [Fact]
    public void An_earlier_format_of_a_type_is_read_under_its_manifest_and_never_written()
    {
        var catalog = new MessageCatalog(
            [MessageManifest.Json("first.v2", CatalogSpecsJson.Default.First), MessageManifest.Json("first", CatalogSpecsJson.Default.First) with { ReadOnly = true }]);

        Assert.True(catalog.TryGetByType(typeof(First), out var written));
        Assert.Equal("first.v2", written.Manifest);
        Assert.True(catalog.TryGetByManifest("first", out var old));
        Assert.True(old.ReadOnly);
    }

    [Fact]
    public void Lookups_go_both_ways()
    {
        var catalog = new MessageCatalog([MessageManifest.Json("first", CatalogSpecsJson.Default.First)]);

        Assert.True(catalog.TryGetByManifest("first", out var byManifest));
        Assert.True(catalog.TryGetByType(typeof(First), out var byType));
        Assert.Same(byManifest, byType);
        Assert.False(catalog.TryGetByManifest("Vios.Actors.Tests.Serialization.First", out _));
    }

    [Fact]
    public void The_product_catalog_builds_and_uses_short_stable_manifests()
    {
        Assert.NotEmpty(MessageCatalog.All.Entries);
        Assert.All(MessageCatalog.All.Entries, e => Assert.Matches("^[a-z]+(\\.[a-z0-9-]+)+$", e.Manifest));
    }

    [Fact]
    public void Json_codec_turns_bad_input_into_a_format_error()
    {
        var codec = new JsonMessageCodec<First>(CatalogSpecsJson.Default.First);

        Assert.Throws<MessageFormatException>(() => codec.Read("[1,2"u8));
        Assert.Throws<MessageFormatException>(() => codec.Read("null"u8));
    }

    public sealed record First(int Value) : IViosMessage;

    public sealed record Second(string Text) : IViosMessage;

    [JsonSerializable(typeof(First))]
    [JsonSerializable(typeof(Second))]
    internal sealed partial class CatalogSpecsJson : JsonSerializerContext;
}
