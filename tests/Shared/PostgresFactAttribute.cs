namespace Vios.Testing;

/// <summary>
/// The PostgreSQL server the suite runs against: <c>VIOS_TEST_POSTGRES</c>, a connection string that
/// <c>.ci/run</c> always exports after starting a server on loopback.
/// </summary>
public static class TestPostgres
{
    public const string EnvironmentVariable = "VIOS_TEST_POSTGRES";

    public static string? ConnectionString => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value ? value : null;

    public static string RequiredConnectionString =>
        ConnectionString ?? throw new InvalidOperationException($"{EnvironmentVariable} is not set");

    /// <summary>
    /// A database of its own on the test server, for a test that needs journals nobody else wrote
    /// to (a cluster's HA manager acts on every partition it finds); dropped on dispose.
    /// </summary>
    public static async Task<FreshDatabase> CreateDatabaseAsync()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(RequiredConnectionString);
        var name = $"vios_{Guid.NewGuid():N}"[..21];
        await using (var connection = new Npgsql.NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var fresh = new Npgsql.NpgsqlConnectionStringBuilder(builder.ConnectionString) { Database = name };
        return new FreshDatabase(fresh.ConnectionString, builder.ConnectionString, name);
    }
}

/// <summary>A database created for one test; <see cref="DisposeAsync"/> drops it (and its connections).</summary>
public sealed class FreshDatabase(string connectionString, string serverConnectionString, string name) : IAsyncDisposable
{
    public string ConnectionString { get; } = connectionString;

    public async ValueTask DisposeAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        await using var connection = new Npgsql.NpgsqlConnection(serverConnectionString);
        await connection.OpenAsync();
        await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}

/// <summary>
/// A test that needs the PostgreSQL server. Without <c>VIOS_TEST_POSTGRES</c> it is reported as
/// skipped (visible in the summary), never as passed; in CI the variable is always set.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (TestPostgres.ConnectionString is null)
            Skip = $"{TestPostgres.EnvironmentVariable} is not set: start PostgreSQL (see .ci/run) to run this test";
    }
}
