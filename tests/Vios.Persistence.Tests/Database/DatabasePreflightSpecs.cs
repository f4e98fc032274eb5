using System.Net;
using System.Net.Sockets;
using Npgsql;
using Vios.Persistence.Database;
using Vios.Testing;

namespace Vios.Persistence.Tests.Database;

public sealed class DatabasePreflightSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Fresh_sqlite_files_are_created_in_wal_mode()
    {
        var settings = DatabaseSettings.SqliteUnder(_directory.Sub("data"));

        await DatabasePreflight.CheckAsync(settings);

        Assert.True(File.Exists(_directory.Sub("data/journal.db")));
        Assert.True(File.Exists(_directory.Sub("data/snapshots.db")));
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(settings.JournalConnection);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_snapshot_file_that_is_not_a_database_is_named_and_left_untouched()
    {
        var settings = DatabaseSettings.SqliteUnder(_directory.Path);
        var garbage = "this is not sqlite at all, just text that happens to be long enough"u8.ToArray();
        await File.WriteAllBytesAsync(_directory.Sub("snapshots.db"), garbage);

        var error = await Assert.ThrowsAsync<DatabaseUnavailableException>(() => DatabasePreflight.CheckAsync(settings));

        Assert.StartsWith("cannot open the snapshot store database (sqlite ", error.Message);
        Assert.Contains("snapshots.db", error.Message);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(_directory.Sub("snapshots.db")));
    }

    [Fact]
    public async Task A_sqlite_path_that_is_a_directory_is_refused()
    {
        Directory.CreateDirectory(_directory.Sub("journal.db"));

        var error = await Assert.ThrowsAsync<DatabaseUnavailableException>(() =>
            DatabasePreflight.CheckAsync(DatabaseSettings.SqliteUnder(_directory.Path)));

        Assert.Contains("journal.db", error.Message);
    }

    [Fact]
    public async Task A_postgres_server_that_is_down_is_named_without_its_password()
    {
        var port = FreePort();
        var settings = new DatabaseSettings(DatabaseKind.Postgres,
            $"Host=127.0.0.1;Port={port};Database=vios;Username=vios;Password=hunter2", "");

        var error = await Assert.ThrowsAsync<DatabaseUnavailableException>(() =>
            DatabasePreflight.CheckAsync(settings with { SnapshotConnection = settings.JournalConnection }));

        Assert.StartsWith($"cannot open the journal database (postgres 127.0.0.1:{port}/vios)", error.Message);
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [PostgresFact]
    public async Task A_reachable_postgres_passes()
    {
        var connection = TestPostgres.RequiredConnectionString;

        await DatabasePreflight.CheckAsync(new DatabaseSettings(DatabaseKind.Postgres, connection, connection));
    }

    [PostgresFact]
    public async Task A_postgres_database_that_does_not_exist_is_named()
    {
        var builder = new NpgsqlConnectionStringBuilder(TestPostgres.RequiredConnectionString) { Database = "no_such_db" };

        var error = await Assert.ThrowsAsync<DatabaseUnavailableException>(() => DatabasePreflight.CheckAsync(
            new DatabaseSettings(DatabaseKind.Postgres, builder.ConnectionString, builder.ConnectionString)));

        Assert.Contains("no_such_db", error.Message);
    }

    [Fact]
    public void Redact_hides_only_the_password() =>
        Assert.Equal("Host=h;Password=***;Database=d", DatabaseSettings.Redact("Host=h;Password=p;Database=d"));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => _directory.Dispose();
}
