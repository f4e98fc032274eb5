using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Vios.Bench.Chaos;

/// <summary>
/// The soak's own PostgreSQL server (issue 12: the soak restarts the database): a throw-away cluster
/// made with <c>initdb</c> under the soak's directory, on a free loopback port, started and stopped
/// with <c>pg_ctl</c> as the tests' CI does. As root, the server runs as an unprivileged user
/// (<c>VIOS_CI_PG_USER</c>, default vios-ci, created if missing). A restart is an immediate stop (the
/// server's processes die as in a crash, the next start replays its WAL), a pause, and a start.
/// Durability is the server's default: a commit is acknowledged once its WAL is written, so a
/// restart loses nothing acknowledged (with <c>synchronous_commit = off</c>, as the first soaks ran,
/// the soak "lost" an epoch the server had acknowledged and forgot in its crash). <c>fsync = off</c>
/// stays: the fault is the server's processes dying, not the machine's, and the kernel keeps what
/// they wrote. Lock waits over a second and statements over two are logged in <c>postgres.log</c>.
/// </summary>
public sealed class ChaosPostgres : IAsyncDisposable
{
    private const string Database = "vios_chaos";
    private readonly string _bin = Environment.GetEnvironmentVariable("VIOS_CI_PG_BIN") ?? "/usr/lib/postgresql/15/bin";
    private readonly string? _user = Environment.UserName == "root" ? Environment.GetEnvironmentVariable("VIOS_CI_PG_USER") ?? "vios-ci" : null;
    private readonly string _directory;
    private readonly int _port = FreePort();
    private bool _running;

    private ChaosPostgres(string directory) => _directory = directory;

    public string ConnectionString => $"Host=127.0.0.1;Port={_port};Database={Database};Username=postgres;Password=postgres;Pooling=true";

    public string Describe => $"PostgreSQL at 127.0.0.1:{_port} ({_directory})";

    public static async Task<ChaosPostgres> StartAsync(string root)
    {
        var server = new ChaosPostgres(Path.Combine(root, "pg"));
        try
        {
            await server.InitAsync();
            await server.StartServerAsync();
            await server.RunAsync(Path.Combine(server._bin, "createdb"), ["-h", "127.0.0.1", "-p", server.Port, "-U", "postgres", Database], asServer: false);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private string Port => _port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The database restart fault: the server dies at once, stays down for <paramref name="down"/>, and starts again.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        await StopAsync(immediate: true);
        await Task.Delay(down);
        await StartServerAsync();
    }

    private async Task InitAsync()
    {
        if (_user is not null)
        {
            var exists = await RunAsync("id", ["-u", _user], asServer: false, throwOnError: false);
            if (exists != 0) await RunAsync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _user], asServer: false);
        }
        Directory.CreateDirectory(_directory);
        if (_user is not null) await RunAsync("chown", [_user, _directory], asServer: false);
        await RunAsync(Path.Combine(_bin, "initdb"), ["-D", DataDirectory, "-A", "trust", "-U", "postgres", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], asServer: true);
        await RunAsync("mkdir", ["-p", Path.Combine(_directory, "sock")], asServer: true);
    }

    private string DataDirectory => Path.Combine(_directory, "data");

    private async Task StartServerAsync()
    {
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-l", Path.Combine(_directory, "postgres.log"), "-w", "-t", "60",
            "-o", $"-k {Path.Combine(_directory, "sock")} -p {Port} -h 127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300"
                  + " -c log_lock_waits=on -c deadlock_timeout=1s -c log_min_duration_statement=2000",
            "start"], asServer: true);
        _running = true;
    }

    private async Task StopAsync(bool immediate)
    {
        if (!_running) return;
        _running = false;
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "30", "stop"], asServer: true, throwOnError: false);
    }

    private async Task<int> RunAsync(string file, IReadOnlyList<string> arguments, bool asServer, bool throwOnError = true)
    {
        var info = asServer && _user is not null ? new ProcessStartInfo("runuser", ["-u", _user, "--", file, .. arguments]) : new ProcessStartInfo(file, arguments);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.WorkingDirectory = Directory.Exists(_directory) ? _directory : Path.GetTempPath();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (throwOnError && process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', arguments)} exited {process.ExitCode}: {await error}{await output}");
        return process.ExitCode;
    }

    public async ValueTask DisposeAsync() => await StopAsync(immediate: false);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
