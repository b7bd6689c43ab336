using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The product cache's hot keys expire together (at the activation and every period after it), and
/// the product-cache seam runs its naive variant: no request coalescing, no TTL jitter. Every reader that finds a hot entry
/// expired loads it from the database itself, so one expiry becomes a burst of identical loads.
/// With cure=true the expiry still happens, but coalescing and jitter are on: one load per expiry.
/// </summary>
public sealed class CacheStampedeScenario : Scenario
{
    public const string Name = "cache-stampede";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "caching",
        Description: "Expires the hot product-cache entries together at the activation and every period after it, and turns the cache's request coalescing and TTL jitter off, so concurrent readers each reload an expired entry.",
        Targets: [HookPoint.Cache],
        Parameters:
        [
            ParameterSpec.Duration("period", "30s", "Hot entries loaded before the last boundary (activation + k x period) are expired on their next read.", min: "1s", max: "1h"),
            ParameterSpec.Int("hot-skus", 10, "The N most popular SKUs (SKU-00001..N) whose entries expire together; 0 = every SKU.", min: 0, max: 1_000_000, unit: "SKUs"),
            ParameterSpec.Bool("cure", false, "Keep request coalescing and TTL jitter on: the synchronised expiry costs one load per key."),
        ],
        Signature: "Right after each boundary, lab.db.calls{db.operation=catalog.get-product} jumps by about the number of concurrent readers of each hot SKU (N identical 'SELECT products' spans with the same sku in one burst); the cache spans carry lab.scenario=cache-stampede. With cure=true the burst is one load per SKU.",
        Cure: "Request coalescing (one in-flight load per key that every reader awaits) and a jittered TTL so hot keys do not expire together; set cure=true to see it.",
        Runbook: new Runbook(
            Break: "lab scenario enable cache-stampede --set period=30s --set hot-skus=10",
            Hint: "The database load on products spikes in bursts every half minute, although the product traffic is steady. How many loads of the same SKU happen in one burst?",
            Verify: "Count the catalog.get-product db spans per SKU at a burst: one per concurrent reader, not one per SKU; lab.db.calls{db.operation=catalog.get-product} shows the spikes. Then 'lab scenario change cache-stampede --set cure=true': the bursts shrink to one load per SKU.",
            Restore: "lab scenario disable cache-stampede; the cache coalesces loads and jitters its TTL again, loads spread out."))
    {
        Seams = [new SeamUse(ShopSeams.ProductCache.Name, "no coalescing, fixed TTL, for the hot SKUs", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ShopFacts.IsHot(ctx.Sku, activation.GetInt("hot-skus"))
        && ctx.Carrier is ICachedEntry { LoadedAt: { } loadedAt }
        && loadedAt < LastBoundary(activation, ctx.Now);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.CacheExpire = true;
        return ValueTask.CompletedTask;
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            var hot = activation.GetInt("hot-skus");
            seams.Set(ShopSeams.ProductCache, CachePolicy.Naive, sku => ShopFacts.IsHot(sku, hot));
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var loads = new SignatureFigure("product loads", "", $"lab.db.calls{{db.operation={ShopOperations.CatalogGetProduct}}} in the silos",
                m => m.Delta("silo", LabMetricNames.DbCalls, ("db_operation", ShopOperations.CatalogGetProduct)));
            return new ExperimentSpec(Name, [loads],
                [SteadyStateProbe.AtBaseline(loads, tolerance: 1, slack: 20), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
            {
                Mix = "browse=100",
                Fault = new Dictionary<string, string> { ["period"] = "3s" },
                Cure = ExperimentSpec.CureOn,
            };
        }
    }

    private static DateTimeOffset LastBoundary(ScenarioActivation activation, DateTimeOffset now)
    {
        var period = activation.GetDuration("period");
        var elapsed = now - activation.ActivatedAt;
        return elapsed <= TimeSpan.Zero ? activation.ActivatedAt : activation.ActivatedAt + (period * Math.Floor(elapsed / period));
    }
}
