using System.Globalization;
using Akka.Actor;

namespace Vios.Actors.Partitions;

/// <summary>
/// What a copy of a partition claims when it writes the partition's journals: the fence it writes
/// under (<see cref="FenceKey"/>, the partition's checkpoint stream <c>lpar-&lt;name&gt;</c>, which
/// also guards <c>lpar-&lt;name&gt;-boot</c> and <c>wpar-&lt;name&gt;-*</c>) and its ownership epoch
/// (the fencing token of <see cref="LparDefinition.OwnerEpoch"/>). Each fenced write carries
/// <see cref="Tag"/>, and the database refuses it when the fence row has gone above the epoch.
/// </summary>
public sealed record OwnerClaim(string FenceKey, long Epoch)
{
    /// <summary>The prefix of the journal tag that carries the claim; the database trigger reads tags with it.</summary>
    public const string TagPrefix = "owner-epoch:";

    /// <summary>
    /// <c>owner-epoch:&lt;epoch&gt;:&lt;fence key&gt;</c>: epoch first, so the trigger splits at the first
    /// colon after the prefix (fence keys hold letters, digits and '-').
    /// </summary>
    public string Tag => $"{TagPrefix}{Epoch.ToString(CultureInfo.InvariantCulture)}:{FenceKey}";

    public static OwnerClaim For(LparDefinition definition) => new(FenceKeyFor(definition.Name), definition.OwnerEpoch);

    /// <summary>The fence of partition <paramref name="lpar"/>: its checkpoint stream's persistence id.</summary>
    public static string FenceKeyFor(string lpar) => $"lpar-{lpar}";

    /// <summary>Reads a tag written by <see cref="Tag"/>; null for any other tag.</summary>
    public static OwnerClaim? FromTag(string tag)
    {
        if (!tag.StartsWith(TagPrefix, StringComparison.Ordinal)) return null;
        var rest = tag.AsSpan(TagPrefix.Length);
        var colon = rest.IndexOf(':');
        if (colon <= 0 || colon == rest.Length - 1) return null;
        return long.TryParse(rest[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
            ? new OwnerClaim(rest[(colon + 1)..].ToString(), epoch)
            : null;
    }
}

/// <summary>
/// The fence rows of the cluster-wide database (table <c>vios_fence</c>): the highest ownership
/// epoch each fence has been raised to. A new owner raises the fence before it reads the partition's
/// journal; the database then refuses every journal write tagged with a lower epoch.
/// </summary>
public interface IOwnershipFence
{
    /// <summary>Raises the fence to <paramref name="epoch"/> (never lowers it) and returns where it stands now.</summary>
    Task<long> RaiseAsync(string fenceKey, long epoch, CancellationToken cancellationToken = default);

    /// <summary>Where the fence stands; null if it was never raised.</summary>
    Task<long?> ReadAsync(string fenceKey, CancellationToken cancellationToken = default);

    /// <summary>
    /// Raises the fence one above where it stands (to 1 if it was never raised) and returns that
    /// epoch: the token of a new incarnation of a cluster singleton, which fences out every earlier
    /// one (<see cref="FencedSingletonActor"/>).
    /// </summary>
    Task<long> AdvanceAsync(string fenceKey, CancellationToken cancellationToken = default);

    /// <summary>Where the fences are, for log lines.</summary>
    string Describe { get; }
}

/// <summary>
/// No database fence (an ActorSystem without the vios node's persistence setup, such as a spec's):
/// every claim is taken as current. The journal writes still carry their tags.
/// </summary>
public sealed class NoOwnershipFence : IOwnershipFence
{
    public static NoOwnershipFence Instance { get; } = new();

    public Task<long> RaiseAsync(string fenceKey, long epoch, CancellationToken cancellationToken = default) => Task.FromResult(epoch);

    public Task<long?> ReadAsync(string fenceKey, CancellationToken cancellationToken = default) => Task.FromResult<long?>(null);

    public Task<long> AdvanceAsync(string fenceKey, CancellationToken cancellationToken = default) => Task.FromResult(1L);

    public string Describe => "none";
}

/// <summary>
/// Which <see cref="IOwnershipFence"/>s this ActorSystem uses: the partitions' (<see cref="Fence"/>, in
/// the cluster-wide journal's database) and the cluster singletons' (<see cref="ControlFence"/>, in
/// the control plane's). A vios node sets both before it hosts a partition or a singleton.
/// </summary>
public sealed class OwnershipFences : IExtension
{
    private volatile IOwnershipFence _fence = NoOwnershipFence.Instance;
    private volatile IOwnershipFence _control = NoOwnershipFence.Instance;

    public IOwnershipFence Fence => _fence;

    /// <summary>The fence of the singletons' journals (<c>partition-manager</c>, <c>ha-manager</c>).</summary>
    public IOwnershipFence ControlFence => _control;

    public void Use(IOwnershipFence fence) => _fence = fence;

    public void UseForControl(IOwnershipFence fence) => _control = fence;

    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private long _frozeAtTicks = -1;

    /// <summary>The pause watch found this process frozen just now (<see cref="PauseWatchActor"/>).</summary>
    public void NoteFreeze() => Interlocked.Exchange(ref _frozeAtTicks, _clock.Elapsed.Ticks);

    /// <summary>How long ago this process was last found frozen; null if never.</summary>
    public TimeSpan? SinceLastFreeze => Interlocked.Read(ref _frozeAtTicks) is var at and >= 0 ? _clock.Elapsed - TimeSpan.FromTicks(at) : null;

    public static OwnershipFences Get(ActorSystem system) => system.WithExtension<OwnershipFences, OwnershipFencesProvider>();
}

public sealed class OwnershipFencesProvider : ExtensionIdProvider<OwnershipFences>
{
    public override OwnershipFences CreateExtension(ExtendedActorSystem system) => new();
}

/// <summary>How a copy's claim compares with the fence.</summary>
public enum OwnershipVerdict
{
    /// <summary>The fence is at the claim's epoch (or was never raised): this copy owns the partition.</summary>
    Owned,

    /// <summary>The fence is above the claim: a newer owner exists; this copy must stop and release nothing.</summary>
    Lost,
}

public static class Ownership
{
    public static OwnershipVerdict Judge(long claimed, long? fence) => fence is { } f && f > claimed ? OwnershipVerdict.Lost : OwnershipVerdict.Owned;

    /// <summary>
    /// Whether a journal failure is the database's fence refusing a stale write (the trigger's message
    /// starts with <see cref="RefusalMarker"/>); the copy then reads the fence to learn whether it was its own.
    /// </summary>
    public static bool IsFenceRefusal(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
            if (e.Message.Contains(RefusalMarker, StringComparison.Ordinal)) return true;
        return error is AggregateException aggregate && aggregate.InnerExceptions.Any(IsFenceRefusal);
    }

    /// <summary>The text the database trigger's error starts with.</summary>
    public const string RefusalMarker = "vios fence:";
}

/// <summary>
/// <c>vios.partitions.ownership</c>: how a node notices that it was frozen and how long it waits for
/// the fence. Read once with the partition settings.
/// </summary>
/// <param name="PauseThreshold">A gap between ticks longer than this means the process was frozen long enough to have been failed over.</param>
/// <param name="PauseTick">How often the node's pause watch ticks.</param>
/// <param name="FenceTimeout">How long raising or reading a fence row may take before it counts as failed.</param>
/// <param name="FenceRetry">How soon a fence that could not be raised or read is tried again (the partition holds meanwhile).</param>
public sealed record OwnershipSettings(TimeSpan PauseThreshold, TimeSpan PauseTick, TimeSpan FenceTimeout, TimeSpan FenceRetry)
{
    /// <summary>After a freeze, how long a partition holds at least, reading the fence every <see cref="FenceRetry"/>, before it goes on.</summary>
    public TimeSpan SettleAfterFreeze { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A freeze at least this long makes the node down itself (null: never), when another vios
    /// member can take its partitions; see <see cref="FreezeResponse"/>.
    /// </summary>
    public TimeSpan? DownSelfAfterFreeze { get; init; } = TimeSpan.FromSeconds(5);

    public static OwnershipSettings Default { get; } = new(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1));
}

/// <summary>
/// What a node does about a freeze of its own process (SIGSTOP, a long GC pause, a suspended host)
/// beyond holding its partitions. Frozen longer than the cluster's failure detection, it has been
/// downed, or is about to be, and its partitions failed over; and its own view is stale: it takes
/// every peer for unreachable, and a split-brain decision from that view (it may find itself the
/// leader of the only reachable node) would down live nodes, or split the cluster. The chaos soak
/// saw both. So it downs itself at once, as a vSphere HA host that finds itself isolated powers its
/// virtual machines off: the cluster removes it, it exits, and it is started again as a new
/// incarnation. A node with no other vios member keeps running: nobody else could run its partitions.
/// </summary>
public static class FreezeResponse
{
    public static bool DownsItself(TimeSpan gap, TimeSpan? downSelfAfter, IReadOnlyCollection<Availability.MemberView> members, string self) =>
        downSelfAfter is { } limit && gap >= limit
        && members.Any(m => m.Vios && m.Address != self && m.Status is Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp);
}
