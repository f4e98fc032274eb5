using Vios.Actors.Memory;

namespace Vios.Actors.Tests.Memory;

public sealed class GuestPageTableSpecs
{
    [Fact]
    public void A_new_table_maps_nothing()
    {
        var table = new GuestPageTable(0x4000);
        Assert.Equal(512, table.Length);
        Assert.Equal(0x4000UL, table.Base);
        Assert.False(table[0].Present);
        Assert.False(table[511].Present);
    }

    [Fact]
    public void Map_unmap_and_protect_change_one_entry()
    {
        var table = new GuestPageTable(0x4000, entries: 16);
        table.Map(3, frame: 42);
        Assert.Equal(new GuestPageTableEntry(42, Present: true, Writable: true), table[3]);

        table.Protect(3, writable: false);
        Assert.Equal(new GuestPageTableEntry(42, Present: true, Writable: false), table[3]);

        table.Unmap(3);
        Assert.False(table[3].Present);
        Assert.False(table[2].Present);
    }

    [Fact]
    public void A_page_beyond_the_table_is_refused()
    {
        var table = new GuestPageTable(0x4000, entries: 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Map(16, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => table[16]);
    }

    [Fact]
    public void Protecting_an_unmapped_page_is_refused() =>
        Assert.Throws<InvalidOperationException>(() => new GuestPageTable(0x4000, 16).Protect(0, writable: false));
}
