using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The database cannot grow any more. On every write, inside its span and transaction, the
/// connection's PRAGMA max_page_count is set to the current page_count (plus optional headroom): SQLite itself
/// then fails any write that needs a new page with SQLITE_FULL "database or disk is full". Reads are untouched.
/// Pooled connections keep the pragma, so deactivation clears the connection pools of the process.
/// </summary>
public sealed class DiskFullScenario : Scenario
{
    public const string Name = "disk-full";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "Caps the SQLite database at its current size (PRAGMA max_page_count = page_count) on every write connection, so writes that need space fail with the real 'database or disk is full' error while reads go on. Requires the SQLite provider.",
        Targets: [HookPoint.Repository, HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Int("headroom-pages", 0, "Pages the database may still grow by before writes fail.", min: 0, max: 1_000_000, unit: "pages"),
        ],
        Signature: "Write spans (order.insert first: orders only grow) end in error with SqliteException SQLITE_FULL (error 13) 'database or disk is full'; checkouts fail with 500 problems at the storefront; catalog, product and order-history reads keep succeeding; the failed write spans carry lab.scenario=disk-full.",
        Cure: null,
        Runbook: new Runbook(
            Break: "lab scenario enable disk-full",
            Hint: "Browsing works, buying does not. What do the failed checkout traces have in common, and which statement fails first?",
            Verify: "The failing span is a write (INSERT INTO orders...) with error.type Microsoft.Data.Sqlite.SqliteException and the message 'database or disk is full'; read spans in the same period succeed; lab.orders.placed stops while catalog traffic goes on.",
            Restore: "lab scenario disable disk-full; the pools are cleared, new connections have no cap and the next checkout succeeds."));

    // page_count and max_page_count are SQLite's; PostgreSQL has no per-connection size cap to act on.
    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors) =>
        ShopFacts.RequireSqlite(Name, errors);

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && ctx.Point == HookPoint.Repository && IsWrite(ctx);

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        var (connection, transaction) = ctx.Carrier switch
        {
            DbTransaction t => (t.Connection, t),
            DbConnection c => (c, (DbTransaction?)null),
            _ => (null, null),
        };
        if (connection is null)
        {
            return;
        }

        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA page_count";
        var pages = Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        command.CommandText = string.Create(CultureInfo.InvariantCulture, $"PRAGMA max_page_count = {pages + activation.GetInt("headroom-pages")}");
        await command.ExecuteNonQueryAsync(ct);
    }

    // Nothing runs while it is on; switching it off must drop the capped connections the pools still hold.
    public override Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        SqliteConnection.ClearAllPools();
        return Task.CompletedTask;
    }

    private static bool IsWrite(HookContext ctx)
    {
        if (ctx.Carrier is DbTransaction)
        {
            return true;
        }

        var statement = ctx.Statement.AsSpan().TrimStart();
        return statement.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase)
            || statement.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
            || statement.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase)
            || statement.StartsWith("REPLACE", StringComparison.OrdinalIgnoreCase);
    }
}
