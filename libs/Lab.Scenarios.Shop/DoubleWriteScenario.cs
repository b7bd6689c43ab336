using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Restocks written outside the inventory grains (the restock-writes seam's read-modify-write variant): the restock job
/// reads every level of a delivery in one query, then writes each back with its units added, while the SKU's grain goes on
/// reserving and releasing the same row. A reservation that lands between the job's read and its write is overwritten: a
/// lost update that breaks stock conservation. cure=true restores the shop's own single writer: each line through its grain.
/// </summary>
public sealed class DoubleWriteScenario : Scenario
{
    public const string Name = "double-write";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "concurrency",
        Description: "Two writers do read-modify-write on the same stock row: the restock job (POST /api/admin/restock, the load client's restock journey) " +
                     "reads the levels of a whole delivery, then writes each back with its units added, bypassing the inventory grain that is reserving " +
                     "from the same row meanwhile. Whatever the grain wrote between the job's read and its write is lost.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "The shop's own single writer: every restock line goes through its SKU's inventory grain as a relative update."),
        ],
        Signature: "lab verify reports stock-conservation violations (initial_stock ≠ available + reserved + sold) for SKUs restocked while they sold, one unit per lost " +
                   "reservation or release; the restock job's whole-level writes (inventory.write-level) are tagged lab.scenario=double-write; with the cure none appear.",
        Cure: "A single writer per row (the SKU's inventory grain, which serialises every change to it), or an optimistic version column that refuses a write based on a stale read.",
        Runbook: new Runbook(
            Break: "lab scenario enable double-write, then run load with restocks of the best sellers: lab load --mix checkout=60,restock=40 --rate 40",
            Hint: "Every write succeeds, yet lab verify finds stock that does not add up. Which writers touch the inventory rows, and what does each one read before it writes?",
            Verify: "lab verify lists stock-conservation violations for hot SKUs; a restock trace holds one inventory.read-levels span and then inventory.write-level spans, " +
                    "while checkout traces of the same SKUs hold inventory.reserve spans that ended in between.",
            Restore: "lab scenario change double-write --set cure=true (no new violations: restocks go through the grains); the rows already wrong stay wrong until corrected by hand."))
    {
        Seams = [new SeamUse(ShopSeams.RestockWrites.Name, "read-modify-write outside the grain, last writer wins", CureRestores: true)],
    };

    // Counts (and tags) each whole-level write the job makes outside the grain; the writing itself is the seam's.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && ctx.RepositoryOperation == ShopOperations.InventoryWriteLevel;

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.RestockWrites, new RestockWriting(RestockWriter.ReadModifyWrite), everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var writes = new SignatureFigure("whole-level writes", "", "lab.db.calls{db.operation=inventory.write-level}, silos",
                m => m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", ShopOperations.InventoryWriteLevel)));
            var restocks = new SignatureFigure("restocks", "", "storefront POST /api/admin/restock", m => m.Requests("storefront", "POST", "/api/admin/restock"), LowerIsBetter: false);
            return new ExperimentSpec(Name, [writes, restocks], [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.NoNewViolations()])
            {
                Mix = "checkout=60,restock=40",
                Cure = ExperimentSpec.CureOn,
                // Lost updates need a reservation inside the job's short window between its read and its writes: 20 journeys/s rarely gives one.
                Rate = 40,
            };
        }
    }
}
