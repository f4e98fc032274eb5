using Vios.Testing;

namespace Vios.Host.Tests.Demo;

/// <summary>`vios demo` as the README runs it: a real process, to completion.</summary>
public sealed class DemoSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Demo_forms_the_cluster_prints_the_summary_leaves_and_exits_0()
    {
        var (exitCode, stdout, stderr) = await ViosProcess.RunAsync(["demo", "--data", _directory.Path], TimeSpan.FromSeconds(90));

        Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("4 members Up and reachable on every node", stdout);
        Assert.Equal(4, stdout.Split('\n').Count(l => l.Contains("akka.tcp://vios@127.0.0.1:") && l.Contains("│ up ")));
        Assert.Contains("Leader: akka.tcp://vios@127.0.0.1:", stdout);
        Assert.Contains("to echo: 3 of 3 nodes answered, round trip", stdout);
        Assert.Equal(3, stdout.Split('\n').Count(l => l.Contains("answered \"hello from vios-")));
        // Partitions placed by locality (one domain), spread (both domains) and balanced, then running with the shadow cache hitting.
        Assert.Matches(@"web: 2 vCPUs, 256 MB, locality → vios-[0-9a-f]{8} cec1/node[01]\n", stdout);
        Assert.Matches(@"db: 4 vCPUs, 1024 MB, spread → vios-[0-9a-f]{8} cec1/node0 cec1/node1\n", stdout);
        Assert.Matches(@"batch: 2 vCPUs, 512 MB, balanced → vios-[0-9a-f]{8} ", stdout);
        var rows = stdout.Split('\n').Where(l => l.Contains("│ running │")).ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Matches(@"│ (9\d|100)\.\d\d% ", r));
        // Checkpoints: deltas after a full image, a copy-on-write one, a replica, and a restore on another node byte for byte.
        Assert.Matches(@"web: epoch 1 full [\d,]+ pages, stun [\d.]+ ms; epoch 2 delta [\d,]+ pages", stdout);
        Assert.Matches(@"db: copy-on-write epoch 1, stun [\d.]+ ms, then [\d,]+ pages saved while the guest ran \(S24\)", stdout);
        Assert.Matches(@"batch → replica on vios-[0-9a-f]{8}: [1-9][\d,]* epochs in 1\.0 s", stdout);
        Assert.Matches(@"web restored into web-copy on vios-[0-9a-f]{8} from epoch 3 \(3 images\): checksum [0-9a-f]{16}, equal to web's memory at the stun", stdout);
        // A WPAR's kernel state moved to another node's kernel: same view, other real ids.
        Assert.Matches(@"WPAR demo: web on vios-[0-9a-f]{8} → web-copy on vios-[0-9a-f]{8}, image [\d,]+ bytes; view from inside identical: yes", stdout);
        Assert.Matches(@"[1-9]\d* of [1-9]\d* real ids changed; the WPAR's own ids did not \(S7, S9\)", stdout);
        Assert.Contains("ldterm", stdout);
        // The failover: one node stopped abruptly; its partitions back elsewhere, one from its hot replica.
        Assert.Matches(@"stopping vios-[0-9a-f]{8} abruptly", stdout);
        Assert.Matches(@"\S+ back on vios-[0-9a-f]{8} from its hot replica, \d+\.\d\d s after the stop\n +promoted its replica at epoch \d+, memory checksum [0-9a-f]{16} \(equal to the image's\)", stdout);
        Assert.Matches(@"\d partition\(s\) running again within [\d.]+ s of vios-[0-9a-f]{8}'s stop", stdout);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.Contains("left and was removed")));
        Assert.Contains("Demo finished", stdout);
        // --data keeps each node's journal, node id and log.
        foreach (var node in new[] { "vios1", "vios2", "vios3" })
        {
            Assert.True(File.Exists(Path.Combine(_directory.Path, node, "journal.db")));
            Assert.True(File.Exists(Path.Combine(_directory.Path, node, "node.id")));
            var log = File.ReadAllText(Path.Combine(_directory.Path, node, "logs", "vios-node.log"));
            Assert.Contains(" INF ", log);
            Assert.Contains("listening at akka.tcp://vios@127.0.0.1:", log);
        }
    }

    [Fact]
    public async Task An_impossible_node_count_is_a_usage_error()
    {
        var (exitCode, _, stderr) = await ViosProcess.RunAsync(["demo", "--nodes", "0"], TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains("--nodes", stderr);
    }

    public void Dispose() => _directory.Dispose();
}
