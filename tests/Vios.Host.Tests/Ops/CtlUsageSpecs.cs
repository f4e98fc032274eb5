using System.Net;
using System.Net.Sockets;

namespace Vios.Host.Tests.Ops;

/// <summary>What <c>vios ctl</c> does before (or without) reaching an endpoint.</summary>
public sealed class CtlUsageSpecs : IDisposable
{
    // A listener that never accepts: any connection attempt would show up as a pending connection.
    private readonly TcpListener _untouched = new(IPAddress.Loopback, 0);

    public CtlUsageSpecs() => _untouched.Start();

    private string Endpoint => $"127.0.0.1:{((IPEndPoint)_untouched.LocalEndpoint).Port}";

    public void Dispose() => _untouched.Stop();

    [Fact]
    public async Task Unknown_palette_lists_the_palettes_and_exits_2_without_contacting_the_endpoint()
    {
        var result = await Ctl.RunAsync("--endpoint", Endpoint, "clutser", "show");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("vios ctl: unknown palette 'clutser'", result.Stderr);
        Assert.Contains("  cluster  ", result.Stderr);
        Assert.Contains("  actor  ", result.Stderr);
        Assert.Equal("", result.Stdout);
        Assert.False(_untouched.Pending());
    }

    [Fact]
    public async Task Unknown_command_lists_the_commands_of_its_palette_and_exits_2()
    {
        var result = await Ctl.RunAsync("--endpoint", Endpoint, "cluster", "shwo");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("vios ctl: unknown command 'shwo' in palette 'cluster'", result.Stderr);
        foreach (var command in new[] { "show", "status", "leader", "join ADDR", "leave [ADDR]", "down ADDR", "down-unreachable", "tail" })
            Assert.Contains($"  {command} ", result.Stderr);
        Assert.False(_untouched.Pending());
    }

    [Fact]
    public async Task No_palette_lists_the_palettes_and_exits_2()
    {
        var result = await Ctl.RunAsync();

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("available palettes:", result.Stderr);
    }

    [Theory]
    [InlineData("cluster", "join")]
    [InlineData("cluster", "down")]
    [InlineData("cluster", "show", "surplus")]
    [InlineData("actor", "hierarchy", "-d")]
    [InlineData("cluster", "show", "--endpoint", "no-port:x")]
    public async Task Arguments_that_do_not_fit_the_command_exit_2_with_its_usage(params string[] args)
    {
        var result = await Ctl.RunAsync(["--endpoint", Endpoint, .. args]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"usage of '{args[0]} {args[1]}':", result.Stderr);
        Assert.False(_untouched.Pending());
    }

    [Fact]
    public async Task Help_of_a_palette_describes_its_commands_and_exits_0()
    {
        var result = await Ctl.RunAsync("cluster", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("down-unreachable", result.Stdout);
    }

    [Fact]
    public async Task A_dead_endpoint_exits_1_with_one_clear_line()
    {
        var port = _untouched.LocalEndpoint is IPEndPoint { Port: var p } ? p : 0;
        _untouched.Stop();

        var result = await Ctl.RunAsync("--endpoint", $"127.0.0.1:{port}", "cluster", "show");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"vios ctl: no ops endpoint answers at 127.0.0.1:{port} (connection refused)", result.Stderr.TrimEnd());
        Assert.Equal("", result.Stdout);
    }
}
