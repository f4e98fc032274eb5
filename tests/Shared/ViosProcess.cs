using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Vios.Testing;

/// <summary>
/// A real `vios` process (the built vios.dll run by `dotnet`), its output captured line by line so
/// tests can wait for what it prints instead of sleeping. <see cref="Kill"/> sends SIGKILL.
/// </summary>
public sealed partial class ViosProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Seen)> _waiters = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ViosProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public string Description { get; }
    public int Id => _process.Id;
    public IEnumerable<string> Output => _lines;
    public Task Exited => _exited.Task;
    public int ExitCode => _process.ExitCode;

    /// <summary>The vios.dll next to the test assembly (test projects reference the host).</summary>
    public static string ViosDll => Path.Combine(AppContext.BaseDirectory, "vios.dll");

    public static ViosProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ViosDll);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // A clean environment for what vios reads, so the machine's settings never leak in.
        foreach (var name in new[] { "CLUSTER_IP", "CLUSTER_PORT", "CLUSTER_SEEDS", "VIOS_OPS_TOKEN" }) info.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) info.Environment[name] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var vios = new ViosProcess(process, string.Join(' ', info.ArgumentList.Skip(1)));
        process.OutputDataReceived += (_, e) => vios.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => vios.OnLine(e.Data);
        process.Exited += (_, _) => vios._exited.TrySetResult();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return vios;
    }

    /// <summary>Runs `vios args...` to completion (ctl commands) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunAsync(
        IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(ViosDll);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        info.Environment.Remove("VIOS_OPS_TOKEN");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) info.Environment[name] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"vios {string.Join(' ', info.ArgumentList.Skip(1))} did not exit within {timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Waits for a line of output matching <paramref name="match"/> (including lines already printed).</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            var existing = _lines.FirstOrDefault(match);
            if (existing is not null) return existing;
            _waiters.Add((match, seen));
        }
        string reason;
        try
        {
            var finished = await Task.WhenAny(seen.Task, _exited.Task).WaitAsync(timeout);
            if (finished == seen.Task) return await seen.Task;
            // Exited can be raised before the last lines are read: WaitForExitAsync waits for the end of
            // the redirected output (a refusal printed just before exit 1 was missed this way, in one run).
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            lock (_waiters)
                if (_lines.FirstOrDefault(match) is { } last) return last;
            reason = $"the process exited with {_process.ExitCode}";
        }
        catch (TimeoutException)
        {
            reason = $"not within {timeout.TotalSeconds:0} s";
        }
        throw new TimeoutException($"{Description}: {what}: {reason}. Output:\n{string.Join('\n', _lines.TakeLast(40))}");
    }

    /// <summary>Waits for the node's start line and returns its cluster address and ops endpoint.</summary>
    public async Task<(string Address, string OpsEndpoint)> WaitForStartAsync(TimeSpan timeout)
    {
        var line = await WaitForLineAsync(l => StartLine().IsMatch(l), timeout, "node ready line");
        var match = StartLine().Match(line);
        return (match.Groups["address"].Value, match.Groups["ops"].Value);
    }

    /// <summary>SIGKILL: the process gets no chance to leave the cluster or flush anything.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: false);
    }

    /// <summary>SIGSTOP: the process is frozen where it is (a long GC pause, a suspended host) until <see cref="Continue"/>.</summary>
    public void Stop()
    {
        if (!_process.HasExited && SendSignal(_process.Id, Sigstop) != 0)
            throw new InvalidOperationException($"kill -STOP {_process.Id} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>SIGCONT: a process frozen by <see cref="Stop"/> runs again.</summary>
    /// <remarks>A process killed while frozen (the survivors' power fencing) is left as it is.</remarks>
    public void Continue()
    {
        if (!_process.HasExited && SendSignal(_process.Id, Sigcont) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != Esrch)
            throw new InvalidOperationException($"kill -CONT {_process.Id} failed: errno {errno}");
    }

    /// <summary>SIGTERM: the node leaves the cluster gracefully.</summary>
    public void Terminate()
    {
        if (!_process.HasExited) _ = SendSignal(_process.Id, Sigterm);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _exited.Task.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_waiters)
        {
            _lines.Enqueue(line);
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                waiter.Seen.TrySetResult(line);
                _waiters.Remove(waiter);
            }
        }
    }

    private const int Sigterm = 15;
    // Linux numbers (x86-64 and arm64).
    private const int Sigcont = 18;
    private const int Sigstop = 19;
    private const int Esrch = 3;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    [GeneratedRegex(@"^vios node ready: name=(?<name>\S+) role=\S+ address=(?<address>\S+) ops=(?<ops>\S+) data=")]
    private static partial Regex StartLine();
}
