namespace Vios.Bench.Chaos;

/// <summary>What the chaos soak does to the cluster.</summary>
public enum FaultKind
{
    /// <summary>SIGKILL a vios node; it is started again on its data once its partitions are back.</summary>
    Kill,

    /// <summary>SIGSTOP a vios node for less than the heartbeats' silence limit, then SIGCONT: nothing fails over.</summary>
    ShortPause,

    /// <summary>SIGSTOP a vios node long enough to be fenced and failed over, then SIGCONT (a long GC pause, a frozen host).</summary>
    LongPause,

    /// <summary>SIGTERM a vios node: it leaves gracefully, its partitions stop on purpose; started again and its partitions restarted.</summary>
    Leave,

    /// <summary>SIGKILL a lighthouse and start it again on the same port.</summary>
    LighthouseKill,

    /// <summary>Restart the PostgreSQL server under the cluster (only when the soak runs its own server).</summary>
    DatabaseRestart,
}

/// <param name="Number">1 for the first fault.</param>
/// <param name="Target">The vios node (or lighthouse) index the fault hits; unused for a database restart.</param>
/// <param name="Duration">How long a pause lasts, or how long a killed lighthouse or the database stays down.</param>
public sealed record Fault(int Number, FaultKind Kind, int Target, TimeSpan Duration)
{
    public override string ToString() => Kind switch
    {
        FaultKind.ShortPause or FaultKind.LongPause => $"#{Number} {Kind} node {Target} for {Duration.TotalSeconds:0.0} s",
        FaultKind.LighthouseKill => $"#{Number} {Kind} lighthouse {Target}",
        FaultKind.DatabaseRestart => $"#{Number} {Kind}, down {Duration.TotalSeconds:0.0} s",
        _ => $"#{Number} {Kind} node {Target}",
    };
}

/// <summary>
/// The soak's seeded schedule of faults: the same seed gives the same faults in the same order, so a
/// run that found a violation can be replayed. The first faults are every kind once, in a seeded
/// order, so that a short run covers them all; then kinds are drawn by weight. One fault at a time;
/// the soak waits for the cluster to be whole again before the next, so a majority always lives.
/// </summary>
public sealed class ChaosSchedule
{
    /// <summary>Shorter than the masters' silence limit (3 intervals of 500 ms): the node is late, not failed.</summary>
    public static readonly TimeSpan ShortPauseMin = TimeSpan.FromMilliseconds(300);
    public static readonly TimeSpan ShortPauseMax = TimeSpan.FromMilliseconds(1000);

    /// <summary>Long enough for the node to be fenced and its partitions failed over before it runs again.</summary>
    public static readonly TimeSpan LongPauseMin = TimeSpan.FromSeconds(8);
    public static readonly TimeSpan LongPauseMax = TimeSpan.FromSeconds(12);

    public static readonly TimeSpan GapMin = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan GapMax = TimeSpan.FromSeconds(4);

    private readonly Random _random;
    private readonly int _viosNodes;
    private readonly int _lighthouses;
    private readonly (FaultKind Kind, int Weight)[] _weights;
    private readonly Queue<FaultKind> _tour;
    private int _number;

    public ChaosSchedule(int seed, int viosNodes, int lighthouses, bool databaseRestarts)
    {
        if (viosNodes < 3) throw new ArgumentOutOfRangeException(nameof(viosNodes), viosNodes, "a majority must live through every fault: at least 3 vios nodes");
        _random = new Random(seed);
        _viosNodes = viosNodes;
        _lighthouses = lighthouses;
        var weights = new List<(FaultKind, int)> { (FaultKind.Kill, 35), (FaultKind.LongPause, 20), (FaultKind.ShortPause, 10), (FaultKind.Leave, 10) };
        // A lone lighthouse started again would seed a cluster of its own: lighthouses are killed only where another one keeps the seeds.
        if (lighthouses >= 2) weights.Add((FaultKind.LighthouseKill, 10));
        if (databaseRestarts) weights.Add((FaultKind.DatabaseRestart, 15));
        _weights = [.. weights];
        var tour = _weights.Select(w => w.Kind).ToArray();
        _random.Shuffle(tour);
        _tour = new Queue<FaultKind>(tour);
    }

    public Fault Next()
    {
        var kind = _tour.TryDequeue(out var next) ? next : Pick();
        var duration = kind switch
        {
            FaultKind.ShortPause => Between(ShortPauseMin, ShortPauseMax),
            FaultKind.LongPause => Between(LongPauseMin, LongPauseMax),
            FaultKind.LighthouseKill => Between(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)),
            FaultKind.DatabaseRestart => Between(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)),
            _ => TimeSpan.Zero,
        };
        var target = kind == FaultKind.LighthouseKill ? _random.Next(_lighthouses) : _random.Next(_viosNodes);
        return new Fault(++_number, kind, target, duration);
    }

    /// <summary>The quiet time before the next fault.</summary>
    public TimeSpan NextGap() => Between(GapMin, GapMax);

    private FaultKind Pick()
    {
        var roll = _random.Next(_weights.Sum(w => w.Weight));
        foreach (var (kind, weight) in _weights)
        {
            if (roll < weight) return kind;
            roll -= weight;
        }
        return _weights[^1].Kind;
    }

    private TimeSpan Between(TimeSpan min, TimeSpan max) => min + (max - min) * _random.NextDouble();
}
