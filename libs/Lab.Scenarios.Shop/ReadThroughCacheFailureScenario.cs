using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The product cache cannot serve its entries for the hot SKUs (a lookup that fails, as a cache server that went away) and
/// the database behind it fails too: every read goes through to a load that throws. With the cache-fallback seam regressed
/// the readers get the error; with cure=true (the shop's own) the product grain answers with the entry it still had,
/// however old: degraded, not down.
/// </summary>
public sealed class ReadThroughCacheFailureScenario : Scenario
{
    public const string Name = "read-through-cache-failure";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "caching",
        Description: "For the hot SKUs the product cache's entries cannot be used (each lookup misses) and the database read behind them fails " +
                     "(an injected fault on catalog.get-product), and the cache no longer falls back to the entry it had: product reads fail. " +
                     "cure=true brings back stale-if-error.",
        Targets: [HookPoint.Cache, HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Int("hot-skus", 10, "The N most popular SKUs (SKU-00001..N) whose reads fail; 0 = every SKU.", min: 0, max: 1_000_000, unit: "SKUs"),
            ParameterSpec.Bool("cure", false, "Serve the entry the cache still has when the load fails (stale-if-error, the shop's own)."),
        ],
        Signature: "GET /api/products/{sku} of the hot SKUs answers 5xx with the injected database fault while other SKUs answer 200; " +
                   "catalog.get-product db spans end in error and carry lab.scenario. With cure=true the same reads answer 200 with the product " +
                   "as it was last loaded, and lab.cache.stale_served counts them.",
        Cure: "Serve stale on error: keep the last good entry past its TTL and answer with it (marked as stale) while the source is down; " +
              "fail only when there never was one.",
        Runbook: new Runbook(
            Break: "lab scenario enable read-through-cache-failure --set hot-skus=10",
            Hint: "The best sellers' pages fail while every other page works, and the database is up for everything else. What does the cache do when it cannot load?",
            Verify: "Failed product reads have a catalog.get-product span in error under a cache product.get span; lab.cache.stale_served stays at 0.",
            Restore: "lab scenario change read-through-cache-failure --set cure=true (pages served stale, lab.cache.stale_served climbs) or disable it."))
    {
        Seams = [new SeamUse(ShopSeams.CacheFallback.Name, "the load's error to every reader", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ShopFacts.IsHot(ctx.Sku, activation.GetInt("hot-skus"))
        && (ctx.Point == HookPoint.Cache ? ctx.Carrier is ICachedEntry : ctx.RepositoryOperation == ShopOperations.CatalogGetProduct);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        if (ctx.Point == HookPoint.Cache)
        {
            ctx.CacheExpire = true; // the lookup finds nothing usable
            return ValueTask.CompletedTask;
        }

        throw new InjectedFaultException(Name, $"the database read behind the product cache failed for {ctx.Sku}");
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            var hot = activation.GetInt("hot-skus");
            seams.Set(ShopSeams.CacheFallback, CacheFallback.Error, sku => ShopFacts.IsHot(sku, hot));
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var failed = new SignatureFigure("failed product pages", "%", "storefront GET /api/products/{sku} answered 5xx / all",
                m => SignatureFigure.Percent(
                    m.Requests("storefront", "GET", "/api/products/{sku}", "500") + m.Requests("storefront", "GET", "/api/products/{sku}", "503"),
                    m.Requests("storefront", "GET", "/api/products/{sku}")));
            var stale = new SignatureFigure("pages served stale", "", "lab.cache.stale_served, silos", m => m.Delta("silo", "lab_cache_stale_served_total"),
                LowerIsBetter: false);
            return new ExperimentSpec(Name, [failed, stale, SignatureFigure.ErrorShare],
                [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
            {
                Mix = "browse=100",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
