using Vios.Host.Node;
using Vios.Testing;
using System.Text;
using Vios.Host.Ops;

namespace Vios.Host.Tests.Ops;

public sealed record CtlResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>Runs <c>vios ctl</c> in-process, as an operator would from a shell.</summary>
public static class Ctl
{
    public static async Task<CtlResult> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exitCode = await CtlCommand.RunAsync(args, stdout, stderr);
        return new CtlResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    public static Task<CtlResult> AtAsync(ViosNode node, params string[] args) => RunAsync(["--endpoint", node.CtlEndpoint(), .. args]);
}

/// <summary>Collects what is written line by line and lets a test wait for a line, for streaming commands.</summary>
public sealed class ObservedWriter : TextWriter
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly StringBuilder _partial = new();
    private TaskCompletionSource _lineWritten = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override Encoding Encoding => Encoding.UTF8;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate) return _lines.ToList();
        }
    }

    public override void Write(char value)
    {
        TaskCompletionSource? written = null;
        lock (_gate)
        {
            if (value != '\n')
            {
                _partial.Append(value);
                return;
            }
            _lines.Add(_partial.ToString().TrimEnd('\r'));
            _partial.Clear();
            written = _lineWritten;
            _lineWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        written.SetResult();
    }

    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            Task next;
            lock (_gate)
            {
                if (_lines.FirstOrDefault(match) is { } found) return found;
                next = _lineWritten.Task;
            }
            try
            {
                await next.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no matching line within {timeout.TotalSeconds} s; lines so far:\n{string.Join('\n', Lines)}");
            }
        }
    }
}
