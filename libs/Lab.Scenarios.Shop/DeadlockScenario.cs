using Lab.Contracts;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// In two modes. grain: a call cycle between non-reentrant grains. While it is on, the inventory grain checks a
/// reservation against the order by calling back into the order grain (the reservation-check seam), and the order grain
/// makes plain reservation calls (the reservation-calls seam), so it is busy awaiting that very reservation: both wait
/// until the Orleans response timeout (Orleans has no deadlock detection), and the checkout fails with a
/// TimeoutException. With cure=true the order grain calls inside RequestContext.AllowCallChainReentrancy() again (the
/// shop's own), so the call-back of its own call chain may enter while it awaits.
/// database: inventory writes run as deferred transactions (the write-locking seam's naive variant) that read the row,
/// think, then update it. They hold SQLite's read lock and want the write lock; once any other write commits after
/// their read (another saga's order insert, another reservation), their snapshot is stale and they can never upgrade:
/// they stall for the busy timeout and fail with SQLITE_BUSY "database is locked". With cure=true the write lock is
/// taken first again (BEGIN IMMEDIATE, the shop's own): one lock order, so writers queue instead.
/// </summary>
public sealed class DeadlockScenario : Scenario
{
    public const string Name = "deadlock";
    public const string GrainMode = "grain";
    public const string DatabaseMode = "database";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "concurrency",
        Description: "grain mode: inventory reservations call back into the order that asked for them (to read its lines); the order grain is non-reentrant and busy awaiting the reservation, so the cycle order -> inventory -> order stalls until the response timeout. " +
                     "database mode: inventory writes become read-then-write deferred transactions; concurrent ones deadlock on SQLite's lock upgrade.",
        Targets: [HookPoint.GrainIncoming, HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Enum("mode", GrainMode, "grain: a call cycle between grains; database: transactions that both hold a read lock and want the write lock.", GrainMode, DatabaseMode),
            ParameterSpec.Duration("think", "50ms", "database mode: time between reading the row and updating it (an ORM's load, change, save).", min: "0ms", max: "10s"),
            ParameterSpec.Bool("cure", false, "grain: reserve inside RequestContext.AllowCallChainReentrancy(); database: take the write lock first (BEGIN IMMEDIATE), one lock order for every writer."),
        ],
        Signature: "grain: checkouts hang for the full grain response timeout, then fail with System.TimeoutException; the trace shows IInventoryGrain/ReserveAsync waiting on IOrderGrain/GetAsync for the same order, which only starts when PlaceAsync has given up. No CPU, no db load: calls just wait. " +
                   "database: inventory.reserve/commit db spans stall for the busy timeout and end in SqliteException SQLITE_BUSY (5) 'database is locked', tagged lab.scenario=deadlock; checkouts fail.",
        Cure: "Avoid the cycle (pass what the callee needs in the request), or where a call-back is safe allow call-chain reentrancy for it; for database transactions one lock order (take the write lock first, or lock rows in key order).",
        Runbook: new Runbook(
            Break: "lab scenario enable deadlock (or --set mode=database)",
            Hint: "Checkouts all take exactly as long as a timeout, and the CPU is idle. Who is waiting for whom: which grain, or which transaction?",
            Verify: "grain: in a failed checkout trace IOrderGrain/PlaceAsync -> IInventoryGrain/ReserveAsync (tagged lab.scenario=deadlock) -> IOrderGrain/GetAsync for the same order key; the spans end at the response timeout with TimeoutException. " +
                    "database: the failing inventory db span lasts the busy timeout, holds a SELECT before its UPDATE, and ends in 'database is locked'.",
            Restore: "lab scenario change deadlock --set cure=true (the call-back re-enters the call chain / writers take the lock first, checkouts finish in milliseconds), or lab scenario disable deadlock. Orders caught in a grain deadlock stay Placed: lab verify lists them as stuck."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.ReservationCheck.Name, "grain mode: the inventory grain calls back into the order", CureRestores: false),
            new SeamUse(ShopSeams.ReservationCalls.Name, "grain mode: plain calls, no call-chain reentrancy", CureRestores: true),
            new SeamUse(ShopSeams.WriteLocking.Name, "database mode: deferred transactions (read, then upgrade)", CureRestores: true),
        ],
    };

    // The database mode acts on SQLite's lock upgrade; PostgreSQL takes row locks up front here, so it has no such path.
    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors)
    {
        if (candidate.GetString("mode") == DatabaseMode)
        {
            ShopFacts.RequireSqlite($"{Name} (mode=database)", errors);
        }
    }

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && (activation.GetString("mode") == DatabaseMode
            // database: the inventory write transactions, to read the row before the update.
            ? ctx.Point == HookPoint.Repository && ctx.RepositoryOperation is ShopOperations.InventoryReserve or ShopOperations.InventoryCommit && !activation.GetBool("cure")
            // grain: tag the reservation that makes the call-back.
            : ctx.Point == HookPoint.GrainIncoming && ctx.GrainMethod == nameof(IInventoryGrain.ReserveAsync) && ctx.GrainInterface == nameof(IInventoryGrain));

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        if (ctx.Point != HookPoint.Repository || ctx.Carrier is not System.Data.Common.DbTransaction { Connection: { } connection } transaction)
        {
            return;
        }

        // Load, then think, then (the repository's UPDATE) save: the read takes the shared lock a deferred transaction must later upgrade.
        await using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "SELECT available, reserved, sold, version FROM inventory WHERE sku = $sku";
        var sku = read.CreateParameter();
        sku.ParameterName = "$sku";
        sku.Value = ctx.Sku ?? "";
        read.Parameters.Add(sku);
        await using (var reader = await read.ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
            }
        }

        await Task.Delay(activation.GetDuration("think"), ct).ConfigureAwait(false);
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        var cure = activation.GetBool("cure");
        if (activation.GetString("mode") == GrainMode)
        {
            seams.Set(ShopSeams.ReservationCheck, ReservationCheck.AskOrder);
            if (!cure)
            {
                seams.Set(ShopSeams.ReservationCalls, ReservationCalls.Plain);
            }
        }
        else if (!cure)
        {
            seams.Set(ShopSeams.WriteLocking, WriteLocking.Deferred);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var timedOut = new SignatureFigure("checkouts timed out", "", "storefront 504 answers to POST checkout",
                m => m.Requests("storefront", "POST", ShopRoutes.Checkout, "504"));
            var share = new SignatureFigure("timed-out share", "%", "504 / all checkouts",
                m => SignatureFigure.Percent(m.Requests("storefront", "POST", ShopRoutes.Checkout, "504"), m.Requests("storefront", "POST", ShopRoutes.Checkout)));
            return new ExperimentSpec(Name, [timedOut, share],
                [SteadyStateProbe.AtBaseline(share, tolerance: 0, slack: 1), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
            {
                Mix = "checkout=70,browse=30",
                Cure = ExperimentSpec.CureOn,
                Settings = new Dictionary<string, string> { ["Orleans__ResponseTimeout"] = "00:00:03" },
                // Grains caught in a cycle keep their queues until each call times out; let that backlog drain before the next phase.
                Settle = TimeSpan.FromSeconds(8),
            };
        }
    }
}
