using System.Data.Common;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Lab.Shop;
using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Inventory writes on hot SKUs hold a database lock longer. The hold runs inside the write
/// transaction the repository opened. On SQLite that transaction began with BEGIN IMMEDIATE, so the single write
/// lock stays taken and every other writer (any SKU, orders, carts) queues on it. On PostgreSQL there is no such
/// lock: the transaction first takes a real row lock on the hottest SKU's stock row (SELECT ... FOR UPDATE, as a
/// "best-sellers" stock check would) and holds it, so every hot-SKU writer queues on that row. Either way the wait
/// shows as lab.db.lock_wait_ms on the waiting db span.
/// </summary>
public sealed class LockContentionScenario : Scenario
{
    public const string Name = "lock-contention";

    private const string LockHottestRow = "SELECT sku FROM inventory WHERE sku = 'SKU-00001' FOR UPDATE";

    private static readonly ResiliencePipeline HoldPipeline = ScenarioChaos.Latency(i => i.Activation.GetDuration("hold"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Inventory write transactions on hot SKUs hold a database lock for an extra time before they commit; concurrent writers queue behind them. SQLite: the database's write lock; PostgreSQL: a row lock (SELECT ... FOR UPDATE) on the hottest SKU's stock row.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Duration("hold", "100ms", "Extra time each matching write transaction keeps the write lock.", min: "1ms", max: "10s"),
            ParameterSpec.Int("hot-skus", 10, "The N most popular SKUs (SKU-00001..N) whose writes hold the lock; 0 = every SKU.", min: 0, max: 1_000_000, unit: "SKUs"),
        ],
        Signature: "db spans of writes carry a growing lab.db.lock_wait_ms: time queued behind the holder (SQLite: in BEGIN IMMEDIATE, every writer; PostgreSQL: in SELECT ... FOR UPDATE, hot-SKU writers); the holders' inventory.reserve/commit spans carry lab.scenario=lock-contention; checkout p99 grows with the number of concurrent checkouts, and barely at all with one.",
        Cure: "Shorter transactions (do no slow work while holding the write lock) and per-SKU grain serialisation, so one SKU's writes never compete with each other and the lock is held for microseconds.",
        Runbook: new Runbook(
            Break: "lab scenario enable lock-contention --set hold=100ms --set hot-skus=10",
            Hint: "Checkout slows down more the more users check out at once, though no query looks slow on its own. What are the write spans waiting for before their first statement?",
            Verify: "Write spans show lab.db.lock_wait_ms rising with load; the inventory.reserve/commit spans of hot SKUs are ~100 ms long and tagged lab.scenario=lock-contention: they hold the lock the others wait for.",
            Restore: "lab scenario disable lock-contention; lock waits fall to ~0 and checkout latency no longer depends on concurrency."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Carrier is DbTransaction
        // Inventory writes unless the user targeted other operations explicitly.
        && (activation.Target.RepositoryOperation is not null
            || (ctx.RepositoryOperation?.StartsWith(ShopOperations.InventoryPrefix, StringComparison.Ordinal) ?? false))
        && ShopFacts.IsHot(ctx.Sku, activation.GetInt("hot-skus"));

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        if (ctx.Carrier is DbTransaction { Connection: { } connection } transaction and not SqliteTransaction)
        {
            // Row locks only: take the hottest row the holder then sits on; the wait for it is lock wait too.
            var started = Stopwatch.GetTimestamp();
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = LockHottestRow;
            await command.ExecuteNonQueryAsync(ct);
            DbLockWait.Add(Activity.Current, Stopwatch.GetElapsedTime(started));
        }

        await ScenarioChaos.RunAsync(HoldPipeline, ctx, activation, ct);
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var wait = new SignatureFigure("lock wait", "ms", "lab.db.lock_wait.duration mean in the silos",
                m => m.MeanMs("silo", "lab_db_lock_wait_duration_seconds"));
            var checkout = new SignatureFigure("checkout latency", "ms", "storefront http.server.request.duration mean, POST checkout",
                m => m.MeanMs("storefront", "POST", ShopRoutes.Checkout));
            return new ExperimentSpec(Name, [wait, checkout],
                [SteadyStateProbe.AtBaseline(checkout, tolerance: 1, slack: 20), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "checkout=70,browse=30",
            };
        }
    }
}
