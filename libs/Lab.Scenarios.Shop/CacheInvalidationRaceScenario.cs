using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A read and a write of the same product race through the product cache: the hot SKUs' entries are reloaded once after
/// the activation, and each load hands its row back 'load-delay' after reading it, so a price change that lands meanwhile is written through to the
/// cache first, and then the slow read, which loaded the product before the change, puts the older version back. The
/// cache-entry-versions seam lets it (last write wins): the cache stays wrong after the writes stop, until its TTL. With
/// cure=true entries are versioned (the shop's own) and the older version is dropped.
/// </summary>
public sealed class CacheInvalidationRaceScenario : Scenario
{
    public const string Name = "cache-invalidation-race";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "caching",
        Description: "The hot SKUs' product cache entries are reloaded at their first read after the activation, and every load of them hands its " +
                     "row back 'load-delay' after reading it, while the cache keeps whichever version was stored last: a price change during a load is undone " +
                     "by the load that finishes after it, and the cache serves the older version until its TTL.",
        Targets: [HookPoint.Cache, HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Int("hot-skus", 10, "The N most popular SKUs (SKU-00001..N) whose loads are slow; 0 = every SKU.", min: 0, max: 1_000_000, unit: "SKUs"),
            ParameterSpec.Duration("load-delay", "500ms", "How long after reading a hot SKU's row its load hands it back (the window a price change can land in).", min: "1ms", max: "30s"),
            ParameterSpec.Bool("cure", false, "Versioned entries (the shop's own): a load never replaces a newer version by an older one."),
        ],
        Signature: "A product read that started before PUT /api/admin/products/{sku}/price and ends after it leaves the cache at the older " +
                   "version: later reads, with no write since, answer a version below products.version until the TTL (Shop:ProductCacheTtl). " +
                   "With cure=true they answer the written version.",
        Cure: "Versioned entries (compare versions before replacing, or write with a compare-and-set), or delete after the write with a delay " +
              "longer than a load; never let a load that began before a write overwrite it.",
        Runbook: new Runbook(
            Break: "lab scenario enable cache-invalidation-race, then change prices while lab load runs (--mix price-change=20,browse=80)",
            Hint: "A price was changed once; minutes later, with nobody touching it, some pages still show the old one. How did the old value get back in?",
            Verify: "The product page's version is below SELECT version FROM products WHERE sku = ...; its trace shows a catalog.get-product load " +
                    "that started before the catalog.change-price write and ended after it.",
            Restore: "lab scenario change cache-invalidation-race --set cure=true (versioned entries) or disable it; a wrong entry lasts until its TTL."))
    {
        Seams = [new SeamUse(ShopSeams.CacheEntryVersions.Name, "whichever version was stored last", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ShopFacts.IsHot(ctx.Sku, activation.GetInt("hot-skus"))
        && (ctx.Point == HookPoint.Cache
            ? ctx.Carrier is ICachedEntry { LoadedAt: { } loadedAt } && loadedAt < activation.ActivatedAt
            : ctx.RepositoryOperation == ShopOperations.CatalogGetProduct);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        if (ctx.Point == HookPoint.Cache)
        {
            ctx.CacheExpire = true; // loaded before the activation: reload once, slowly
            return ValueTask.CompletedTask;
        }

        // The row is read now and handed back late: a price change made meanwhile is newer than what this load returns.
        ctx.ResultDelay = activation.GetDuration("load-delay");
        return ValueTask.CompletedTask;
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            var hot = activation.GetInt("hot-skus");
            seams.Set(ShopSeams.CacheEntryVersions, CacheEntryVersions.LastWriteWins, sku => ShopFacts.IsHot(sku, hot));
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            // The price-change journey reads the page right after its write: a page older than the write fails it.
            var stalePages = new SignatureFigure("stale pages after a change", "", "price-change journeys whose page was older than their write (load client)",
                m => m.Load.Failed("price-change"));
            var loads = new SignatureFigure("slow product loads", "", "lab.db.calls{db.operation=catalog.get-product}, silos",
                m => m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", ShopOperations.CatalogGetProduct)));
            return new ExperimentSpec(Name, [stalePages, loads, SignatureFigure.InjectionsPerRequest(Name), SignatureFigure.ErrorShare],
                [SteadyStateProbe.Below(stalePages, 0.5), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "price-change=20,browse=80",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
