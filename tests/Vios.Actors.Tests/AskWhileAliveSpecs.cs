using Akka.Actor;

namespace Vios.Actors.Tests;

public sealed class AskWhileAliveSpecs : Akka.TestKit.Xunit2.TestKit
{
    [Fact]
    public async Task Returns_the_reply()
    {
        var target = CreateTestProbe();
        var ask = Sys.AskWhileAliveAsync<string>(target.Ref, "ping", TimeSpan.FromSeconds(5));

        target.ExpectMsg("ping");
        target.Reply("pong");

        Assert.Equal("pong", await ask);
    }

    [Fact]
    public async Task Fails_at_once_when_the_target_stops_without_replying()
    {
        var target = CreateTestProbe();
        var ask = Sys.AskWhileAliveAsync<string>(target.Ref, "ping", TimeSpan.FromMinutes(5));
        target.ExpectMsg("ping");

        Sys.Stop(target.Ref);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ask.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("stopped before it replied", error.Message);
    }

    [Fact]
    public async Task Times_out_when_the_target_stays_silent()
    {
        var target = CreateTestProbe();

        var ask = Sys.AskWhileAliveAsync<string>(target.Ref, "ping", TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAsync<TimeoutException>(() => ask.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
