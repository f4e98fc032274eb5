using Vios.Host.Node;

namespace Vios.Host.Tests.Node;

public sealed class HoconStructureSpecs
{
    [Theory]
    [InlineData("akka { cluster { roles = [vios ", "line 1: '[' is never closed")]
    [InlineData("akka.cluster.roles = [vios\n}}}", "line 2: '}' closes the '[' opened at line 1")]
    [InlineData("a = \"unterminated\nb = 1", "line 1: unterminated string")]
    [InlineData("a { b = 1 } }", "line 1: '}' closes nothing")]
    [InlineData("a = \"\"\"never\nclosed", "line 1: unterminated \"\"\" string")]
    public void Unbalanced_text_is_reported_with_its_line(string text, string expected) =>
        Assert.Equal(expected, HoconStructure.FindError(text));

    [Theory]
    [InlineData("akka { cluster { roles = [vios, lighthouse] } }")]
    [InlineData("# a comment with { and [\na = \"text with } and ]\" // trailing { comment\nb = [1, 2]")]
    [InlineData("a = \"\"\"multi\nline { [ text\"\"\"\nb { c = \"escaped \\\" quote\" }")]
    [InlineData("")]
    public void Balanced_text_passes(string text) => Assert.Null(HoconStructure.FindError(text));

    [Fact]
    public void The_shipped_hocon_files_are_balanced()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "hocon"), "*.hocon"))
            Assert.Null(HoconStructure.FindError(File.ReadAllText(file)));
    }
}
