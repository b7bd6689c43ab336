using Npgsql;

namespace Lab.Cli.Launch;

/// <summary>
/// The lab on a local PostgreSQL (`lab up --postgres`): the shop's database from the connection string, payments in a
/// sibling database of its own (lab_shop -> lab_payments, X -> X_payments), both created when missing.
/// </summary>
public static class LabPostgres
{
    public const string DefaultConnectionString = "Host=127.0.0.1;Username=lab;Password=lab;Database=lab_shop";

    /// <summary>How the cluster ids of the launcher's labs begin (each run has its own); membership rows are keyed by them.</summary>
    public const string ClusterIdPrefix = "lab-";

    public static string PaymentsConnectionString(string shopConnectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(shopConnectionString);
        var shop = string.IsNullOrEmpty(builder.Database) ? "lab_shop" : builder.Database;
        builder.Database = shop.EndsWith("_shop", StringComparison.Ordinal) ? shop[..^"_shop".Length] + "_payments" : shop + "_payments";
        return builder.ConnectionString;
    }

    /// <summary>
    /// Creates the shop's and payments' databases if they do not exist, and forgets the silos an earlier run left in the
    /// membership table (they are gone: the launcher stopped any leftover process first). Throws
    /// <see cref="LaunchException"/> with the server's address when PostgreSQL cannot be reached.
    /// </summary>
    public static async Task PrepareAsync(string shopConnectionString, CancellationToken cancellationToken)
    {
        var shop = new NpgsqlConnectionStringBuilder(shopConnectionString);
        if (string.IsNullOrEmpty(shop.Database))
        {
            shop.Database = "lab_shop";
        }

        var payments = new NpgsqlConnectionStringBuilder(PaymentsConnectionString(shop.ConnectionString));
        var maintenance = new NpgsqlConnectionStringBuilder(shop.ConnectionString) { Database = "postgres", Pooling = false, Timeout = 5 };
        try
        {
            await using var connection = new NpgsqlConnection(maintenance.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            foreach (var database in new[] { shop.Database!, payments.Database! })
            {
                await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
                exists.Parameters.AddWithValue("name", database);
                if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                {
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"")}\"", connection);
                    await create.ExecuteNonQueryAsync(cancellationToken);
                }
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new LaunchException($"PostgreSQL at {shop.Host}:{shop.Port} (user {shop.Username}) is not reachable or refused: {ex.Message}. " +
                                      "Start it, or pass a connection string: lab up --postgres \"Host=...;Username=...;Password=...;Database=lab_shop\".");
        }

        await ForgetOldSilosAsync(shop.ConnectionString, cancellationToken);
    }

    private static async Task ForgetOldSilosAsync(string shopConnectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(shopConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            DO $$ BEGIN
                IF to_regclass('orleans_membership') IS NOT NULL THEN
                    DELETE FROM orleans_membership WHERE deployment_id = 'lab' OR deployment_id LIKE 'lab-%';
                    DELETE FROM orleans_membership_version WHERE deployment_id = 'lab' OR deployment_id LIKE 'lab-%';
                END IF;
            END $$
            """, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
