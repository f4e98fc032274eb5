using Vios.Host.Ops;

namespace Vios.Host.Tests.Ops;

public sealed class CommandSpecSpecs
{
    private static readonly CommandSpec Hierarchy = new("hierarchy", "walk")
    {
        Arguments = [new ArgumentSpec("root", "ROOT", "where", Required: false)],
        Options = [new OptionSpec("depth", 'd', "levels", "DEPTH"), new OptionSpec("all", null, "everything")],
    };

    private static readonly CommandSpec Down = new("down", "down") { Arguments = [new ArgumentSpec("address", "ADDR", "member")] };

    [Fact]
    public void Synopsis_shows_options_then_arguments_with_optional_ones_in_brackets() =>
        Assert.Equal("hierarchy [-d DEPTH] [--all] [ROOT]", Hierarchy.Synopsis);

    [Fact]
    public void Arguments_that_fit_are_accepted()
    {
        Assert.Null(Hierarchy.Validate(new Dictionary<string, string>()));
        Assert.Null(Hierarchy.Validate(new Dictionary<string, string> { ["root"] = "/user", ["depth"] = "2", ["all"] = "true" }));
        Assert.Null(Down.Validate(new Dictionary<string, string> { ["address"] = "host:1" }));
    }

    [Theory]
    [InlineData("down", "", "", "'down' needs ADDR")]
    [InlineData("down", "address", " ", "ADDR is empty")]
    [InlineData("hierarchy", "depth", "", "--depth needs a DEPTH")]
    [InlineData("hierarchy", "all", "yes", "--all is a flag and takes no value")]
    [InlineData("hierarchy", "colour", "red", "'hierarchy' has no argument or option 'colour'")]
    public void Arguments_that_do_not_fit_say_why(string command, string name, string value, string problem)
    {
        var spec = command == "down" ? Down : Hierarchy;
        var args = name == "" ? new Dictionary<string, string>() : new Dictionary<string, string> { [name] = value };

        Assert.Equal(problem, spec.Validate(args));
    }

    [Fact]
    public void A_palette_name_can_be_registered_only_once()
    {
        var palette = new OpsPalette("twice", "", []);

        Assert.Throws<ArgumentException>(() => new PaletteRegistry([palette, palette]));
    }
}
