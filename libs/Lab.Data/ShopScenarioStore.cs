using System.Text.Json;
using Dapper;
using Lab.Scenarios;

namespace Lab.Data;

/// <summary>
/// Keeps the control plane's active set and history in the shop database, so the set survives the restart of
/// the silo that held the control grain. Uses untraced connections: the control plane is never subject to faults.
/// </summary>
public sealed class ShopScenarioStore(LabDb db) : IScenarioStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS lab_scenario_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS lab_scenario_history (id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);
        """;

    private int _schemaReady;

    public async Task<ActiveScenarioSet?> LoadAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        var json = await connection.ExecuteScalarAsync<string?>("SELECT value FROM lab_scenario_state WHERE key = 'active'");
        return json is null ? null : JsonSerializer.Deserialize<ActiveScenarioSet>(json, LabJson.Options);
    }

    public async Task SaveAsync(ActiveScenarioSet set, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(
            "INSERT INTO lab_scenario_state (key, value) VALUES ('active', @json) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            new { json = JsonSerializer.Serialize(set, LabJson.Options) });
    }

    public async Task AppendHistoryAsync(IReadOnlyList<ScenarioHistoryEntry> entries, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        foreach (var entry in entries)
        {
            await connection.ExecuteAsync("INSERT INTO lab_scenario_history (entry) VALUES (@json)",
                new { json = JsonSerializer.Serialize(entry, LabJson.Options) }, transaction);
        }

        await transaction.CommitAsync(ct);
    }

    public async Task<IReadOnlyList<ScenarioHistoryEntry>> ReadHistoryAsync(int limit, CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        var rows = await connection.QueryAsync<string>("SELECT entry FROM lab_scenario_history ORDER BY id DESC LIMIT @limit", new { limit });
        return rows.Select(json => JsonSerializer.Deserialize<ScenarioHistoryEntry>(json, LabJson.Options)!).ToList();
    }

    private async Task<System.Data.Common.DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = await db.OpenUntracedAsync(ct);
        if (db.Dialect.Provider == DatabaseProvider.Sqlite)
        {
            // A pooled connection may still carry disk-full's cap; the lab's own state must stay writable to switch it off.
            await connection.ExecuteAsync("PRAGMA max_page_count = 4294967294");
        }

        if (Interlocked.Exchange(ref _schemaReady, 1) == 0)
        {
            // Under the set-up lock: on PostgreSQL two processes running CREATE TABLE IF NOT EXISTS at once can collide.
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await db.Dialect.LockForSetupAsync(connection, transaction, "lab.scenario.store");
            await connection.ExecuteAsync(db.Dialect.Ddl(Schema), transaction: transaction);
            await transaction.CommitAsync(ct);
        }

        return connection;
    }
}
