using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Lab.Tests.Support;

/// <summary>
/// Which database the tests run on: SQLite files (the default) or, with LAB_TEST_DATABASE=postgres, a real
/// PostgreSQL server reached with the admin connection string in LAB_TEST_PG (a role that may create databases).
/// </summary>
public static class TestDatabases
{
    public const string DefaultAdminConnectionString = "Host=127.0.0.1;Username=lab;Password=lab;Database=postgres";

    public static bool IsPostgres { get; } =
        string.Equals(Environment.GetEnvironmentVariable("LAB_TEST_DATABASE"), "postgres", StringComparison.OrdinalIgnoreCase);

    public static string AdminConnectionString { get; } =
        Environment.GetEnvironmentVariable("LAB_TEST_PG") is { Length: > 0 } admin ? admin : DefaultAdminConnectionString;

    /// <summary>The value of Database:Provider for the mode.</summary>
    public static string Provider => IsPostgres ? "Postgres" : "Sqlite";

    /// <summary>A fresh PostgreSQL database name, unique to this test run.</summary>
    public static string NewName(string purpose) => $"lab_test_{purpose}_{Guid.NewGuid():N}"[..(15 + purpose.Length + 8)];

    public static async Task CreatePostgresAsync(string name)
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
        await create.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Drops the database, closing what still uses it (pooled connections of this process and others). A connection that
    /// arrives while it is dropped (a lab process on its way out) fails the drop; it is tried again a few times.
    /// </summary>
    public static async Task DropPostgresAsync(string name)
    {
        for (var attempt = 1; ; attempt++)
        {
            NpgsqlConnection.ClearAllPools();
            try
            {
                await using var admin = new NpgsqlConnection(AdminConnectionString);
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException ex) when (attempt < 5)
            {
                Console.Error.WriteLine($"Dropping test database {name} failed ({ex.SqlState}: {ex.MessageText}); trying again.");
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    public static string PostgresConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;
}

/// <summary>One database of a test fixture: a SQLite file in the fixture's directory, or a fresh PostgreSQL database dropped after.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _postgresName;

    private TestDatabase(string connectionString, string? postgresName)
    {
        ConnectionString = connectionString;
        _postgresName = postgresName;
    }

    public string ConnectionString { get; }

    /// <summary>The SQLite file, or null on PostgreSQL.</summary>
    public string? SqlitePath => _postgresName is null ? new SqliteConnectionStringBuilder(ConnectionString).DataSource : null;

    /// <summary>The Database:* settings of a process using it.</summary>
    public Dictionary<string, string?> Settings(string prefix = "Database:") => new()
    {
        [$"{prefix}Provider"] = TestDatabases.Provider,
        [$"{prefix}ConnectionString"] = ConnectionString,
    };

    public static async Task<TestDatabase> CreateAsync(TempDirectory directory, string name)
    {
        if (!TestDatabases.IsPostgres)
        {
            return new TestDatabase($"Data Source={directory.File($"{name}.db")}", null);
        }

        var database = TestDatabases.NewName(name);
        await TestDatabases.CreatePostgresAsync(database);
        return new TestDatabase(TestDatabases.PostgresConnectionString(database), database);
    }

    /// <summary>Opens a connection straight to the database, to check what the code under test wrote.</summary>
    public DbConnection Open()
    {
        DbConnection connection = _postgresName is null ? new SqliteConnection(ConnectionString) : new NpgsqlConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgresName is not null)
        {
            await TestDatabases.DropPostgresAsync(_postgresName);
        }
    }
}

/// <summary>
/// The databases of a lab of real processes in PostgreSQL mode: a fresh shop database name (the launcher creates it
/// and its payments sibling), both dropped after. In SQLite mode <see cref="Shop"/> is null and nothing happens.
/// </summary>
public sealed class TestLabDatabases : IAsyncDisposable
{
    public string? Shop { get; } = TestDatabases.IsPostgres ? TestDatabases.PostgresConnectionString(TestDatabases.NewName("shop")) : null;

    public async ValueTask DisposeAsync()
    {
        if (Shop is null)
        {
            return;
        }

        await TestDatabases.DropPostgresAsync(new NpgsqlConnectionStringBuilder(Shop).Database!);
        await TestDatabases.DropPostgresAsync(new NpgsqlConnectionStringBuilder(Cli.Launch.LabPostgres.PaymentsConnectionString(Shop)).Database!);
    }
}
