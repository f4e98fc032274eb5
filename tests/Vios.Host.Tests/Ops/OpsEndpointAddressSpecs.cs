using Vios.Host.Ops;

namespace Vios.Host.Tests.Ops;

public sealed class OpsEndpointAddressSpecs
{
    [Theory]
    [InlineData("127.0.0.1:9111", "127.0.0.1", 9111)]
    [InlineData("ops.example:4000", "ops.example", 4000)]
    [InlineData("localhost", "localhost", 9110)]
    [InlineData("[::1]:9200", "::1", 9200)]
    [InlineData("[::1]", "::1", 9110)]
    public void Host_with_or_without_port_is_an_endpoint(string text, string host, int port)
    {
        Assert.True(OpsEndpointAddress.TryParse(text, out var endpoint));
        Assert.Equal(new OpsEndpointAddress(host, port), endpoint);
    }

    [Theory]
    [InlineData("")]
    [InlineData(":9110")]
    [InlineData("host:port")]
    [InlineData("host:70000")]
    [InlineData("::1:9110")]
    [InlineData("[::1")]
    public void Anything_else_is_not(string text) => Assert.False(OpsEndpointAddress.TryParse(text, out _));

    [Fact]
    public void An_IPv6_endpoint_prints_in_brackets() => Assert.Equal("[::1]:9110", new OpsEndpointAddress("::1", 9110).ToString());
}
