using Vios.Actors.Memory;

namespace Vios.Actors.Tests.Memory;

/// <summary>Dirty tracking by write-protected shadow entries: one fault per page per collection.</summary>
public sealed class DirtyLogSpecs : IDisposable
{
    private readonly GuestMemory _memory = new(GuestMemory.MinimumPages);
    private readonly Vmm _vmm;
    private readonly GuestPageTable _table = new(0x10_0000, entries: 64);

    public DirtyLogSpecs()
    {
        _vmm = new Vmm(_memory);
        for (uint page = 0; page < 64; page++)
        {
            _table.Map(page, frame: 100 + page);
        }

        _vmm.LoadPageTableBase(_table);
    }

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void The_first_write_to_a_page_faults_and_marks_its_frame()
    {
        Assert.False(_vmm.RegisteredShadow!.IsWriteEnabled(5));

        _vmm.Write(5, 10, [9]);

        Assert.True(_vmm.DirtyLog.IsDirty(105));
        Assert.False(_vmm.DirtyLog.IsDirty(104));
        Assert.True(_vmm.RegisteredShadow!.IsWriteEnabled(5));
        Assert.Equal(1, _vmm.Statistics.DirtyFaults);
        Assert.Equal(9, _memory.Page(105)[10]);
    }

    [Fact]
    public void Later_writes_to_the_same_page_go_straight_through()
    {
        _vmm.Write(5, 0, [1]);
        _vmm.Write(5, 1, [2]);
        _vmm.Write(5, 4000, [3]);

        Assert.Equal(1, _vmm.Statistics.DirtyFaults);
        Assert.Equal(1, _vmm.DirtyLog.DirtyCount);
    }

    [Fact]
    public void Collect_returns_the_dirty_frames_clears_them_and_rearms_write_protection()
    {
        _vmm.Write(5, 0, [1]);
        _vmm.Write(6, 0, [1]);
        _vmm.Write(5, 0, [2]);

        Assert.Equal([105u, 106u], _vmm.DirtyLog.Collect());

        Assert.Equal(0, _vmm.DirtyLog.DirtyCount);
        Assert.False(_vmm.DirtyLog.IsDirty(105));
        Assert.False(_vmm.RegisteredShadow!.IsWriteEnabled(5));
        Assert.Empty(_vmm.DirtyLog.Collect());

        _vmm.Write(5, 0, [3]);
        Assert.Equal(3, _vmm.Statistics.DirtyFaults);
        Assert.Equal([105u], _vmm.DirtyLog.Collect());
    }

    [Fact]
    public void Write_protection_is_rearmed_in_shadows_not_in_use()
    {
        var other = new GuestPageTable(0x20_0000, entries: 64);
        other.Map(0, frame: 105);
        _vmm.Write(5, 0, [1]);
        var shadow = _vmm.RegisteredShadow!;
        _vmm.LoadPageTableBase(other);

        _vmm.DirtyLog.Collect();

        Assert.False(shadow.IsWriteEnabled(5));
        _vmm.Write(0, 0, [2]); // the same frame through another process's table
        Assert.Equal([105u], _vmm.DirtyLog.Collect());
    }

    [Fact]
    public void A_remapped_page_marks_its_new_frame_on_the_next_write()
    {
        _vmm.Write(5, 0, [1]);
        Assert.Equal([105u], _vmm.DirtyLog.Collect());
        _vmm.Write(5, 0, [2]);

        _table.Map(5, frame: 200); // the guest remaps a page that is write-enabled in this epoch
        _vmm.Write(5, 0, [3]);

        Assert.Equal([105u, 200u], _vmm.DirtyLog.Collect());
        Assert.Equal(2, _memory.Page(105)[0]);
        Assert.Equal(3, _memory.Page(200)[0]);
    }

    [Fact]
    public void A_write_to_an_unmapped_or_read_only_page_is_a_guest_page_fault()
    {
        _table.Unmap(1);
        _table.Protect(2, writable: false);

        var unmapped = Assert.Throws<GuestPageFaultException>(() => _vmm.Write(1, 0, [1]));
        var readOnly = Assert.Throws<GuestPageFaultException>(() => _vmm.Write(2, 0, [1]));
        var outside = Assert.Throws<GuestPageFaultException>(() => _vmm.Write(64, 0, [1]));

        Assert.Equal((GuestAccess.NotMapped, 1u), (unmapped.Kind, unmapped.VirtualPage));
        Assert.Equal(GuestAccess.ReadOnly, readOnly.Kind);
        Assert.Equal(GuestAccess.OutsideTable, outside.Kind);
        Assert.Equal(0, _vmm.DirtyLog.DirtyCount);
        Assert.Equal(0, _memory.Page(102)[0]);
    }

    [Fact]
    public void A_write_crossing_the_end_of_a_page_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _vmm.Write(0, GuestMemory.PageSize - 1, [1, 2]));
    }

    [Fact]
    public void No_write_is_lost_while_another_thread_collects()
    {
        // The guest writes every page once per round, in a fresh order, while a collector thread
        // collects as fast as it can. Every page written after a collection must show up in a later
        // one: each round, every page's frame is seen in the collections since the round began.
        const int rounds = 200;
        var collected = new List<uint>[rounds + 1];
        for (var i = 0; i < collected.Length; i++)
        {
            collected[i] = [];
        }

        var round = 0;
        var done = false;
        var collectionsDone = 0;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                var frames = _vmm.DirtyLog.Collect();
                // Read after collecting: every write this collection holds was made in this round or earlier.
                var observedRound = Volatile.Read(ref round);
                lock (collected)
                {
                    collected[observedRound].AddRange(frames);
                }

                Interlocked.Increment(ref collectionsDone);
            }
        });
        collector.Start();

        var random = new Random(1);
        var order = Enumerable.Range(0, 64).Select(p => (uint)p).ToArray();
        var writes = 0L;
        for (var r = 0; r < rounds; r++)
        {
            Volatile.Write(ref round, r);
            var collectionsBefore = Volatile.Read(ref collectionsDone);
            random.Shuffle(order);
            foreach (var page in order)
            {
                _vmm.Write(page, (int)(page % 64) * 8, BitConverter.GetBytes(r));
                writes++;
            }

            // Make sure collections really interleave with the rounds: wait until one has finished
            // since this round began (usually it already has, mid-round).
            var wait = new SpinWait();
            while (Volatile.Read(ref collectionsDone) < collectionsBefore + 2)
            {
                wait.SpinOnce();
            }
        }

        Volatile.Write(ref round, rounds);
        Volatile.Write(ref done, true);
        collector.Join();
        var rest = _vmm.DirtyLog.Collect();
        collected[rounds].AddRange(rest);

        // A page written in round r was collected in a collection tagged r or later.
        for (var r = 0; r < rounds; r++)
        {
            var later = new HashSet<uint>();
            for (var c = r; c <= rounds; c++)
            {
                later.UnionWith(collected[c]);
            }

            for (uint page = 0; page < 64; page++)
            {
                Assert.Contains(100 + page, later);
            }
        }

        // And the final write of every page is the one in memory, with its frame in the last collections.
        for (uint page = 0; page < 64; page++)
        {
            Assert.Equal(rounds - 1, BitConverter.ToInt32(_memory.Page(100 + page).Slice((int)(page % 64) * 8, 4)));
        }

        Assert.Equal(rounds * 64, writes);
    }
}
