using Vios.Host.Ops.Palettes;

namespace Vios.Host.Tests.Ops;

public sealed class MemberAddressSpecs
{
    [Theory]
    [InlineData("127.0.0.1:4053", "akka.tcp://vios@127.0.0.1:4053")]
    [InlineData(" node-7:4100 ", "akka.tcp://vios@node-7:4100")]
    [InlineData("akka.tcp://vios@10.0.0.5:4053", "akka.tcp://vios@10.0.0.5:4053")]
    public void Host_and_port_or_a_full_address_name_a_member(string text, string expected)
    {
        Assert.True(MemberAddress.TryParse(text, out var address, out var error), error);
        Assert.Equal(expected, address.ToString());
    }

    [Theory]
    [InlineData("not-an-address", "is not a member address")]
    [InlineData("host:", "is not a member address")]
    [InlineData("host:0", "is not a member address")]
    [InlineData("akka.tcp://other@10.0.0.5:4053", "names actor system 'other'")]
    public void Anything_else_is_refused_with_a_reason(string text, string reason)
    {
        Assert.False(MemberAddress.TryParse(text, out _, out var error));
        Assert.Contains(reason, error);
    }
}
