using Vios.Host.Node;
using Vios.Testing;

namespace Vios.Host.Tests.Node;

/// <summary>The members a node saw Up, remembered as extra seeds (<see cref="KnownMembers"/>).</summary>
public sealed class KnownMembersSpecs
{
    private const string Lighthouse1 = "akka.tcp://vios@127.0.0.1:4053";
    private const string Lighthouse2 = "akka.tcp://vios@127.0.0.1:4054";
    private const string Vios1 = "akka.tcp://vios@127.0.0.1:40111";

    [Fact]
    public void Remembered_members_come_after_the_configured_seeds_which_keep_their_order_and_this_node_is_never_added()
    {
        var seeds = KnownMembers.Seeds([Lighthouse1, Lighthouse2], [Vios1, Lighthouse2, Lighthouse1], self: Lighthouse1);

        // The first seed stays first: only it may join itself, and only when no other seed answers.
        Assert.Equal([Lighthouse1, Lighthouse2, Vios1], seeds);
        Assert.Equal([Lighthouse1, Lighthouse2], KnownMembers.Seeds([Lighthouse1, Lighthouse2], [Lighthouse1], self: Lighthouse1));
    }

    [Fact]
    public void The_file_round_trips_and_a_missing_or_damaged_one_gives_what_it_can()
    {
        using var directory = new TempDirectory();
        Assert.Empty(KnownMembers.Load(directory.Path));

        KnownMembers.Save(directory.Path, [Vios1, Lighthouse2]);
        Assert.Equal([Vios1, Lighthouse2], KnownMembers.Load(directory.Path));

        File.WriteAllText(Path.Combine(directory.Path, KnownMembers.FileName), $"garbage\n\n{Vios1}\nakka.tcp://\n");
        Assert.Equal([Vios1], KnownMembers.Load(directory.Path));
    }
}
