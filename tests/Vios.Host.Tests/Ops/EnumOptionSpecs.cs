using Vios.Actors.Checkpoint;
using Vios.Actors.Partitions;
using Vios.Host.Ops;
using Vios.Testing;

namespace Vios.Host.Tests.Ops;

/// <summary>An option that names one of a few values takes only those names, never a number or a list.</summary>
[Collection(ClusterCollection.Name)]
public sealed class EnumOptionSpecs(ClusterFixture cluster)
{
    [Theory]
    [InlineData("7")]
    [InlineData("1")]
    [InlineData("-1")]
    [InlineData("spread,balanced")]
    [InlineData("nearest")]
    public async Task Lpar_create_refuses_a_policy_that_is_not_one_of_the_names(string policy)
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "lpar", "create", "never-made", "--vcpus", "1", "--memory-mb", "16", "--policy", policy);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"--policy '{policy}' is not one of locality, spread, balanced", result.Stderr);
    }

    [Theory]
    [InlineData("7")]
    [InlineData("0")]
    [InlineData("full,cow")]
    public async Task Checkpoint_take_refuses_a_mode_that_is_not_one_of_the_names(string mode)
    {
        var result = await Ctl.AtAsync(cluster.ViosA, "checkpoint", "take", "never-made", "--mode", mode);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"--mode '{mode}' is not one of full, incremental, cow", result.Stderr);
    }

    [Fact]
    public void A_defined_name_in_any_case_is_accepted()
    {
        Assert.True(EnumArgument.TryParse<PlacementPolicy>("Spread", out var policy));
        Assert.Equal(PlacementPolicy.Spread, policy);
        Assert.True(EnumArgument.TryParse<CheckpointMode>("cow", out var mode));
        Assert.Equal(CheckpointMode.Cow, mode);
        Assert.False(EnumArgument.TryParse<CheckpointMode>("2", out _));
    }
}
