namespace Vios.Host.Tests.Ops;

/// <summary>Polls a condition until it holds or the deadline passes; the poll interval is not a synchronisation.</summary>
public static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public static Task HoldsAsync(Func<bool> condition, TimeSpan timeout, Func<string> because) =>
        HoldsAsync(() => Task.FromResult(condition()), timeout, because);

    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {timeout.TotalSeconds} s: {because()}");
            await Task.Delay(PollInterval);
        }
    }
}
