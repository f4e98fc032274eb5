namespace Vios.Actors.Cluster;

/// <summary>
/// Send message ids for daemons of this process: a random 24-bit prefix chosen at start and a
/// 40-bit counter, so ids never repeat within a process and almost never across restarts
/// (a response to an old incarnation's message is then simply unexpected).
/// </summary>
public static class MessageIds
{
    private static readonly ulong Prefix = (ulong)Random.Shared.Next(1, 1 << 24) << 40;
    private static long _counter;

    public static ulong Next() => Prefix | ((ulong)Interlocked.Increment(ref _counter) & ((1UL << 40) - 1));
}
