using System.Text.Json;
using Vios.Host.Ops;

namespace Vios.Bench;

/// <summary>What one `vios ctl --json` command returned: its JSON output, or why it failed.</summary>
public sealed record CtlReply(JsonElement? Json, string? Error)
{
    public bool Ok => Error is null;

    public JsonElement Value => Json ?? throw new InvalidOperationException($"no JSON output{(Error is null ? "" : $": {Error}")}");
}

/// <summary>
/// `vios ctl --json PALETTE COMMAND ...` without a process: the same <see cref="OpsClient"/> the ctl
/// command uses, called in this process, so a poll costs one loopback connection (a few ms) instead
/// of starting `dotnet vios.dll ctl` (about 150 ms). Arguments are given by their spec names, as
/// <see cref="OpsRequest.Args"/> carries them: <c>("name", "payload"), ("interval", "200"), ("verify", "true")</c>.
/// </summary>
public static class CtlClient
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public static async Task<CtlReply> RunAsync(
        string endpoint, string palette, string command, IReadOnlyDictionary<string, string>? args = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (!OpsEndpointAddress.TryParse(endpoint, out var address)) return new CtlReply(null, $"'{endpoint}' is not HOST:PORT");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout ?? DefaultTimeout);
        JsonElement? json = null;
        var outcome = await new OpsClient(address).SendAsync(new OpsRequest(palette, command, args, Json: true), streams: false, reply =>
        {
            json ??= reply.Json?.Clone();
            return ValueTask.CompletedTask;
        }, limit.Token);
        if (outcome.ExitCode != ExitCodes.Success) return new CtlReply(json, outcome.Error ?? $"exit code {outcome.ExitCode}");
        return new CtlReply(json, null);
    }

    /// <summary>Runs the command and throws with its error if it failed (setup steps, not polls).</summary>
    public static async Task<JsonElement> RequireAsync(
        string endpoint, string palette, string command, IReadOnlyDictionary<string, string>? args = null, TimeSpan? timeout = null)
    {
        var reply = await RunAsync(endpoint, palette, command, args, timeout);
        if (!reply.Ok) throw new InvalidOperationException($"vios ctl {palette} {command} {Describe(args)} at {endpoint}: {reply.Error}");
        return reply.Json ?? default;
    }

    /// <summary>Retries the command every <paramref name="poll"/> until <paramref name="accept"/> holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<JsonElement> AwaitAsync(
        string endpoint, string palette, string command, IReadOnlyDictionary<string, string>? args, Func<JsonElement, bool> accept,
        TimeSpan timeout, string what, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        CtlReply? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await RunAsync(endpoint, palette, command, args, TimeSpan.FromSeconds(10));
            if (last is { Ok: true, Json: { } json } && accept(json)) return json;
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(200));
        }
        throw new TimeoutException($"{what}: not within {timeout.TotalSeconds:0} s; last `{palette} {command}` answer: {last?.Error ?? last?.Json?.GetRawText() ?? "none"}");
    }

    public static Dictionary<string, string> Args(params (string Name, string Value)[] args) =>
        args.ToDictionary(a => a.Name, a => a.Value);

    private static string Describe(IReadOnlyDictionary<string, string>? args) =>
        args is null ? "" : string.Join(' ', args.Select(a => $"{a.Key}={a.Value}"));
}
