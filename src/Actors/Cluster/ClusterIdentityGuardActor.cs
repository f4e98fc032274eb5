using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Vios.Actors.Cluster;

/// <summary>
/// Keeps this vios node on one cluster-wide state with the others (<c>/user/cluster-identity</c>):
/// once this node is Up it announces its identity and journal to every Up vios member (and to each
/// that comes Up later), until each has answered with its own. Of two members that disagree the
/// younger leaves (<see cref="ClusterIdentityCheck"/>): this node calls <c>refuse</c> if it is the
/// younger, and logs an error naming the refused node if it is the older.
/// </summary>
public sealed class ClusterIdentityGuardActor : ReceiveActor, IWithTimers
{
    public const string Name = "cluster-identity";
    private const string AnnounceTimer = "announce";

    private readonly ClusterMemberIdentity _own;
    private readonly Action<string> _refuse;
    private readonly TimeSpan _retry;
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, Member> _members = [];
    private readonly HashSet<Address> _unanswered = [];
    private readonly Dictionary<Address, ClusterMemberIdentity> _heard = [];
    private readonly Dictionary<Address, ClusterIdentityVerdict> _judged = [];
    private Member? _self;
    private bool _refused;

    /// <param name="refuse">Called once, with the refusal line, when an older member uses another journal.</param>
    /// <param name="retry">How long an announcement waits for its answer before it is sent again.</param>
    public ClusterIdentityGuardActor(ClusterMemberIdentity own, Action<string> refuse, TimeSpan retry)
    {
        _own = own;
        _refuse = refuse;
        _retry = retry;

        Receive<ClusterEvent.MemberUp>(up => Up(up.Member));
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            var address = removed.Member.Address;
            // A member that announced another identity and left before this node saw it Up was younger
            // (an older one is Up in the view this node joined with): it was refused, and left.
            if (_self is not null && !_judged.ContainsKey(address) && _heard.TryGetValue(address, out var left)
                && ClusterIdentityCheck.Judge(_own, left, otherIsOlder: false) == ClusterIdentityVerdict.OtherRefused)
                _log.Error("{0}", ClusterIdentityCheck.RefusedLine(_own, left));
            _members.Remove(address);
            _unanswered.Remove(address);
            _heard.Remove(address);
            _judged.Remove(address);
        });
        Receive<AnnounceClusterIdentity>(announce =>
        {
            Sender.Tell(new ClusterIdentityAcknowledged(_own));
            Heard(announce.From);
        });
        Receive<ClusterIdentityAcknowledged>(acknowledged =>
        {
            if (TryParse(acknowledged.From.Address) is { } address) _unanswered.Remove(address);
            Heard(acknowledged.From);
        });
        Receive<GetClusterIdentityStatus>(_ => Sender.Tell(new ClusterIdentityStatus(_own,
            _judged.Where(j => j.Value == ClusterIdentityVerdict.Agree).Select(j => j.Key.ToString()).Order(StringComparer.Ordinal).ToList(),
            _judged.Where(j => j.Value != ClusterIdentityVerdict.Agree).Select(j => j.Key.ToString()).Order(StringComparer.Ordinal).ToList())));
        Receive<AnnounceAgain>(_ =>
        {
            foreach (var address in _unanswered) Announce(address);
            if (_unanswered.Count > 0) Timers.StartSingleTimer(AnnounceTimer, AnnounceAgain.Instance, _retry);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ClusterMemberIdentity own, Action<string> refuse, TimeSpan retry) =>
        Akka.Actor.Props.Create(() => new ClusterIdentityGuardActor(own, refuse, retry));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Up(Member member)
    {
        if (!member.HasRole("vios")) return;
        if (member.Address == _cluster.SelfAddress)
        {
            _self = member;
            foreach (var address in _members.Keys) StartAnnouncing(address);
        }
        else
        {
            _members[member.Address] = member;
            if (_self is not null) StartAnnouncing(member.Address);
        }
        foreach (var address in _heard.Keys.ToList()) Judge(address);
    }

    private void StartAnnouncing(Address address)
    {
        _unanswered.Add(address);
        Announce(address);
        if (!Timers.IsTimerActive(AnnounceTimer)) Timers.StartSingleTimer(AnnounceTimer, AnnounceAgain.Instance, _retry);
    }

    private void Announce(Address address) =>
        Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(new AnnounceClusterIdentity(_own));

    private void Heard(ClusterMemberIdentity other)
    {
        if (TryParse(other.Address) is not { } address) return;
        _heard[address] = other;
        Judge(address);
    }

    /// <summary>Judged once both this node and the other are known Up, so their ages compare.</summary>
    private void Judge(Address address)
    {
        if (_self is null || !_members.TryGetValue(address, out var member) || !_heard.TryGetValue(address, out var other)) return;
        if (_judged.ContainsKey(address)) return;
        var verdict = ClusterIdentityCheck.Judge(_own, other, otherIsOlder: member.IsOlderThan(_self));
        _judged[address] = verdict;
        switch (verdict)
        {
            case ClusterIdentityVerdict.Agree:
                _log.Debug("vios node {0} uses the same cluster-wide state ({1})", other.Node, other.Identity.Describe());
                break;
            case ClusterIdentityVerdict.OtherRefused:
                _log.Error("{0}", ClusterIdentityCheck.RefusedLine(_own, other));
                break;
            case ClusterIdentityVerdict.RefuseThisNode when !_refused:
                _refused = true;
                _log.Error("{0}", ClusterIdentityCheck.LeavingLine(_own, other));
                _refuse(ClusterIdentityCheck.RefusalLine(_own, other));
                break;
        }
    }

    private static Address? TryParse(string address)
    {
        try
        {
            return Address.Parse(address);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return null;
        }
    }

    private sealed record AnnounceAgain
    {
        public static AnnounceAgain Instance { get; } = new();
    }
}
