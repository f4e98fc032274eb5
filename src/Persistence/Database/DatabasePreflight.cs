using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Vios.Persistence.Database;

/// <summary>
/// Opens the journal and snapshot databases before the ActorSystem starts, so that a node whose
/// database is down, unreachable or corrupt refuses to start with one clear reason instead of
/// starting half-way and failing its persistent actors later.
/// </summary>
public static class DatabasePreflight
{
    /// <param name="scope">Prefix of the roles in messages: "" for the node's own database, "cluster-wide " for the shared one.</param>
    public static async Task CheckAsync(DatabaseSettings settings, CancellationToken cancellationToken = default, string scope = "")
    {
        await CheckOneAsync(settings.Kind, $"{scope}journal", settings.JournalConnection, cancellationToken);
        if (settings.SnapshotConnection != settings.JournalConnection)
            await CheckOneAsync(settings.Kind, $"{scope}snapshot store", settings.SnapshotConnection, cancellationToken);
    }

    private static async Task CheckOneAsync(DatabaseKind kind, string role, string connectionString, CancellationToken ct)
    {
        try
        {
            switch (kind)
            {
                case DatabaseKind.Sqlite:
                    await CheckSqliteAsync(connectionString, ct);
                    break;
                case DatabaseKind.Postgres:
                    await CheckPostgresAsync(connectionString, ct);
                    break;
            }
        }
        catch (DatabaseUnavailableException)
        {
            throw;
        }
        catch (Exception e) when (e is DbException or ArgumentException or InvalidOperationException
                                      or IOException or UnauthorizedAccessException or TimeoutException
                                      or System.Net.Sockets.SocketException)
        {
            throw new DatabaseUnavailableException(
                $"cannot open the {role} database ({DatabaseSettings.Describe(kind, connectionString)}): {FirstLine(e)}", e);
        }
    }

    private static async Task CheckSqliteAsync(string connectionString, CancellationToken ct)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (directory is not null) Directory.CreateDirectory(directory);

        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        // Reading the schema fails on a file that is not a SQLite database; WAL lets readers
        // (recovery, queries) proceed while the single writer appends. The mode sticks to the file.
        command.CommandText = "SELECT count(*) FROM sqlite_master; PRAGMA journal_mode=WAL;";
        await command.ExecuteScalarAsync(ct);
    }

    private static async Task CheckPostgresAsync(string connectionString, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // A down server should be reported within seconds, not after Npgsql's 15 s default.
        if (!connectionString.Contains("Timeout", StringComparison.OrdinalIgnoreCase)) builder.Timeout = 5;
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        await command.ExecuteScalarAsync(ct);
    }

    private static string FirstLine(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null && string.IsNullOrWhiteSpace(inner.Message)) inner = inner.InnerException;
        var text = inner.Message;
        if (e is NpgsqlException { InnerException: { } cause } && cause is not NpgsqlException) text += $" ({cause.Message})";
        var newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }
}
