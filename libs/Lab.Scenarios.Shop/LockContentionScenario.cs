using System.Data.Common;
using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog #4: inventory writes on hot SKUs hold the database write lock longer. The hold runs inside the
/// write transaction the repository opened with BEGIN IMMEDIATE, so SQLite's single write lock stays taken
/// and every other writer (any SKU, orders, carts) queues on it; the wait shows as lab.db.lock_wait_ms.
/// </summary>
public sealed class LockContentionScenario : Scenario
{
    public const string Name = "lock-contention";

    private static readonly ResiliencePipeline HoldPipeline = ScenarioChaos.Latency(i => i.Activation.GetDuration("hold"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Inventory write transactions on hot SKUs hold the database write lock for an extra time before they commit; concurrent writers queue behind them.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Duration("hold", "100ms", "Extra time each matching write transaction keeps the write lock.", min: "1ms", max: "10s"),
            ParameterSpec.Int("hotSkus", 10, "The N most popular SKUs (SKU-00001..N) whose writes hold the lock; 0 = every SKU.", min: 0, max: 1_000_000, unit: "SKUs"),
        ],
        Signature: "db spans of writes (inventory.*, order.*, cart.*) carry a growing lab.db.lock_wait_ms: time queued in BEGIN IMMEDIATE behind the holder; the holders' inventory.reserve/commit spans carry lab.scenario=lock-contention; checkout p99 grows with the number of concurrent checkouts, and barely at all with one.",
        Cure: "Shorter transactions (do no slow work while holding the write lock) and per-SKU grain serialisation, so one SKU's writes never compete with each other and the lock is held for microseconds.",
        Runbook: new Runbook(
            Break: "lab scenario enable lock-contention --set hold=100ms --set hotSkus=10",
            Hint: "Checkout slows down more the more users check out at once, though no query looks slow on its own. What are the write spans waiting for before their first statement?",
            Verify: "Write spans show lab.db.lock_wait_ms rising with load; the inventory.reserve/commit spans of hot SKUs are ~100 ms long and tagged lab.scenario=lock-contention: they hold the lock the others wait for.",
            Restore: "lab scenario disable lock-contention; lock waits fall to ~0 and checkout latency no longer depends on concurrency."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Carrier is DbTransaction
        // Inventory writes unless the user targeted other operations explicitly.
        && (activation.Target.RepositoryOperation is not null
            || (ctx.RepositoryOperation?.StartsWith("inventory.", StringComparison.Ordinal) ?? false))
        && ShopScenarioState.IsHot(ctx.Sku, activation.GetInt("hotSkus"));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(HoldPipeline, ctx, activation, ct);
}
