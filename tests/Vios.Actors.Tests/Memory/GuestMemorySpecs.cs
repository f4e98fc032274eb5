using Vios.Actors.Memory;

namespace Vios.Actors.Tests.Memory;

public sealed class GuestMemorySpecs
{
    [Fact]
    public void Pages_are_zeroed_and_distinct()
    {
        using var memory = new GuestMemory(GuestMemory.MinimumPages);
        Assert.Equal(1024 * 1024, memory.Bytes);
        Assert.True(memory.Page(0).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(memory.Page(255).IndexOfAnyExcept((byte)0) < 0);

        memory.Page(3).Fill(0xAB);
        Assert.True(memory.Page(2).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(memory.Page(4).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(GuestMemory.PageSize, memory.Page(3).Length);
    }

    [Fact]
    public void A_frame_outside_the_memory_is_refused()
    {
        using var memory = new GuestMemory(GuestMemory.MinimumPages);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => memory.Page(256));
        Assert.Contains("outside this LPAR's memory of 256 pages", error.Message);
    }

    [Fact]
    public void Sizes_below_one_MiB_are_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new GuestMemory(GuestMemory.MinimumPages - 1));

    [Fact]
    public void Four_GiB_is_one_buffer_and_its_last_page_is_usable()
    {
        // The design asks for LPARs of at least 4 GiB, twice what a managed array holds.
        const long pages = 4L * 1024 * 1024 * 1024 / GuestMemory.PageSize;
        using var memory = new GuestMemory(pages);
        var last = (uint)(pages - 1);
        memory.Page(last)[^1] = 7;
        Assert.Equal(7, memory.Page(last)[^1]);
        Assert.Equal(0, memory.Page(last / 2)[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => memory.Page(last + 1));
    }

    [Fact]
    public void Pages_are_committed_on_the_host_only_as_the_guest_touches_them()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var before = process.WorkingSet64;
        using var memory = new GuestMemory(4L * 1024 * 1024 * 1024 / GuestMemory.PageSize);
        for (uint frame = 0; frame < 256; frame++) memory.Page(frame * 1024)[0] = 1;

        process.Refresh();
        // 256 touched pages are 1 MiB; a buffer zeroed up front would be 4 GiB. The margin is the test runner's own churn.
        Assert.True(process.WorkingSet64 - before < 512L * 1024 * 1024,
            $"the working set grew by {(process.WorkingSet64 - before) / (1024 * 1024)} MiB for 1 MiB of touched guest pages");
    }

    [Fact]
    public void Disposed_memory_is_refused()
    {
        var memory = new GuestMemory(GuestMemory.MinimumPages);
        memory.Dispose();
        Assert.Throws<ObjectDisposedException>(() => memory.Page(0));
    }
}
