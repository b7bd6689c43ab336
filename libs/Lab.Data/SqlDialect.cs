using System.Data.Common;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Lab.Data;

/// <summary>Which database a process's repositories talk to (setting Database:Provider).</summary>
public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Everything that differs between the providers, in one place: connections, how a write transaction takes its
/// lock, list parameters, schema types, the seed's bulk load and cross-process start-up locks. Repositories write
/// portable SQL (named parameters, ON CONFLICT upserts, LIMIT/OFFSET) and ask the dialect for the rest.
/// </summary>
public abstract class SqlDialect : IDisposable
{
    /// <summary>The OpenTelemetry db.system.name.</summary>
    public abstract string SystemName { get; }

    public abstract DatabaseProvider Provider { get; }

    /// <summary>The database's name for db.namespace.</summary>
    public abstract string DatabaseName { get; }

    public static SqlDialect Create(DatabaseOptions options) => options.Provider switch
    {
        DatabaseProvider.Postgres => new PostgresDialect(options),
        _ => new SqliteDialect(options),
    };

    /// <summary>An open connection, set up for the lab (SQLite: busy timeout and sync mode per connection).</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a write transaction and takes its lock up front, so the wait for it can be measured on its own:
    /// SQLite: BEGIN IMMEDIATE (the database's one write lock); PostgreSQL: BEGIN, then the SKU's inventory row
    /// with SELECT ... FOR UPDATE when the write is about one SKU (other writes lock rows as their statements run).
    /// </summary>
    public abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, string? sku, CancellationToken cancellationToken);

    /// <summary>
    /// Begins a read transaction at <paramref name="isolation"/> (PostgreSQL: the level it names; SQLite: deferred, which
    /// in WAL mode reads one snapshot whatever the level). Returns how the reads are isolated, for the span.
    /// </summary>
    public abstract Task<(DbTransaction Transaction, string Isolation)> BeginReadAsync(DbConnection connection, System.Data.IsolationLevel isolation,
        CancellationToken cancellationToken);

    /// <summary>"column is one of the list parameter": Dapper expands IN @list for SQLite; Npgsql takes an array.</summary>
    public abstract string InList(string column, string parameter);

    /// <summary>Translates the portable DDL (SQLite spelling: INTEGER, INTEGER PRIMARY KEY AUTOINCREMENT) to this provider.</summary>
    public abstract string Ddl(string portable);

    /// <summary>A query of the column names of <paramref name="table"/> (for set-up code that adds columns to older databases).</summary>
    public abstract string ColumnsOf(string table);

    /// <summary>The database's plan for <paramref name="statement"/> with <paramref name="parameters"/>, one step per line.</summary>
    public abstract Task<string> ExplainAsync(DbConnection connection, DbTransaction? transaction, string statement, object? parameters,
        CancellationToken cancellationToken);

    /// <summary>
    /// Holds a lock that serialises schema set-up and seeding across processes for the life of
    /// <paramref name="transaction"/> (SQLite: the write lock BEGIN IMMEDIATE already took).
    /// </summary>
    public abstract Task LockForSetupAsync(DbConnection connection, DbTransaction transaction, string purpose);

    /// <summary>Per-database settings made once at set-up (SQLite: WAL journal).</summary>
    public abstract Task PrepareDatabaseAsync(DbConnection connection);

    /// <summary>Closes the idle connections of this process's pool, as a restart would lose them; the next calls open new ones.</summary>
    public abstract void ClearPool();

    /// <summary>Writes <paramref name="rows"/> into <paramref name="table"/>: prepared inserts on SQLite, binary COPY on PostgreSQL.</summary>
    public abstract Task BulkInsertAsync(DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns,
        IEnumerable<object?[]> rows, CancellationToken cancellationToken);

    public virtual void Dispose()
    {
    }
}

internal sealed class SqliteDialect : SqlDialect
{
    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;

    public SqliteDialect(DatabaseOptions options)
    {
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString)
        {
            DefaultTimeout = options.BusyTimeoutSeconds,
            Pooling = true,
        };
        _connectionString = builder.ConnectionString;
        _busyTimeoutMs = options.BusyTimeoutSeconds * 1000;
        DatabaseName = Path.GetFileNameWithoutExtension(builder.DataSource);
        EnsureDirectory(builder.DataSource);
    }

    public override string SystemName => "sqlite";
    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;
    public override string DatabaseName { get; }

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var pragma = connection.CreateCommand();
        // Per connection: wait for the write lock instead of failing at once; WAL makes NORMAL sync safe.
        pragma.CommandText = $"PRAGMA busy_timeout = {_busyTimeoutMs}; PRAGMA synchronous = NORMAL;";
        await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    // Microsoft.Data.Sqlite begins with BEGIN IMMEDIATE (deferred: false): the write lock is taken here.
    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, string? sku, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

    public override Task<(DbTransaction Transaction, string Isolation)> BeginReadAsync(DbConnection connection, System.Data.IsolationLevel isolation,
        CancellationToken cancellationToken) =>
        Task.FromResult<(DbTransaction, string)>((((SqliteConnection)connection).BeginTransaction(deferred: true), "snapshot (SQLite WAL)"));

    public override string InList(string column, string parameter) => $"{column} IN {parameter}";

    public override string Ddl(string portable) => portable;

    public override string ColumnsOf(string table) => $"SELECT name FROM pragma_table_info('{table}')";

    // EXPLAIN QUERY PLAN answers (id, parent, notused, detail): "SCAN orders" or "SEARCH orders USING INDEX ...".
    public override async Task<string> ExplainAsync(DbConnection connection, DbTransaction? transaction, string statement, object? parameters,
        CancellationToken cancellationToken)
    {
        var steps = await connection.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>(
            new CommandDefinition($"EXPLAIN QUERY PLAN {statement}", parameters, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return string.Join('\n', steps.Select(step => step.Detail));
    }

    public override Task LockForSetupAsync(DbConnection connection, DbTransaction transaction, string purpose) => Task.CompletedTask;

    public override Task PrepareDatabaseAsync(DbConnection connection) => connection.ExecuteAsync("PRAGMA journal_mode = WAL;");

    public override void ClearPool()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    public override async Task BulkInsertAsync(DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns,
        IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select((_, i) => $"${i + 1}"))})";
        for (var i = 1; i <= columns.Count; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = $"${i}";
            command.Parameters.Add(parameter);
        }

        command.Prepare();
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                command.Parameters[i].Value = row[i] ?? DBNull.Value;
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static void EnsureDirectory(string dataSource)
    {
        if (string.IsNullOrEmpty(dataSource) || dataSource == ":memory:" || dataSource.StartsWith("file:", StringComparison.Ordinal))
        {
            return;
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(dataSource));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
    }
}

internal sealed partial class PostgresDialect : SqlDialect
{
    private const string LockInventoryRow = "SELECT 1 FROM inventory WHERE sku = @sku FOR UPDATE";

    private readonly NpgsqlDataSource _dataSource;

    public PostgresDialect(DatabaseOptions options)
    {
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        // lock_timeout is PostgreSQL's busy timeout: how long a statement waits for a row or table lock before it fails.
        builder.Options = $"{builder.Options} -c lock_timeout={options.BusyTimeoutSeconds * 1000}".Trim();
        // The pipeline's own semaphore bounds the connections; the driver's pool must never be the narrower one.
        builder.MaxPoolSize = Math.Max(builder.MaxPoolSize, options.MaxConnections + 4);
        DatabaseName = builder.Database ?? "";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public override string SystemName => "postgresql";
    public override DatabaseProvider Provider => DatabaseProvider.Postgres;
    public override string DatabaseName { get; }

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, string? sku, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (sku is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition(LockInventoryRow, new { sku }, transaction, cancellationToken: cancellationToken))
                .ConfigureAwait(false);
        }

        return transaction;
    }

    public override async Task<(DbTransaction Transaction, string Isolation)> BeginReadAsync(DbConnection connection, System.Data.IsolationLevel isolation,
        CancellationToken cancellationToken) =>
        (await connection.BeginTransactionAsync(isolation, cancellationToken).ConfigureAwait(false), isolation.ToString());

    public override string InList(string column, string parameter) => $"{column} = ANY({parameter})";

    public override string Ddl(string portable) =>
        IntegerType().Replace(AutoIncrementKey().Replace(portable, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"), "BIGINT");

    public override string ColumnsOf(string table) =>
        $"SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}'";

    // EXPLAIN answers one text row per plan node: "Seq Scan on orders" or "Index Scan using ix_orders_customer on orders".
    public override async Task<string> ExplainAsync(DbConnection connection, DbTransaction? transaction, string statement, object? parameters,
        CancellationToken cancellationToken)
    {
        var lines = await connection.QueryAsync<string>(
            new CommandDefinition($"EXPLAIN {statement}", parameters, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return string.Join('\n', lines.Select(line => line.Trim()));
    }

    // A transaction-scoped advisory lock: released at commit or rollback, even if the process dies.
    public override Task LockForSetupAsync(DbConnection connection, DbTransaction transaction, string purpose) =>
        connection.ExecuteAsync("SELECT pg_advisory_xact_lock(hashtext(@purpose))", new { purpose }, transaction);

    public override Task PrepareDatabaseAsync(DbConnection connection) => Task.CompletedTask;

    public override void ClearPool() => _dataSource.Clear();

    public override async Task BulkInsertAsync(DbConnection connection, DbTransaction transaction, string table, IReadOnlyList<string> columns,
        IEnumerable<object?[]> rows, CancellationToken cancellationToken)
    {
        var npgsql = (NpgsqlConnection)connection;
        await using var importer = await npgsql.BeginBinaryImportAsync(
            $"COPY {table} ({string.Join(", ", columns)}) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
            foreach (var value in row)
            {
                // Binary COPY wants the column's exact type: every integer column is BIGINT here.
                switch (value)
                {
                    case null or DBNull:
                        await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                        break;
                    case int number:
                        await importer.WriteAsync((long)number, cancellationToken).ConfigureAwait(false);
                        break;
                    default:
                        await importer.WriteAsync(value, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
        }

        await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose() => _dataSource.Dispose();

    [GeneratedRegex(@"\bINTEGER PRIMARY KEY AUTOINCREMENT\b")]
    private static partial Regex AutoIncrementKey();

    [GeneratedRegex(@"\bINTEGER\b")]
    private static partial Regex IntegerType();
}
