using CsCheck;
using Vios.Actors.Storage;

namespace Vios.Actors.Tests.Storage;

/// <summary>S27: each partition's own identifier pair (<see cref="IdentifierPool"/>), zoning and LUN masking (<see cref="LunAccess"/>).</summary>
public sealed class LunAccessSpecs
{
    private static readonly DateTimeOffset Now = new(2026, 12, 8, 2, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Pairs_are_unique_under_the_PowerVM_prefix_and_the_pool_runs_out_rather_than_reuse_one()
    {
        var pool = new IdentifierPool(block: 7);
        var (web, _) = pool.Allocate("web");
        var (db, _) = pool.Allocate("db");

        Assert.Equal("c0:50:76:00:00:07:00:00", web!.Active.ToString());
        Assert.Equal("c0:50:76:00:00:07:00:01", web.Inactive.ToString());
        Assert.Equal("c0:50:76:00:00:07:00:02", db!.Active.ToString());
        Assert.Equal(2, pool.Next);

        // A restart goes on from the persisted count; the last pair, then none.
        var resumed = new IdentifierPool(block: 7, next: IdentifierPool.PairsPerPrefix - 1);
        var (last, _) = resumed.Allocate("last");
        Assert.Equal("c0:50:76:00:00:07:ff:ff", last!.Inactive.ToString());
        var (none, refusal) = resumed.Allocate("one-too-many");
        Assert.Null(none);
        Assert.Contains("none is ever reused", refusal);
    }

    [Fact]
    public void A_WWPN_reads_with_or_without_colons_and_anything_else_is_a_clear_error()
    {
        Assert.Equal(0xc05076059a000002UL, Wwpn.Parse("c0:50:76:05:9a:00:00:02").Value);
        Assert.Equal(Wwpn.Parse("c05076059a000002"), Wwpn.Parse("C0:50:76:05:9A:00:00:02"));
        Assert.Contains("16 hex digits", Assert.Throws<FormatException>(() => Wwpn.Parse("c0:50:76")).Message);
        Assert.False(Wwpn.TryParse("zz:50:76:05:9a:00:00:02", out _));
        Gen.ULong.Sample(value => Assert.Equal(value, Wwpn.Parse(new Wwpn(value).ToString()).Value));
    }

    private static (LunAccess Access, StorageIdentity Web, StorageIdentity Db) Unit()
    {
        var pool = new IdentifierPool();
        var web = pool.Allocate("web").Identity!;
        var db = pool.Allocate("db").Identity!;
        var access = new LunAccess("unit0");
        foreach (var lun in new[] { 0, 1, 2, 300 }) access.AddLun(lun);
        access.Zone(web.Active);
        Assert.Null(access.Map(0, web.Active));
        Assert.Null(access.Map(300, web.Active));
        return (access, web, db);
    }

    [Fact]
    public void An_identifier_that_is_not_zoned_cannot_log_in_and_the_refusal_names_both_of_its_partitions_identifiers()
    {
        var (access, web, db) = Unit();

        Assert.Null(access.Login(web, web.Active, Now));
        Assert.Contains("not zoned", access.Login(db, db.Active, Now));
        // Nor with another partition's identifier, nor the node's own: there is no fallback.
        Assert.Contains("not one of db's identifiers", access.Login(db, web.Active, Now));

        Assert.Equal(2, access.RefusalCount);
        var refusal = access.RecentRefusals.First();
        Assert.Equal(("db", db.Active, db.Inactive, db.Active), (refusal.Lpar, refusal.Active, refusal.Inactive, refusal.Used));
        Assert.Contains(db.Inactive.ToString(), refusal.ToString());
    }

    [Fact]
    public void Report_luns_lists_only_the_mapped_luns_and_any_other_answers_logical_unit_not_supported()
    {
        var (access, web, _) = Unit();

        var data = access.ReportLuns(web.Active);
        Assert.Equal(8 + 16, data.Length);
        Assert.Equal(new byte[] { 0, 0, 0, 16, 0, 0, 0, 0 }, data[..8]);
        // LUN 300 in flat space addressing: 01b in the top bits.
        Assert.Equal(new byte[] { 0x41, 0x2C, 0, 0, 0, 0, 0, 0 }, data[16..24]);
        Assert.Equal([0, 300], LunAccess.ParseReportLuns(data));

        Assert.Equal(ScsiOutcome.Good, access.Check(web, web.Active, 0, Now));
        Assert.Equal(ScsiOutcome.Check(Sense.LogicalUnitNotSupported), access.Check(web, web.Active, 1, Now));
        Assert.Equal(ScsiOutcome.Check(Sense.LogicalUnitNotSupported), access.Check(web, web.Active, 9, Now));
        // Mapped, then unzoned: nothing.
        access.Unzone(web.Active);
        Assert.Empty(LunAccess.ParseReportLuns(access.ReportLuns(web.Active)));
        Assert.Equal(ScsiOutcome.Check(Sense.LogicalUnitNotSupported), access.Check(web, web.Active, 0, Now));
        Assert.Equal(3, access.RefusalCount);
    }

    [Fact]
    public void A_move_is_checked_on_the_inactive_identifiers_view_first()
    {
        var (access, web, _) = Unit();

        Assert.Contains("inactive identifier", access.CheckMove(web, [0, 300], Now));
        access.Zone(web.Inactive);
        Assert.Equal($"its inactive identifier {web.Inactive} does not see LUN 0, 300 of unit0", access.CheckMove(web, [0, 300], Now));
        access.Map(0, web.Inactive);
        access.Map(300, web.Inactive);
        Assert.Null(access.CheckMove(web, [0, 300], Now));
        Assert.Equal(2, access.RefusalCount);
    }

    [Fact]
    public void Bad_luns_and_report_luns_data_are_clear_errors()
    {
        var (access, web, _) = Unit();

        Assert.Contains("no LUN 7", access.Map(7, web.Active));
        Assert.Throws<ArgumentOutOfRangeException>(() => access.AddLun(LunAccess.MaxLun + 1));
        Assert.Throws<FormatException>(() => LunAccess.ParseReportLuns(new byte[] { 0, 0, 0, 9, 0, 0, 0, 0 }));
        Assert.Throws<FormatException>(() => LunAccess.ParseReportLuns(new byte[] { 0, 0, 0, 8, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0 }));
        Gen.Int[0, LunAccess.MaxLun].Sample(lun =>
        {
            var entry = new byte[8];
            LunAccess.EncodeLun(lun, entry);
            Assert.Equal(lun, LunAccess.DecodeLun(entry));
        });
        Gen.Byte.Array[0, 40].Sample(garbage =>
        {
            try { LunAccess.ParseReportLuns(garbage); }
            catch (FormatException) { }
        });
    }
}
