using Vios.Host.Ops;

namespace Vios.Host.Tests.Ops;

public sealed class OpsTokenCheckSpecs
{
    [Fact]
    public void Without_a_configured_token_every_request_proceeds()
    {
        var check = new OpsTokenCheck(null);

        Assert.Null(check.Refusal(null));
        Assert.Null(check.Refusal("anything"));
    }

    [Fact]
    public void With_a_configured_token_only_that_token_proceeds()
    {
        var check = new OpsTokenCheck("s3cret");

        Assert.Equal(OpsTokenCheck.TokenRequired, check.Refusal(null));
        Assert.Equal(OpsTokenCheck.TokenRequired, check.Refusal(""));
        Assert.Equal(OpsTokenCheck.TokenRefused, check.Refusal("s3cre"));
        Assert.Equal(OpsTokenCheck.TokenRefused, check.Refusal("S3CRET"));
        Assert.Null(check.Refusal("s3cret"));
    }
}
