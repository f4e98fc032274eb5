using Vios.Host.Ops.Palettes;

namespace Vios.Host.Ops;

/// <summary>
/// The palettes a node serves and <c>vios ctl</c> offers. A new palette is one class and one line
/// in <see cref="Default"/>; the endpoint, the client and the protocol do not change.
/// </summary>
public sealed class PaletteRegistry
{
    public static PaletteRegistry Default { get; } = new(
    [
        ClusterPalette.Palette,
        ActorPalette.Palette,
        VkePalette.Palette,
        LparPalette.Palette,
        CheckpointPalette.Palette,
        HaPalette.Palette,
        WparPalette.Palette,
    ]);

    public PaletteRegistry(IReadOnlyList<OpsPalette> palettes)
    {
        var duplicate = palettes.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"palette '{duplicate.Key}' is registered twice", nameof(palettes));
        Palettes = palettes;
    }

    public IReadOnlyList<OpsPalette> Palettes { get; }

    public OpsPalette? Find(string palette) => Palettes.FirstOrDefault(p => p.Name == palette);

    /// <summary>The palettes, one per line, as the usage errors list them.</summary>
    public string Listing() => OpsPalette.Table(Palettes.Select(p => (p.Name, p.Description)));
}
