using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>A lighthouse whose ops endpoint is bound to every address, hence guarded by a token.</summary>
public sealed class TokenGuardedLighthouse : IAsyncLifetime
{
    public const string Token = "correct-horse-battery-staple";

    private LocalCluster _cluster = null!;

    public ViosNode Node => _cluster.Lighthouse;

    public async Task InitializeAsync()
    {
        _cluster = LocalCluster.Create(TestCluster.Options());
        await _cluster.StartLighthouseAsync(options => options with { OpsHost = "0.0.0.0", OpsToken = Token });
        await _cluster.AwaitConvergenceAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();
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
