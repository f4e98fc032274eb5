using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Vios.Host.Node;

/// <summary>
/// The cluster members a node saw Up last, remembered in <c>&lt;data&gt;/known-members</c> (one address a
/// line), so that a node started again can join through them as well as through its seeds. Without
/// it, seed nodes that all restart while the vios nodes run (both lighthouses killed seconds apart)
/// find no seed to answer, and the first one joins itself: a second cluster beside the running one,
/// which every node started afterwards may join (the chaos soak saw it). Any member answers a join
/// request, so a remembered live member keeps the restarted seed in the running cluster; remembered
/// members that are gone answer nothing, and a cold start of the whole cluster forms it from its
/// first seed as before, after the seed-node timeout.
/// </summary>
public static class KnownMembers
{
    public const string FileName = "known-members";

    /// <summary>The seeds to join through: the configured ones first (their order decides which seed may join itself), then the remembered members, without this node.</summary>
    public static IReadOnlyList<string> Seeds(IReadOnlyList<string> configured, IEnumerable<string> remembered, string self)
    {
        var seeds = configured.ToList();
        foreach (var address in remembered)
            if (address != self && !seeds.Contains(address, StringComparer.Ordinal)) seeds.Add(address);
        return seeds;
    }

    /// <summary>The remembered addresses, or none when the file is missing or unreadable (a lost file costs nothing but this help).</summary>
    public static IReadOnlyList<string> Load(string dataDirectory)
    {
        try
        {
            var path = Path.Combine(dataDirectory, FileName);
            if (!File.Exists(path)) return [];
            return File.ReadAllLines(path).Select(l => l.Trim()).Where(IsAddress).Distinct(StringComparer.Ordinal).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>Writes the addresses whole (a temporary file renamed over the old one), so a crash leaves the old list or the new one.</summary>
    public static void Save(string dataDirectory, IEnumerable<string> addresses)
    {
        var path = Path.Combine(dataDirectory, FileName);
        var temporary = path + ".tmp";
        File.WriteAllLines(temporary, addresses.Order(StringComparer.Ordinal));
        File.Move(temporary, path, overwrite: true);
    }

    private static bool IsAddress(string line)
    {
        try
        {
            return line.Length > 0 && Address.Parse(line) is { Host: not null, Port: not null };
        }
        catch (UriFormatException)
        {
            return false;
        }
    }
}

/// <summary>Keeps <see cref="KnownMembers"/>' file up to date with the members this node sees Up.</summary>
public sealed class KnownMembersActor : ReceiveActor
{
    public const string Name = "known-members";

    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly string _dataDirectory;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private string? _written;

    public KnownMembersActor(string dataDirectory)
    {
        _dataDirectory = dataDirectory;
        Receive<ClusterEvent.IMemberEvent>(_ => Write());
        Receive<ClusterEvent.CurrentClusterState>(_ => Write());
    }

    public static Props Props(string dataDirectory) => Akka.Actor.Props.Create(() => new KnownMembersActor(dataDirectory));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Write()
    {
        var up = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address.ToString())
            .Where(a => a != _cluster.SelfAddress.ToString()).Order(StringComparer.Ordinal).ToList();
        // Nothing Up but this node (it is leaving, or alone): the last list stays, it may still help.
        var text = string.Join('\n', up);
        if (up.Count == 0 || text == _written) return;
        try
        {
            KnownMembers.Save(_dataDirectory, up);
            _written = text;
        }
        catch (IOException e)
        {
            _log.Warning("the known members could not be written to {0}: {1}", _dataDirectory, e.Message);
        }
    }
}
