using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The silos restart cold: at activation each drops what a restart loses (every idle grain activation, the repository
/// pool) through <see cref="ProcessRestart"/>, and with the warm-up seam's naive variant takes traffic at once, so the
/// first request for each product pays for its activation and its load from the database. cure=true: the shop's own
/// warm-up loads the best sellers first, with /health unready until it is done. Compiled code survives: this is a
/// restart of the process's state, not of the runtime.
/// </summary>
public sealed class SlowStartScenario : Scenario
{
    public const string Name = "slow-start";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Restarts each targeted silo's state in place, as a restart leaves it: every idle grain activation collected (the product cache with them) " +
                     "and the repository pool closed; JIT-compiled code stays. The silo then takes traffic at once, cold: each product's first read activates " +
                     "its grain and loads it from the database again. It restarts again whenever the activation changes (cure on or off).",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "The shop's own warm-up: the Shop:WarmUpProducts best sellers loaded before /health reports ready again."),
        ],
        Signature: "lab.process.restarts counts one restart per silo; the first read of each best seller afterwards is slower than the next, because it " +
                   "activates the product grain and loads the product again (lab.db.calls{db.operation=catalog.get-product} grows with the first reads and " +
                   "not with the second). With the cure lab.warmup.products counts the best sellers loaded before /health said ready, and their first reads load nothing.",
        Cure: "Warm up before taking traffic (load the hot entries, open the pools) and gate readiness on it, so a load balancer sends nothing to a cold instance; " +
              "or ramp its share of the traffic up gradually.",
        Runbook: new Runbook(
            Break: "lab scenario enable slow-start while lab load --mix browse=100 runs",
            Hint: "Right after the silos came back, product pages were slow for a moment and then fast again. What did the first requests do that the later ones did not?",
            Verify: "The traces of the first product reads after the restart hold a catalog.get-product database span under the product grain; a few seconds later they do not. " +
                    "lab.process.restarts rose by one on each silo.",
            Restore: "lab scenario change slow-start --set cure=true (it restarts again, warms the best sellers before /health is ready; their first reads hit the cache) " +
                     "or lab scenario disable slow-start (the silos stay as they are: warming is what traffic does from then on)."))
    {
        Seams = [new SeamUse(ShopSeams.WarmUp.Name, "no warm-up: ready at once, cold", CureRestores: true)],
    };

    public override Task OnActivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct) =>
        ProcessRestart.RestartAsync(ct);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.WarmUp, WarmUpPolicy.None, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var loadsPerRead = new SignatureFigure("product loads per read", "", "lab.db.calls{db.operation=catalog.get-product} / GET /api/products/{sku}",
                m => SignatureFigure.Ratio(m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", ShopOperations.CatalogGetProduct)),
                    m.Requests("storefront", "GET", "/api/products/{sku}")));
            var restarts = new SignatureFigure("silo restarts", "", "lab.process.restarts, silos", m => m.Delta("silo", "lab_process_restarts_total"), LowerIsBetter: false);
            var warmed = new SignatureFigure("best sellers warmed", "", "lab.warmup.products, silos", m => m.Delta("silo", "lab_warmup_products_total"), LowerIsBetter: false);
            return new ExperimentSpec(Name, [loadsPerRead, restarts, warmed],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(250)), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "browse=100",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
