using System.Text;
using CsCheck;
using Vios.Actors.Kernel;

namespace Vios.Actors.Tests.Kernel;

/// <summary>
/// S6: on restart the pty masters and slaves of a WPAR are reopened one descriptor at a time, in any
/// order; through the list of open slave devices each slave and its master end up on one device
/// whichever comes back first. Every order of up to four pairs is tried, random orders of fifty.
/// </summary>
public sealed class PtyReopenOrderSpecs
{
    private static readonly KernelIdentity Target = new("node1", SequenceSeed: 3, ReservedSlots: 5, FirstHandle: 9_000, FirstPty: 500, FirstPid: 7_000);

    /// <summary>One pty: who holds the master and each slave, and the bytes queued each way.</summary>
    private sealed record Pair(int Number, int MasterPid, int MasterFd, IReadOnlyList<(int Pid, int Fd)> Slaves);

    /// <summary>
    /// A WPAR with <paramref name="pairs"/> ptys, each master in its own process and its slave in another;
    /// every <paramref name="secondSlaveEvery"/>th pty also has its slave open in the master's process.
    /// Each pty has half a line typed on the master (waiting for the slave) and a line written on the slave (waiting for the master).
    /// </summary>
    private static (GuestKernel Kernel, Wpar Wpar, List<Pair> Pairs) Build(int pairs, int secondSlaveEvery = 0)
    {
        var kernel = new GuestKernel(KernelIdentity.Default);
        var wpar = kernel.CreateWpar("ptys").Value;
        var result = new List<Pair>();
        for (var i = 0; i < pairs; i++)
        {
            var master = wpar.Spawn(0, 0, $"telnetd{i}").Value;
            var user = wpar.Spawn(100, 100, $"ksh{i}").Value;
            var opened = wpar.OpenPtyMaster(master).Value;
            var slaves = new List<(int, int)> { (user, wpar.OpenPtySlave(user, opened.Number).Value) };
            if (secondSlaveEvery > 0 && i % secondSlaveEvery == 0) slaves.Add((master, wpar.OpenPtySlave(master, opened.Number).Value));
            Assert.True(wpar.Write(master, opened.Fd, Encoding.ASCII.GetBytes($"in{opened.Number}")).Ok);
            Assert.True(wpar.Write(user, slaves[0].Item2, Encoding.ASCII.GetBytes($"out{opened.Number}\n")).Ok);
            result.Add(new Pair(opened.Number, master, opened.Fd, slaves));
        }
        return (kernel, wpar, result);
    }

    /// <summary>Each master and each of its slaves are one device: the same view, and bytes go from each end to the other.</summary>
    private static void AssertPairedUp(GuestKernel kernel, int wparId, WparView expected, List<Pair> pairs)
    {
        var view = kernel.View(wparId);
        if (view != expected) Assert.Equal(expected.Render(), view.Render());
        var wpar = kernel.Wpar(wparId);
        foreach (var pair in pairs)
        {
            Assert.True(wpar.Write(pair.MasterPid, pair.MasterFd, "\r"u8).Ok);
            var (slavePid, slaveFd) = pair.Slaves[^1];
            Assert.Equal($"in{pair.Number}\n", WparRestartModelSpecs.Text(wpar.Read(slavePid, slaveFd, 64).Value));
            Assert.Equal($"in{pair.Number}out{pair.Number}\r\n\r\n", WparRestartModelSpecs.Text(wpar.Read(pair.MasterPid, pair.MasterFd, 64).Value));
        }
        Assert.Equal(pairs.Count, kernel.RealIds(wparId).Count(m => m.Kind == IdKind.Pty));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Every_reopening_order_of_masters_and_slaves_restores_every_pairing(int pairs)
    {
        var (source, wpar, built) = Build(pairs);
        var image = source.Checkpoint(wpar.Id);
        var expected = source.View(wpar.Id);
        var steps = GuestKernel.PtyReopenSteps(image);
        Assert.Equal(2 * pairs, steps.Length);

        var orders = 0;
        var slaveFirst = 0;
        foreach (var order in Permutations(steps.Length))
        {
            var target = new GuestKernel(Target);
            var restarted = Assert.IsType<WparRestarted>(target.Restart(image, new RestartOptions(PtyReopenOrder: order)));
            AssertPairedUp(target, restarted.WparId, expected, built);
            orders++;
            if (!steps[order[0]].Master) slaveFirst++;
        }

        Assert.Equal(Factorial(2 * pairs), orders);
        Assert.Equal(orders / 2, slaveFirst);
    }

    [Fact]
    public void Random_orders_of_fifty_ptys_some_with_two_slaves_restore_every_pairing()
    {
        var (source, wpar, built) = Build(50, secondSlaveEvery: 5);
        var image = WparImageCodec.Decode(WparImageCodec.Encode(source.Checkpoint(wpar.Id)));
        var expected = source.View(wpar.Id);
        var steps = GuestKernel.PtyReopenSteps(image);
        Assert.Equal(110, steps.Length);

        Gen.Int.Sample(seed =>
        {
            var order = Enumerable.Range(0, steps.Length).ToArray();
            new Random(seed).Shuffle(order);
            var target = new GuestKernel(Target);
            var restarted = Assert.IsType<WparRestarted>(target.Restart(image, new RestartOptions(PtyReopenOrder: order)));
            AssertPairedUp(target, restarted.WparId, expected, built);
        }, iter: 200);
    }

    [Fact]
    public void Slaves_reopened_before_their_master_wait_on_one_device_that_the_master_takes_over()
    {
        var (source, wpar, built) = Build(3, secondSlaveEvery: 1);
        var image = source.Checkpoint(wpar.Id);
        var steps = GuestKernel.PtyReopenSteps(image);
        // Every slave first, masters last in reverse: each master finds its slaves' device in the list.
        var order = steps.Select((s, i) => (s, i)).OrderBy(e => e.s.Master).ThenByDescending(e => e.s.Number).Select(e => e.i).ToArray();
        var target = new GuestKernel(Target);

        var restarted = Assert.IsType<WparRestarted>(target.Restart(image, new RestartOptions(PtyReopenOrder: order)));

        AssertPairedUp(target, restarted.WparId, source.View(wpar.Id), built);
        Assert.All(target.RealIds(restarted.WparId).Where(m => m.Kind == IdKind.Pty), m => Assert.True(m.Real >= Target.FirstPty));
    }

    [Fact]
    public void An_order_that_is_not_a_permutation_of_the_steps_is_refused_and_nothing_is_created()
    {
        var (source, wpar, _) = Build(2);
        var image = source.Checkpoint(wpar.Id);
        var target = new GuestKernel(Target);

        var refused = Assert.IsType<RestartRefused>(target.Restart(image, new RestartOptions(PtyReopenOrder: [0, 1, 1, 3])));

        Assert.Equal(RestartRefusal.BadReopenOrder, refused.Refusal);
        Assert.Contains("not a permutation of the 4 pty reopen steps", refused.Reason);
        Assert.Empty(target.ListWpars());
    }

    private static long Factorial(int n) => n <= 1 ? 1 : n * Factorial(n - 1);

    /// <summary>Every permutation of 0..n-1 (Heap's algorithm), each as a fresh array.</summary>
    private static IEnumerable<int[]> Permutations(int n)
    {
        var items = Enumerable.Range(0, n).ToArray();
        var counters = new int[n];
        yield return (int[])items.Clone();
        var i = 0;
        while (i < n)
        {
            if (counters[i] < i)
            {
                var swap = i % 2 == 0 ? 0 : counters[i];
                (items[swap], items[i]) = (items[i], items[swap]);
                yield return (int[])items.Clone();
                counters[i]++;
                i = 0;
            }
            else
            {
                counters[i] = 0;
                i++;
            }
        }
    }
}
