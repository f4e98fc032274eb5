using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>`vios node` takes its ops token from --ops-token-file or VIOS_OPS_TOKEN too, so it need not be on the command line.</summary>
public sealed class NodeTokenSourceSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    private NodeOptions Options(IReadOnlyDictionary<string, string?>? environment = null) => new()
    {
        DataDirectory = _directory.Sub("data"),
        Environment = environment ?? new Dictionary<string, string?>(),
    };

    [Fact]
    public void The_token_is_read_from_the_file_without_its_line_end()
    {
        var file = _directory.Sub("ops.token");
        File.WriteAllText(file, "from-a-file\n");

        var config = NodeConfigBuilder.Build(Options() with { OpsTokenFile = file });

        Assert.Equal("from-a-file", config.GetString("vios.ops.token"));
    }

    [Fact]
    public void The_token_is_read_from_the_environment()
    {
        var config = NodeConfigBuilder.Build(Options(new Dictionary<string, string?> { ["VIOS_OPS_TOKEN"] = "from-the-environment" }));

        Assert.Equal("from-the-environment", config.GetString("vios.ops.token"));
    }

    [Fact]
    public void A_file_wins_over_the_environment()
    {
        var file = _directory.Sub("ops.token");
        File.WriteAllText(file, "from-a-file");

        var config = NodeConfigBuilder.Build(Options(new Dictionary<string, string?> { ["VIOS_OPS_TOKEN"] = "from-the-environment" }) with { OpsTokenFile = file });

        Assert.Equal("from-a-file", config.GetString("vios.ops.token"));
    }

    [Theory]
    [InlineData("missing", "no such file")]
    [InlineData("empty", "the file is empty")]
    public void A_token_file_that_holds_no_token_stops_the_node_naming_the_file(string what, string problem)
    {
        var file = _directory.Sub($"{what}.token");
        if (what == "empty") File.WriteAllText(file, "\n");

        var error = Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options() with { OpsTokenFile = file }));

        Assert.Equal($"--ops-token-file {file}: {problem}", error.Message);
    }

    [Fact]
    public void A_token_flag_and_a_token_file_together_are_refused()
    {
        var file = _directory.Sub("ops.token");
        File.WriteAllText(file, "from-a-file");

        var error = Assert.Throws<NodeStartupException>(() => NodeConfigBuilder.Build(Options() with { OpsToken = "flag", OpsTokenFile = file }));

        Assert.Contains("--ops-token or --ops-token-file, not both", error.Message);
    }

    public void Dispose() => _directory.Dispose();
}
