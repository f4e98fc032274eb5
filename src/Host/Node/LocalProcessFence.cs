using System.Globalization;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Vios.Host.Node;

/// <summary>
/// A vios process as it recorded itself: its pid and start time (a reused pid is never taken for it),
/// and its cluster address and uid (a node started again at the same address is not its former incarnation).
/// </summary>
public sealed record ProcessRecord(int Pid, long StartTicks, string Address, long Uid);

/// <summary>What to do about the process of a member that was downed.</summary>
public enum LocalFenceVerdict
{
    /// <summary>The recorded process still runs: kill it.</summary>
    Kill,
    /// <summary>The member recorded no process here (another machine, or a node that never recorded itself).</summary>
    NoRecord,
    /// <summary>The member runs in this process (an in-process cluster of several ActorSystems): never.</summary>
    ThisProcess,
    /// <summary>The recorded process is gone, its pid now belongs to another process, or the record is of another incarnation.</summary>
    Gone,
}

/// <summary>
/// Power fencing (STONITH) on one machine, for SQLite. The cluster-wide state of the vios nodes of a
/// machine is SQLite files they share, and SQLite takes one writer at a time: a node frozen (SIGSTOP,
/// a suspended host) in the middle of a journal write keeps the file's write lock for as long as it
/// is frozen, and every other node's write to that file waits, the new owner's ownership fence
/// first. The chaos soak saw cold partitions of a node frozen 11.5 s come back 13.3 s after the
/// freeze for that reason, against a 5 s target. No SQLite client can break another's lock, so, as
/// Pacemaker's fencing agents power a node off before its resources move, the survivors kill the
/// process of a member the cluster has downed: the kernel releases its locks at once, SQLite rolls
/// its unfinished write back, and the failover goes on. The downed node loses nothing by it: downed,
/// it would stop its partitions and exit as soon as it ran again.
///
/// <para>Each vios node records its pid and start time in <c>processes/</c> beside the cluster-wide
/// journal; a survivor kills a downed member only if that record names a live process started at
/// the recorded time (not a reused pid), and never its own process (an in-process cluster).
/// <c>vios.node.kill-downed-local-processes</c>: <c>auto</c> (on when the cluster-wide state is
/// SQLite), <c>on</c> or <c>off</c>. On PostgreSQL a frozen client's transaction holds only its own
/// rows, and the nodes may be on other machines: <c>auto</c> is off there.</para>
/// </summary>
public static class LocalProcessFence
{
    public const string DirectoryName = "processes";

    public static string FileFor(string directory, string address) =>
        Path.Combine(directory, string.Concat(address.Split("://").Last().Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_')) + ".process");

    /// <summary>Records this process as member <paramref name="address"/> with <paramref name="uid"/> (a temporary file renamed over the old one).</summary>
    public static void Record(string directory, string address, long uid)
    {
        var pid = Environment.ProcessId;
        if (StartTicks(pid) is not { } start) return;
        Directory.CreateDirectory(directory);
        var path = FileFor(directory, address);
        File.WriteAllText(path + ".tmp", Format(new ProcessRecord(pid, start, address, uid)));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    public static string Format(ProcessRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.Pid} {record.StartTicks} {record.Address} {record.Uid}\n");

    /// <summary>The record in <paramref name="text"/>, or null when it is not one (a torn or foreign file is no reason to kill).</summary>
    public static ProcessRecord? Parse(string text)
    {
        var parts = text.Trim().Split(' ');
        return parts.Length == 4 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
               && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
               && long.TryParse(parts[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var uid)
            ? new ProcessRecord(pid, start, parts[2], uid)
            : null;
    }

    public static LocalFenceVerdict Decide(ProcessRecord? record, string address, long uid, long? runningStartTicks, int selfPid) =>
        record is null || record.Address != address ? LocalFenceVerdict.NoRecord
        : record.Uid != uid ? LocalFenceVerdict.Gone
        : record.Pid == selfPid ? LocalFenceVerdict.ThisProcess
        : runningStartTicks == record.StartTicks ? LocalFenceVerdict.Kill
        : LocalFenceVerdict.Gone;

    /// <summary>The start time of process <paramref name="pid"/> in clock ticks since boot (field 22 of <c>/proc/PID/stat</c>); null if it does not run or this is not Linux.</summary>
    public static long? StartTicks(int pid)
    {
        try
        {
            return StartTicksOf(File.ReadAllText($"/proc/{pid}/stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Field 22 of a <c>/proc/PID/stat</c> line; the command name (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.</summary>
    public static long? StartTicksOf(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0) return null;
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is field 3 (the state), so field 22 is fields[19].
        return fields.Length > 19 && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
    }

    /// <summary>Kills the recorded process of member <paramref name="address"/> with <paramref name="uid"/> if the verdict says so; returns the verdict and the pid.</summary>
    public static (LocalFenceVerdict Verdict, int? Pid) KillDowned(string directory, string address, long uid)
    {
        ProcessRecord? record;
        try
        {
            var path = FileFor(directory, address);
            record = File.Exists(path) ? Parse(File.ReadAllText(path)) : null;
        }
        catch (IOException)
        {
            record = null;
        }
        var verdict = Decide(record, address, uid, record is null ? null : StartTicks(record.Pid), Environment.ProcessId);
        if (verdict == LocalFenceVerdict.Kill && Kill(record!.Pid, Sigkill) != 0 && Marshal.GetLastPInvokeError() == Esrch)
            verdict = LocalFenceVerdict.Gone;
        return (verdict, record?.Pid);
    }

    private const int Sigkill = 9;
    private const int Esrch = 3;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>Kills the process of each vios member the cluster downs (<see cref="LocalProcessFence"/>) and says so in the log.</summary>
public sealed class LocalProcessFenceActor : ReceiveActor
{
    public const string Name = "local-process-fence";

    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HashSet<string> _handled = new(StringComparer.Ordinal);

    public LocalProcessFenceActor(string directory)
    {
        Receive<ClusterEvent.MemberDowned>(downed => Fence(directory, downed.Member));
        // Removed without this node having seen it Down (it learned of both at once): the same.
        Receive<ClusterEvent.MemberRemoved>(removed => { if (removed.PreviousStatus == MemberStatus.Down) Fence(directory, removed.Member); });
    }

    public static Props Props(string directory) => Akka.Actor.Props.Create(() => new LocalProcessFenceActor(directory));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Fence(string directory, Member member)
    {
        var address = member.Address.ToString();
        if (member.Address == _cluster.SelfAddress || !member.HasRole("vios") || !_handled.Add($"{address}#{member.UniqueAddress.Uid}")) return;
        var (verdict, pid) = LocalProcessFence.KillDowned(directory, address, member.UniqueAddress.Uid);
        if (verdict == LocalFenceVerdict.Kill)
            _log.Warning("killed process {0} of {1}, downed by the cluster: a frozen process keeps the shared SQLite files' write lock, "
                + "and the failover of its partitions waits for it (vios.node.kill-downed-local-processes)", pid, address);
        else _log.Debug("downed member {0}: its process is not killed ({1})", address, verdict);
    }
}
