using System.Diagnostics;
using System.Text.RegularExpressions;
using Dapper;
using Lab.Data;
using Lab.Shop;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A migration drops one of the indexes the shop's queries rely on (DROP INDEX on the real database). The database still
/// answers every query, only by reading the whole table: the queries that used the index slow down in proportion to the
/// table's size. While it is on, each call of a query that reads the index's table and declares a plan sample carries the
/// plan the database chose on its span (db.query.plan). The index is recreated from the shop's definition when it ends.
/// </summary>
public sealed class MissingIndexScenario : Scenario
{
    public const string Name = "missing-index";
    public const string PlanTag = "db.query.plan";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Drops one of the shop's secondary indexes (DROP INDEX, as a bad migration would) in the database of each targeted process that " +
                     "has its table; the queries that relied on it scan the whole table. The plan the database chose is put on the spans of those " +
                     "queries. Recreated from the shop's definition at disable, reset or expiry (a silo that restarts recreates it too, as its schema " +
                     "migration runs).",
        Targets: [HookPoint.Repository, HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Enum("index", ShopIndexes.OrdersByCustomer.Name, "The index to drop.", [.. ShopIndexes.All.Select(index => index.Name)]),
        ],
        Signature: "customer.order-history db spans carry db.query.plan 'SCAN orders' (SQLite) or 'Seq Scan on orders' (PostgreSQL) instead of a " +
                   "search using ix_orders_customer, and their duration grows with the orders table (the same history read is several times slower " +
                   "on a table several times larger), while with the index it stays flat.",
        Cure: "The index (CREATE INDEX ix_orders_customer ON orders (customer_id, created_at)); check the plans of the hot queries (EXPLAIN) in CI " +
              "so that a migration cannot drop one unseen.",
        Runbook: new Runbook(
            Break: "lab scenario enable missing-index",
            Hint: "Order history pages get slower week after week, and nothing was deployed to the shop. What does the database do for that query?",
            Verify: "The customer.order-history spans carry db.query.plan with a full scan of orders; .indexes orders in sqlite3 (\\di in psql) no " +
                    "longer lists ix_orders_customer; the spans' duration grows as orders accumulate.",
            Restore: "lab scenario disable missing-index: the index is created again and the plan is an index search."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Point == HookPoint.Repository
        && ctx.QueryPlan is not null
        && ReadsTable(ctx.Statement, IndexOf(activation).Table);

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        // On the call's own span: the plan this very call got.
        Activity.Current?.SetTag(PlanTag, await ctx.QueryPlan!(ct));

    public override async Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        var index = IndexOf(activation);
        if (await OpenWithTableAsync(process, index.Table, ct) is not var (_, connection))
        {
            return;
        }

        await using (connection)
        {
            await connection.ExecuteAsync(index.DropStatement);
        }

        process.Logger.LogWarning("missing-index: dropped {Index} on {Table}; {Serves} now scans the table", index.Name, index.Table, index.Serves);
    }

    public override async Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        var index = IndexOf(activation);
        if (await OpenWithTableAsync(process, index.Table, ct) is not var (db, connection))
        {
            return;
        }

        await using var _ = connection;
        // Under the set-up lock: two processes creating the same index at once collide on PostgreSQL.
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await db.Dialect.LockForSetupAsync(connection, transaction, "lab.shop.index");
        await connection.ExecuteAsync(index.CreateStatement, transaction: transaction);
        await transaction.CommitAsync(ct);
        process.Logger.LogWarning("missing-index: {Index} on {Table} is back", index.Name, index.Table);
    }

    private static ShopIndex IndexOf(ScenarioActivation activation) =>
        ShopIndexes.Find(activation.GetString("index")) ?? ShopIndexes.OrdersByCustomer;

    private static bool ReadsTable(string? statement, string table) =>
        statement is not null && Regex.IsMatch(statement, $@"\bFROM\s+{Regex.Escape(table)}\b", RegexOptions.IgnoreCase);

    /// <summary>An untraced connection to this process's shop database, or null when the process has none or no such table.</summary>
    private static async Task<(LabDb Db, System.Data.Common.DbConnection Connection)?> OpenWithTableAsync(ScenarioProcessContext process, string table,
        CancellationToken ct)
    {
        if (process.Services.GetService<LabDb>() is not { } db)
        {
            return null;
        }

        var connection = await db.OpenUntracedAsync(ct);
        if ((await connection.QueryAsync<string>(db.Dialect.ColumnsOf(table))).Any())
        {
            return (db, connection);
        }

        await connection.DisposeAsync();
        return null;
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var history = new SignatureFigure("order-history query", "ms", "mean of lab.db.call.duration{db.operation=customer.order-history}, silos",
                m => SignatureFigure.Ratio(
                    1000 * m.Delta("silo", "lab_db_call_duration_seconds_sum", ("db_operation", ShopOperations.CustomerOrderHistory)),
                    m.Delta("silo", "lab_db_call_duration_seconds_count", ("db_operation", ShopOperations.CustomerOrderHistory))));
            return new ExperimentSpec(Name, [history, SignatureFigure.ErrorShare],
                [SteadyStateProbe.AtBaseline(history, tolerance: 0.5, slack: 1), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "history=70,browse=30",
            };
        }
    }
}
