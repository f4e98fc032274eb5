using Vios.Actors.Cluster;

namespace Vios.Actors.Tests.Cluster;

/// <summary>The pure side of the cluster identity: written once, and of two members that disagree the younger leaves.</summary>
public sealed class ClusterIdentityCheckSpecs
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 18, 0, 0, TimeSpan.Zero);

    private static ClusterMemberIdentity Member(ClusterIdentity identity, string journal, string node) =>
        new(identity, journal, node, $"akka.tcp://vios@127.0.0.1:{node.Length}");

    [Fact]
    public void A_load_creates_an_identity_only_when_none_was_recovered_and_the_first_one_stays()
    {
        var record = new ClusterIdentityRecord();
        var created = record.Decide(new LoadClusterIdentity("vios-a"), Now);
        Assert.NotNull(created);
        Assert.Equal(("vios-a", Now), (created.Identity.CreatedBy, created.Identity.CreatedAt));
        record.Apply(created);

        Assert.Null(record.Decide(new LoadClusterIdentity("vios-b"), Now));
        record.Apply(new ClusterIdentityCreated(ClusterIdentity.New("vios-b", Now)));
        Assert.Equal(created.Identity, record.Identity);
    }

    [Fact]
    public void New_identities_differ()
    {
        Assert.NotEqual(ClusterIdentity.New("vios-a", Now).Id, ClusterIdentity.New("vios-a", Now).Id);
    }

    [Fact]
    public void Members_with_one_identity_agree_whatever_their_journals_are_called()
    {
        var identity = ClusterIdentity.New("vios-a", Now);
        // One PostgreSQL database reached under two host names is one state.
        var own = Member(identity, "postgres localhost:5432/vios", "vios-a");
        var other = Member(identity, "postgres 127.0.0.1:5432/vios", "vios-b");

        Assert.Equal(ClusterIdentityVerdict.Agree, ClusterIdentityCheck.Judge(own, other, otherIsOlder: true));
        Assert.Equal(ClusterIdentityVerdict.Agree, ClusterIdentityCheck.Judge(own, other, otherIsOlder: false));
    }

    [Fact]
    public void Of_two_members_with_different_identities_the_younger_refuses_and_the_older_names_it()
    {
        var older = Member(ClusterIdentity.New("vios-a", Now), "sqlite /a/shared/cluster-journal.db", "vios-a");
        var younger = Member(ClusterIdentity.New("vios-b", Now), "sqlite /b/shared/cluster-journal.db", "vios-b");

        Assert.Equal(ClusterIdentityVerdict.RefuseThisNode, ClusterIdentityCheck.Judge(younger, older, otherIsOlder: true));
        Assert.Equal(ClusterIdentityVerdict.OtherRefused, ClusterIdentityCheck.Judge(older, younger, otherIsOlder: false));

        var line = ClusterIdentityCheck.RefusalLine(younger, older);
        Assert.DoesNotContain('\n', line);
        Assert.Contains("sqlite /b/shared/cluster-journal.db", line);
        Assert.Contains("sqlite /a/shared/cluster-journal.db", line);
        Assert.Contains("--shared-data", line);
        Assert.Contains("PostgreSQL", line);
        Assert.Contains("vios node vios-a", line);
        Assert.Contains("refused vios node vios-b", ClusterIdentityCheck.RefusedLine(older, younger));
    }
}
