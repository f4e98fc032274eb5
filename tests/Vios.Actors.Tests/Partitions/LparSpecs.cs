using Vios.Actors.Memory;
using Vios.Actors.Partitions;

namespace Vios.Actors.Tests.Partitions;

/// <summary>
/// One partition driven directly, as its actor drives it: lifecycle, guest memory, workload and
/// status. Its definition comes from a real placement on vios-a (cec1/node0: 4 CPUs, 64 MB, eth;
/// cec1/node1: 4 CPUs, 64 MB, fc). Time is only what the test hands to <see cref="Lpar.Advance"/>.
/// </summary>
public sealed class LparSpecs
{
    private static LparDefinition Definition(string name = "db", long memoryMb = 4, PlacementPolicy policy = PlacementPolicy.Locality, params string[] adapters)
    {
        var planner = new ResourcePlanner();
        planner.Advertise(NodeResources.FromDomains("vios-a",
        [
            new ResourceDomain("cec1/node0", 4, 64, ["eth"]),
            new ResourceDomain("cec1/node1", 4, 64, ["fc"]),
        ]));
        var placement = planner.Place(new ResourceRequest(name, 2, memoryMb, adapters, policy));
        Assert.True(placement.Allocation is not null, placement.Refusal);
        return new LparDefinition(name, 2, memoryMb, policy, adapters, placement.Allocation, DateTimeOffset.UnixEpoch);
    }

    private static Lpar Running(string name = "db", long memoryMb = 4, VmmSettings? vmm = null)
    {
        var lpar = new Lpar(Definition(name, memoryMb), vmm ?? VmmSettings.Default);
        Assert.Null(lpar.Start());
        return lpar;
    }

    private static RunWorkload Workload(int writesPerSecond, ulong? seed = 42, double skew = 0.9, int processes = 4, string name = "db") =>
        new(name, writesPerSecond, skew, processes, seed);

    private static long Writes(Lpar lpar) => lpar.Status("vios-a").Workload?.Writes ?? 0;

    private static byte[] Bytes(GuestMemory memory)
    {
        var bytes = new byte[memory.Bytes];
        for (uint frame = 0; frame < memory.PageCount; frame++)
        {
            memory.Page(frame).CopyTo(bytes.AsSpan((int)(frame * GuestMemory.PageSize)));
        }

        return bytes;
    }

    /// <summary>The first frame whose bytes differ, or -1 when the two memories are identical.</summary>
    private static long FirstDifferentFrame(GuestMemory first, GuestMemory second)
    {
        Assert.Equal(first.PageCount, second.PageCount);
        for (uint frame = 0; frame < first.PageCount; frame++)
        {
            if (!first.Page(frame).SequenceEqual(second.Page(frame))) return frame;
        }

        return -1;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    public void Start_allocates_exactly_the_guest_memory_of_the_definition_and_runs(long memoryMb)
    {
        using var lpar = new Lpar(Definition(memoryMb: memoryMb), VmmSettings.Default);
        Assert.Equal(LparState.Defined, lpar.State);
        Assert.Null(lpar.Memory);

        Assert.Null(lpar.Start());

        Assert.Equal(LparState.Running, lpar.State);
        Assert.NotNull(lpar.Memory);
        Assert.Equal(memoryMb * 256, lpar.Memory.PageCount);
        Assert.NotNull(lpar.Vmm);
        Assert.Null(lpar.Note);
    }

    [Fact]
    public void Starting_a_running_partition_is_refused_and_keeps_its_memory()
    {
        using var lpar = Running();
        var memory = lpar.Memory;

        var refusal = lpar.Start();

        Assert.NotNull(refusal);
        Assert.Contains("'db'", refusal);
        Assert.Contains("already running", refusal);
        Assert.Equal(LparState.Running, lpar.State);
        Assert.Same(memory, lpar.Memory);
    }

    [Fact]
    public void Stop_releases_the_memory_and_the_partition_can_start_again()
    {
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));
        lpar.Advance(TimeSpan.FromMilliseconds(50));
        var released = lpar.Memory!;

        Assert.Null(lpar.Stop());

        Assert.Equal(LparState.Stopped, lpar.State);
        Assert.Null(lpar.Memory);
        Assert.Null(lpar.Vmm);
        Assert.False(lpar.HasWorkload);
        Assert.Throws<ObjectDisposedException>(() => released.Page(0).Length);

        Assert.Null(lpar.Start());

        Assert.Equal(LparState.Running, lpar.State);
        Assert.NotNull(lpar.Memory);
        Assert.NotSame(released, lpar.Memory);
        Assert.Equal(0, lpar.Status("vios-a").DirtyPages);
        Assert.False(Bytes(lpar.Memory).AsSpan().ContainsAnyExcept((byte)0));
    }

    [Fact]
    public void A_copy_that_loses_its_ownership_fails_whether_it_ran_or_was_only_hosted_and_a_stopped_one_stays_stopped()
    {
        var running = Running();
        running.LoseOwnership("the fence is at 4");
        Assert.Equal(LparState.Failed, running.State);
        Assert.Equal("the fence is at 4", running.Status("vios-a").Note);

        // Hosted afresh where its record still placed it, fenced out before it ran: superseded, not starting.
        var hosted = new Lpar(Definition(), VmmSettings.Default);
        hosted.LoseOwnership("the fence is at 4");
        Assert.Equal(LparState.Failed, hosted.State);

        var stopped = Running();
        Assert.Null(stopped.Stop());
        var before = stopped.State;
        stopped.LoseOwnership("the fence is at 4");
        Assert.Equal(before, stopped.State);
    }

    [Fact]
    public void Stopping_a_partition_that_never_started_is_refused()
    {
        using var lpar = new Lpar(Definition(), VmmSettings.Default);

        Assert.Equal("cannot stop 'db': it is defined: there is nothing to stop", lpar.Stop());
        Assert.Equal(LparState.Defined, lpar.State);
    }

    [Fact]
    public void Quiesce_and_resume_follow_the_lifecycle()
    {
        using var lpar = Running();

        Assert.Null(lpar.Quiesce());
        Assert.Equal(LparState.Quiesced, lpar.State);
        Assert.Contains("already quiesced", lpar.Quiesce());
        Assert.Contains("resume it instead", lpar.Start());
        Assert.Null(lpar.Resume());
        Assert.Equal(LparState.Running, lpar.State);
        Assert.Contains("only a quiesced partition can be resumed", lpar.Resume());
    }

    [Fact]
    public void A_workload_is_refused_unless_the_partition_is_running()
    {
        using var lpar = new Lpar(Definition(), VmmSettings.Default);

        Assert.Equal("a workload runs in a running partition; 'db' is defined", lpar.SetWorkload(Workload(1000)));
        Assert.False(lpar.HasWorkload);

        Assert.Null(lpar.Start());
        Assert.Null(lpar.Stop());

        Assert.Equal("a workload runs in a running partition; 'db' is stopped", lpar.SetWorkload(Workload(1000)));
        Assert.False(lpar.HasWorkload);
    }

    [Theory]
    [InlineData(-1, 0.5, 4, "the rate must be 0 (stop) or more writes per second")]
    [InlineData(50_000_001, 0.5, 4, "the rate is above 50,000,000 writes per second")]
    [InlineData(1000, -0.1, 4, "the skew is the share of writes to hot pages, from 0 to 1")]
    [InlineData(1000, 1.5, 4, "the skew is the share of writes to hot pages, from 0 to 1")]
    [InlineData(1000, double.NaN, 4, "the skew is the share of writes to hot pages, from 0 to 1")]
    [InlineData(1000, 0.5, 0, "a workload has from 1 to 1024 processes")]
    [InlineData(1000, 0.5, 1025, "a workload has from 1 to 1024 processes")]
    public void An_invalid_workload_is_refused_with_the_reason(int writesPerSecond, double skew, int processes, string reason)
    {
        using var lpar = Running();

        Assert.Equal(reason, lpar.SetWorkload(Workload(writesPerSecond, skew: skew, processes: processes)));
        Assert.False(lpar.HasWorkload);
        Assert.Null(lpar.Status("vios-a").Workload);
    }

    [Fact]
    public void Advance_runs_the_writes_the_rate_owes_for_the_elapsed_time()
    {
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));
        Assert.Equal(0, Writes(lpar));

        lpar.Advance(TimeSpan.FromMilliseconds(100));

        Assert.InRange(Writes(lpar), 900, 1_100);
    }

    [Fact]
    public void The_rate_holds_over_many_short_ticks()
    {
        // 100 writes a second at the node's 10 ms tick owes one write a tick; whatever a tick
        // overshoots or falls short is carried to the next, so ten seconds make about 1,000 writes.
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(100)));

        for (var tick = 0; tick < 1_000; tick++)
        {
            lpar.Advance(TimeSpan.FromMilliseconds(10));
        }

        Assert.InRange(Writes(lpar), 950, 1_050);
    }

    [Fact]
    public void A_lowered_cpu_allocation_runs_the_workload_at_that_share_of_its_rate()
    {
        // S22: the primary of a lagging pair gets a share of its CPU; the guest's writes follow it.
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));

        Assert.Null(lpar.AllocateCpu(0.25));
        lpar.Advance(TimeSpan.FromMilliseconds(100));
        var slowed = Writes(lpar);
        Assert.Null(lpar.AllocateCpu(1.0));
        lpar.Advance(TimeSpan.FromMilliseconds(100));

        Assert.Equal(1.0, lpar.CpuAllocation);
        Assert.InRange(slowed, 200, 300);
        Assert.InRange(Writes(lpar) - slowed, 900, 1_100);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void A_cpu_allocation_outside_zero_to_one_is_refused_and_changes_nothing(double share)
    {
        using var lpar = Running();
        Assert.Null(lpar.AllocateCpu(0.5));

        Assert.StartsWith("a CPU allocation is above 0 and at most 1; got ", lpar.AllocateCpu(share));
        Assert.Equal(0.5, lpar.CpuAllocation);
    }

    [Fact]
    public void A_late_tick_runs_at_most_a_quarter_second_of_workload()
    {
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));

        lpar.Advance(TimeSpan.FromSeconds(10));

        Assert.InRange(Writes(lpar), 2_250, 2_750);
    }

    [Fact]
    public void A_quiesced_partition_makes_no_progress_until_it_is_resumed()
    {
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));
        lpar.Advance(TimeSpan.FromMilliseconds(50));
        var writes = Writes(lpar);
        Assert.True(writes > 0);

        Assert.Null(lpar.Quiesce());
        var stunned = Bytes(lpar.Memory!);
        lpar.Advance(TimeSpan.FromMilliseconds(100));
        lpar.Advance(TimeSpan.FromMilliseconds(100));

        Assert.Equal(writes, Writes(lpar));
        Assert.True(stunned.AsSpan().SequenceEqual(Bytes(lpar.Memory!)));

        Assert.Null(lpar.Resume());
        lpar.Advance(TimeSpan.FromMilliseconds(100));

        // Only the 100 ms after the resume count, not the time spent quiesced.
        Assert.InRange(Writes(lpar) - writes, 900, 1_100);
    }

    [Fact]
    public void The_same_seed_on_two_partitions_gives_the_same_memory_bytes()
    {
        using var first = Running();
        using var second = Running();
        using var other = Running();
        Assert.Null(first.SetWorkload(Workload(20_000, seed: 7)));
        Assert.Null(second.SetWorkload(Workload(20_000, seed: 7)));
        Assert.Null(other.SetWorkload(Workload(20_000, seed: 8)));

        foreach (var milliseconds in new[] { 30, 5, 70, 15 })
        {
            first.Advance(TimeSpan.FromMilliseconds(milliseconds));
            second.Advance(TimeSpan.FromMilliseconds(milliseconds));
            other.Advance(TimeSpan.FromMilliseconds(milliseconds));
        }

        Assert.True(Writes(first) > 0);
        Assert.Equal(-1, FirstDifferentFrame(first.Memory!, second.Memory!));
        Assert.Equal(first.Status("vios-a").Workload, second.Status("vios-a").Workload);
        Assert.NotEqual(-1, FirstDifferentFrame(first.Memory!, other.Memory!));
    }

    [Fact]
    public void Without_a_seed_the_workload_is_seeded_from_the_partition_name()
    {
        using var first = Running("web");
        using var second = Running("web");
        Assert.Null(first.SetWorkload(Workload(20_000, seed: null, name: "web")));
        Assert.Null(second.SetWorkload(Workload(20_000, seed: null, name: "web")));

        first.Advance(TimeSpan.FromMilliseconds(50));
        second.Advance(TimeSpan.FromMilliseconds(50));

        Assert.Equal(Lpar.SeedFor("web"), first.Status("vios-a").Workload!.Seed);
        Assert.NotEqual(Lpar.SeedFor("web"), Lpar.SeedFor("db"));
        Assert.Equal(-1, FirstDifferentFrame(first.Memory!, second.Memory!));
    }

    [Fact]
    public void Status_of_a_defined_partition_has_its_resources_and_no_vmm()
    {
        using var lpar = new Lpar(Definition(adapters: "fc"), VmmSettings.Default);

        var status = lpar.Status("vios-a");

        Assert.Equal(("db", "vios-a", LparState.Defined, 2, 4L, PlacementPolicy.Locality),
            (status.Name, status.Node, status.State, status.Vcpus, status.MemoryMb, status.Policy));
        Assert.Equal(lpar.Definition.Allocation.GuestView(), status.Resources);
        Assert.Equal(["vcpu0", "vcpu1", "memory0 (4 MB)", "fc0"], status.Resources.Select(r => r.Guest));
        Assert.Null(status.Shadow);
        Assert.Null(status.Workload);
        Assert.Equal(0, status.DirtyPages);
    }

    [Fact]
    public void Status_reports_the_shadow_cache_the_dirty_pages_and_the_workload()
    {
        using var lpar = Running(vmm: new VmmSettings(ShadowCacheEnabled: true, ShadowCacheCapacity: 16));
        Assert.Null(lpar.SetWorkload(Workload(50_000, seed: 3, skew: 0.8, processes: 4)));

        var started = lpar.Status("vios-a");

        // The workload loads its first page table: no shadow of it exists yet.
        Assert.NotNull(started.Shadow);
        Assert.True(started.Shadow.Enabled);
        Assert.Equal(16, started.Shadow.Capacity);
        Assert.True(started.Shadow.Misses >= 1);
        Assert.Equal(0, started.Shadow.Hits);

        lpar.Advance(TimeSpan.FromMilliseconds(100));
        var status = lpar.Status("vios-a");

        Assert.NotNull(status.Workload);
        Assert.Equal((50_000, 0.8, 4, 3UL), (status.Workload.WritesPerSecond, status.Workload.Skew, status.Workload.Processes, status.Workload.Seed));
        Assert.True(status.Workload.ContextSwitches > 0);
        // Four processes switching among themselves: after the first of each, the cached shadow is reused.
        Assert.True(status.Shadow!.Hits > 0);
        Assert.InRange(status.Shadow.Cached, 1, 16);
        Assert.True(status.DirtyPages > 0);
        Assert.Equal(lpar.Vmm!.DirtyLog.DirtyCount, status.DirtyPages);
        Assert.Equal(lpar.Definition.Allocation.GuestView(), status.Resources);
        Assert.Null(status.Note);
    }

    [Fact]
    public void With_the_shadow_cache_off_every_context_switch_misses()
    {
        using var lpar = Running(vmm: new VmmSettings(ShadowCacheEnabled: false));
        Assert.Null(lpar.SetWorkload(Workload(50_000)));

        lpar.Advance(TimeSpan.FromMilliseconds(100));
        var status = lpar.Status("vios-a");

        Assert.False(status.Shadow!.Enabled);
        Assert.Equal(0, status.Shadow.Hits);
        Assert.Equal(status.Workload!.ContextSwitches + 1, status.Shadow.Misses);
    }

    [Fact]
    public void Fail_keeps_the_reason_releases_the_memory_and_the_partition_can_start_again()
    {
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));
        lpar.Advance(TimeSpan.FromMilliseconds(20));
        var released = lpar.Memory!;

        lpar.Fail("vios-a crashed");

        Assert.Equal(LparState.Failed, lpar.State);
        Assert.Equal("vios-a crashed", lpar.Note);
        Assert.Null(lpar.Memory);
        Assert.Null(lpar.Vmm);
        Assert.False(lpar.HasWorkload);
        Assert.Throws<ObjectDisposedException>(() => released.Page(0).Length);
        var status = lpar.Status("vios-a");
        Assert.Equal((LparState.Failed, "vios-a crashed"), (status.State, status.Note));
        Assert.Null(status.Shadow);

        Assert.Null(lpar.Start());

        Assert.Equal(LparState.Running, lpar.State);
        Assert.Null(lpar.Note);
    }

    [Fact]
    public void Rate_zero_stops_the_workload_and_the_memory_stays_as_it_was()
    {
        using var lpar = Running();
        Assert.Null(lpar.SetWorkload(Workload(10_000)));
        lpar.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(lpar.HasWorkload);

        Assert.Null(lpar.SetWorkload(Workload(0)));

        Assert.False(lpar.HasWorkload);
        Assert.Null(lpar.Status("vios-a").Workload);
        var stopped = Bytes(lpar.Memory!);
        var dirty = lpar.Status("vios-a").DirtyPages;
        lpar.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(stopped.AsSpan().SequenceEqual(Bytes(lpar.Memory!)));
        Assert.Equal(dirty, lpar.Status("vios-a").DirtyPages);
        Assert.Equal(LparState.Running, lpar.State);
    }
}
