namespace Lab.Scenarios.Shop;

/// <summary>A cache entry a cache scenario can reason about: when it was last loaded (null = never).</summary>
public interface ICachedEntry
{
    DateTimeOffset? LoadedAt { get; }
}

/// <summary>
/// Catalog #9: the product cache's hot keys expire together (at the activation and every period after it), and
/// the cache runs its naive form: no request coalescing, no TTL jitter. Every reader that finds a hot entry
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
            ParameterSpec.Int("hotSkus", 10, "The N most popular SKUs (SKU-00001..N) whose entries expire together; 0 = every SKU.", min: 0, max: 1_000_000, unit: "SKUs"),
            ParameterSpec.Bool("cure", false, "Keep request coalescing and TTL jitter on: the synchronised expiry costs one load per key."),
        ],
        Signature: "Right after each boundary, lab.db.calls{db.operation=catalog.get-product} jumps by about the number of concurrent readers of each hot SKU (N identical 'SELECT products' spans with the same sku in one burst); the cache spans carry lab.scenario=cache-stampede. With cure=true the burst is one load per SKU.",
        Cure: "Request coalescing (one in-flight load per key that every reader awaits) and a jittered TTL so hot keys do not expire together; set cure=true to see it.",
        Runbook: new Runbook(
            Break: "lab scenario enable cache-stampede --set period=30s --set hotSkus=10",
            Hint: "The database load on products spikes in bursts every half minute, although the product traffic is steady. How many loads of the same SKU happen in one burst?",
            Verify: "Count the catalog.get-product db spans per SKU at a burst: one per concurrent reader, not one per SKU; lab.db.calls{db.operation=catalog.get-product} shows the spikes. Then 'lab scenario change cache-stampede --set cure=true': the bursts shrink to one load per SKU.",
            Restore: "lab scenario disable cache-stampede; the cache coalesces loads and jitters its TTL again, loads spread out."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ShopScenarioState.IsHot(ctx.Sku, activation.GetInt("hotSkus"))
        && ctx.Carrier is ICachedEntry { LoadedAt: { } loadedAt }
        && loadedAt < LastBoundary(activation, ctx.Now);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.CacheExpire = true;
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// True when the cache must run its naive form for <paramref name="sku"/>: no coalescing, no TTL jitter.
    /// Call off the idle path only (after the cache hook found scenarios active).
    /// </summary>
    public static bool UsesNaiveCache(ServiceIdentity service, string sku) =>
        ShopScenarioState.Find(Name, service) is { } activation
        && !activation.GetBool("cure")
        && ShopScenarioState.IsHot(sku, activation.GetInt("hotSkus"));

    private static DateTimeOffset LastBoundary(ScenarioActivation activation, DateTimeOffset now)
    {
        var period = activation.GetDuration("period");
        var elapsed = now - activation.ActivatedAt;
        return elapsed <= TimeSpan.Zero ? activation.ActivatedAt : activation.ActivatedAt + (period * Math.Floor(elapsed / period));
    }
}
