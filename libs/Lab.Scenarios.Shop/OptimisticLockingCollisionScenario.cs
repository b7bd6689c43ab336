using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Restocks written outside the inventory grains with optimistic concurrency (the restock-writes seam's version-checked
/// variant): each write must find the row at the version the job read, else it re-reads and tries again. Nothing is lost,
/// but under contention (several deliveries of the same SKUs at once, the grain reserving from the same rows) the writes
/// collide: conflicts and retries grow with the number of concurrent writers, and a line that collides on every attempt
/// fails. cure=true restores the shop's own serialisation: each line through its SKU's grain, so writes never collide.
/// </summary>
public sealed class OptimisticLockingCollisionScenario : Scenario
{
    public const string Name = "optimistic-locking-collision";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "concurrency",
        Description: "The restock job writes stock levels outside the inventory grains, each write checked against the row's version (UPDATE ... WHERE version = @read); " +
                     "a write that finds the row changed re-reads it and tries again, up to attempts. Concurrent deliveries of the same popular SKUs, and the grain's own " +
                     "reservations, make the writes collide.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Int("attempts", 3, "Version-checked writes per line before the line fails as a conflict.", min: 1, max: 20, unit: "attempts"),
            ParameterSpec.Bool("cure", false, "The shop's own serialisation: every restock line goes through its SKU's inventory grain, one change at a time."),
        ],
        Signature: "lab.db.write_conflicts{db.operation=inventory.write-level-versioned} per version-checked write grows with the number of concurrent writers " +
                   "(measured at two levels); restock lines fail once every attempt collided; no stock-conservation violation (the version check loses nothing); " +
                   "each version-checked write is tagged lab.scenario=optimistic-locking-collision and each conflict is a lab.db.write_conflict span event.",
        Cure: "Partition the hot row or serialise its writers: here each SKU's inventory grain is its only writer, so there is nothing to collide with.",
        Runbook: new Runbook(
            Break: "lab scenario enable optimistic-locking-collision --set attempts=3, then: lab load --mix checkout=50,restock=50 --rate 60",
            Hint: "Restocks sometimes fail with a conflict and take longer as load grows, though nothing is broken. How often does a write find the row changed, and how does that grow with concurrency?",
            Verify: "lab_db_write_conflicts_total climbs faster than the version-checked writes as the rate grows; a slow restock trace holds several inventory.write-level-versioned spans for one SKU with lab.db.write_conflict events between them.",
            Restore: "lab scenario change optimistic-locking-collision --set cure=true (no conflicts: the grains serialise), or disable it."))
    {
        Seams = [new SeamUse(ShopSeams.RestockWrites.Name, "version-checked read-modify-write outside the grain, attempts per line", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && ctx.RepositoryOperation == ShopOperations.InventoryWriteLevelVersioned;

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.RestockWrites, new RestockWriting(RestockWriter.VersionChecked, (int)activation.GetInt("attempts")), everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var writes = new SignatureFigure("versioned writes", "", "lab.db.calls{db.operation=inventory.write-level-versioned}, silos",
                m => m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", ShopOperations.InventoryWriteLevelVersioned)), LowerIsBetter: false);
            var conflicts = new SignatureFigure("conflicts", "", "lab.db.write_conflicts, silos", m => m.Delta("silo", "lab_db_write_conflicts_total"));
            var rate = new SignatureFigure("conflict rate", "%", "conflicts / versioned writes",
                m => SignatureFigure.Percent(m.Delta("silo", "lab_db_write_conflicts_total"),
                    m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", ShopOperations.InventoryWriteLevelVersioned))));
            return new ExperimentSpec(Name, [rate, conflicts, writes], [SteadyStateProbe.AtBaseline(conflicts, tolerance: 0, slack: 0), SteadyStateProbe.NoNewViolations()])
            {
                Mix = "checkout=50,restock=50",
                Cure = ExperimentSpec.CureOn,
                // Conflicts need deliveries of the same SKUs at once: 20 journeys/s rarely gives them.
                Rate = 40,
            };
        }
    }
}
