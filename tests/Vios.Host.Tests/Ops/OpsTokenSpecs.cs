using Vios.Host.Node;
using Vios.Host.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>
/// A lighthouse whose ops endpoint is bound to every address, hence guarded by a token, which it reads
/// from a file (--ops-token-file), so that the token is not on its command line.
/// </summary>
public sealed class TokenGuardedLighthouse : IAsyncLifetime
{
    public const string Token = "correct-horse-battery-staple";

    private readonly TempDirectory _directory = new();
    private LocalCluster _cluster = null!;

    public ViosNode Node => _cluster.Lighthouse;

    /// <summary>A file holding the token, as an operator would keep it (with the line end an editor leaves).</summary>
    public string TokenFile => _directory.Sub("ops.token");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(TokenFile, Token + "\n");
        _cluster = LocalCluster.Create(TestCluster.Options());
        await _cluster.StartLighthouseAsync(options => options with { OpsHost = "0.0.0.0", OpsTokenFile = TokenFile });
        await _cluster.AwaitConvergenceAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _directory.Dispose();
    }
}

/// <summary>Off loopback the endpoint wants the token, even from a client that connects over 127.0.0.1.</summary>
public sealed class OpsTokenSpecs(TokenGuardedLighthouse lighthouse) : IClassFixture<TokenGuardedLighthouse>
{
    [Fact]
    public async Task A_request_without_token_is_refused_with_exit_1_saying_a_token_is_required()
    {
        var result = await Ctl.AtAsync(lighthouse.Node, "cluster", "show");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            "vios ctl: this ops endpoint requires a token: pass --token or set VIOS_OPS_TOKEN",
            result.Stderr.TrimEnd());
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task A_wrong_token_is_refused_with_exit_1()
    {
        var result = await Ctl.AtAsync(lighthouse.Node, "--token", "correct-horse-battery-stapler", "cluster", "show");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("refused the token", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task The_token_from_a_file_is_served()
    {
        var result = await Ctl.AtAsync(lighthouse.Node, "--ops-token-file", lighthouse.TokenFile, "cluster", "show");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{lighthouse.Node.SelfAddress} | [lighthouse] | up |", result.StdoutLines);
    }

    [Fact]
    public async Task The_token_from_the_environment_is_served()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string? Environment(string name) => name == "VIOS_OPS_TOKEN" ? TokenGuardedLighthouse.Token : null;

        var exit = await CtlCommand.RunAsync(["--endpoint", lighthouse.Node.CtlEndpoint(), "cluster", "show"], stdout, stderr, Environment);

        Assert.True(exit == 0, stderr.ToString());
        Assert.Contains($"{lighthouse.Node.SelfAddress} | [lighthouse] | up |", stdout.ToString());
    }

    [Fact]
    public async Task A_token_file_that_does_not_exist_is_a_usage_error_naming_it()
    {
        var missing = lighthouse.TokenFile + ".missing";

        var result = await Ctl.AtAsync(lighthouse.Node, "--ops-token-file", missing, "cluster", "show");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"--ops-token-file {missing}: no such file", result.Stderr);
    }

    [Fact]
    public async Task The_right_token_is_served()
    {
        var result = await Ctl.AtAsync(lighthouse.Node, "--token", TokenGuardedLighthouse.Token, "cluster", "show");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{lighthouse.Node.SelfAddress} | [lighthouse] | up |", result.StdoutLines);
    }

    [Fact]
    public async Task Without_the_token_no_palette_is_revealed()
    {
        var replies = await RawOpsClient.SendAsync(lighthouse.Node.CtlEndpoint(), """{"palette":"nothing","command":"here"}""" + "\n");

        Assert.Equal(1, RawOpsClient.ExitOf(replies));
        Assert.Contains("requires a token", RawOpsClient.ErrorOf(replies));
    }
}
