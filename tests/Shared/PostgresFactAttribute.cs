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
