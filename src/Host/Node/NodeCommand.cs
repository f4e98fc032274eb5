using System.CommandLine;
using System.Runtime.InteropServices;
using Vios.Persistence.Database;

namespace Vios.Host.Node;

/// <summary><c>vios node</c>: runs one lighthouse or vios node until Ctrl-C, SIGTERM or being downed.</summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var role = new Option<NodeRole>("--role") { Description = "lighthouse (seed only) or vios", DefaultValueFactory = _ => NodeRole.Vios };
        var host = new Option<string?>("--host") { Description = "address to listen on and advertise (default 127.0.0.1; env CLUSTER_IP)" };
        var port = new Option<int?>("--port") { Description = "cluster port (lighthouse 4053, vios any free port; env CLUSTER_PORT)" };
        var seeds = new Option<string[]>("--seeds")
        {
            Description = "seed nodes, host:port or akka.tcp://vios@host:port, comma or space separated (env CLUSTER_SEEDS)",
            AllowMultipleArgumentsPerToken = true,
        };
        var data = new Option<string?>("--data") { Description = "data directory: node id, SQLite files, logs (default ./vios-data)" };
        var shared = new Option<string?>("--shared-data")
        {
            Description = "directory the vios nodes of this machine share: cluster-wide state on SQLite (default: shared beside --data, so ./data/vios1 and ./data/vios2 share ./data/shared)",
        };
        var opsHost = new Option<string?>("--ops-host") { Description = "address of the ops endpoint (default 127.0.0.1)" };
        var opsPort = new Option<int?>("--ops-port") { Description = "port of the ops endpoint (default 9110; 0 picks a free one)" };
        var opsToken = new Option<string?>("--ops-token")
        {
            Description = "token `vios ctl` must present (required off loopback; shows in the process list: prefer --ops-token-file or env VIOS_OPS_TOKEN)",
        };
        var opsTokenFile = new Option<string?>("--ops-token-file") { Description = "file holding the ops token (instead of --ops-token)", HelpName = "PATH" };
        var config = new Option<string?>("--config") { Description = "extra HOCON file layered over hocon/" };
        var db = new Option<DatabaseKind>("--db") { Description = "sqlite (embedded, default) or postgres", DefaultValueFactory = _ => DatabaseKind.Sqlite };
        var dbConnection = new Option<string?>("--db-connection") { Description = "connection string (required for postgres)" };
        var logLevel = new Option<string?>("--log-level") { Description = "console log level: debug, info, warning, error, off" };
        var name = new Option<string?>("--name") { Description = "node name (default: stored in <data>/node.id)" };

        var command = new Command("node", "Run a lighthouse or vios node until Ctrl-C or SIGTERM")
        {
            role, host, port, seeds, data, shared, opsHost, opsPort, opsToken, opsTokenFile, config, db, dbConnection, logLevel, name,
        };
        command.SetAction(async (parse, _) => await RunAsync(new NodeOptions
        {
            Role = parse.GetValue(role),
            Host = parse.GetValue(host),
            Port = parse.GetValue(port),
            Seeds = parse.GetValue(seeds)?.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList(),
            DataDirectory = parse.GetValue(data),
            SharedDirectory = parse.GetValue(shared),
            OpsHost = parse.GetValue(opsHost),
            OpsPort = parse.GetValue(opsPort),
            OpsToken = parse.GetValue(opsToken),
            OpsTokenFile = parse.GetValue(opsTokenFile),
            ConfigFile = parse.GetValue(config),
            Database = parse.GetValue(db),
            DatabaseConnection = parse.GetValue(dbConnection),
            LogLevel = parse.GetValue(logLevel),
            Name = parse.GetValue(name),
        }));
        return command;
    }

    /// <summary>The one line a started node always prints; its shape is stable for scripts.</summary>
    public static string ReadyLine(ViosNode node) =>
        $"vios node ready: name={node.Name} role={node.Role.ToString().ToLowerInvariant()} address={node.SelfAddress} ops={node.OpsEndpoint} data={node.DataDirectory}";

    private static async Task<int> RunAsync(NodeOptions options)
    {
        if (options.Database == DatabaseKind.Postgres && options.DatabaseConnection is null && options.ConfigFile is null)
        {
            Console.Error.WriteLine("vios: --db postgres needs --db-connection \"Host=...;Database=...;Username=...\" (or a --config that sets it)");
            return 1;
        }

        ViosNode node;
        try
        {
            node = await ViosNode.StartAsync(options);
        }
        catch (NodeStartupException e)
        {
            Console.Error.WriteLine($"vios: node not started: {e.Message}");
            return 1;
        }

        // Ctrl-C and SIGTERM leave the cluster gracefully; a second signal is left to the default (immediate exit).
        // Installed before the ready line: a signal sent as soon as the line is read (a service manager, a
        // test) would otherwise find the runtime's default handling, which exits without leaving.
        var stopping = 0;
        void Leave(PosixSignalContext context)
        {
            if (Interlocked.Exchange(ref stopping, 1) == 1) return;
            context.Cancel = true;
            Console.Out.WriteLine($"vios: {context.Signal} received, leaving the cluster");
            _ = node.StopAsync();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Leave);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Leave);

        // Printed whatever the log level: scripts and the process tests wait for this line.
        Console.Out.WriteLine(ReadyLine(node));

        await node.WhenTerminated;
        await node.DisposeAsync();
        if (node.Refusal is { } refusal)
        {
            // Non-zero: this node must not run beside the cluster until its --shared-data or database is fixed.
            Console.Error.WriteLine($"vios: node refused: {refusal}");
            return 1;
        }
        if (node.WasDowned)
        {
            // Non-zero, so a service manager restarts a node the cluster gave up on.
            Console.Error.WriteLine("vios: node stopped: the cluster downed this node");
            return 1;
        }
        Console.Out.WriteLine("vios: node stopped");
        return 0;
    }
}
