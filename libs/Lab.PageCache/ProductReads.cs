using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Hedging;

namespace Lab.PageCache;

/// <summary>
/// The storefront's product reads. A page is served from the cache (HybridCache: in-process, Redis as the second level
/// when set) for Cache:ProductTtl; a miss reads the product grain, hedged as the product-read-hedging seam says: a read
/// that has not answered within the hedge delay gets a second, concurrent one (product grains are reentrant, so it does not
/// queue behind the first) and the first answer wins, an error included; the other is cancelled, at the grain too. A read
/// is idempotent, so the loser costs only its own work. The shop's own pipeline is built once; a regressed variant gets its
/// own while it lasts. A price change goes through here, so the cached page is dropped as the price is written.
/// </summary>
public sealed class ProductReads(IGrainFactory grains, ShopPolicies policies, ServiceIdentity identity, HybridCache cache,
    IOptions<ProductCacheOptions> cacheOptions, TimeProvider time)
{
    private const string Operation = "product.get";

    private readonly ResiliencePipeline<Product?> _production = Build(policies.ProductReadHedging);
    private readonly HybridCacheEntryOptions _entryOptions = new()
    {
        Expiration = cacheOptions.Value.ProductTtl,
        LocalCacheExpiration = cacheOptions.Value.ProductTtl,
    };

    private readonly bool _pageCache = cacheOptions.Value.Enabled;
    private volatile Built? _regressed;

    private static string Key(string sku) => $"product:{sku}";

    /// <summary>The product page of <paramref name="sku"/> (null: no such SKU), from the cache when it holds it.</summary>
    public async Task<Product?> GetAsync(string sku)
    {
        if (!_pageCache)
        {
            return await ReadGrainAsync(sku, CancellationToken.None);
        }

        if (ScenarioRuntime.IsActiveAt(HookPoint.Cache))
        {
            var hook = new HookContext(HookPoint.Cache, identity) { CacheKey = Key(sku), Sku = sku, Carrier = cache };
            await ScenarioRuntime.InvokeAsync(hook);
            if (hook.CacheExpire)
            {
                await cache.RemoveAsync(Key(sku));
            }

            if (hook.CacheForceMiss)
            {
                CacheTelemetry.Request("bypass");
                return await LoadAsync(sku, CancellationToken.None);
            }
        }

        var loaded = new StrongBox<bool>();
        var entry = await cache.GetOrCreateAsync(Key(sku), (Reads: this, Sku: sku, Loaded: loaded),
            static async (state, ct) =>
            {
                state.Loaded.Value = true;
                return new CachedProduct(await state.Reads.LoadAsync(state.Sku, ct), state.Reads.Now);
            }, _entryOptions);
        CacheTelemetry.Request(loaded.Value ? "miss" : "hit");
        if (!loaded.Value)
        {
            CacheTelemetry.Served(Now - entry.LoadedAt);
        }

        Activity.Current?.SetTag("lab.cache.hit", !loaded.Value);
        return entry.Product;
    }

    /// <summary>Loads <paramref name="sku"/>'s page into the cache (the start-up warm-up).</summary>
    public async Task WarmAsync(string sku, CancellationToken cancellationToken)
    {
        var product = await LoadAsync(sku, cancellationToken);
        await cache.SetAsync(Key(sku), new CachedProduct(product, Now), _entryOptions, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Writes a new price through the product's grain and, the shop's own, drops the cached page (the grain caches what it
    /// wrote); with the product-cache-writes seam regressed, the page serves the old price until its TTL.
    /// </summary>
    /// <returns>The product as written, or null when the SKU does not exist.</returns>
    public async Task<Product?> ChangePriceAsync(string sku, decimal price)
    {
        var written = await grains.GetGrain<IProductGrain>(sku).ChangePriceAsync(price);
        if (_pageCache && ShopSeams.ProductCacheWrites.Resolve(identity, CacheWrites.WriteThrough, sku) == CacheWrites.WriteThrough)
        {
            await cache.RemoveAsync(Key(sku));
        }

        return written;
    }

    private DateTimeOffset Now => time.GetUtcNow();

    private async Task<Product?> LoadAsync(string sku, CancellationToken cancellationToken)
    {
        try
        {
            var product = await ReadGrainAsync(sku, cancellationToken);
            CacheTelemetry.Load("ok");
            return product;
        }
        catch
        {
            CacheTelemetry.Load("error");
            throw;
        }
    }

    private async Task<Product?> ReadGrainAsync(string sku, CancellationToken cancellationToken)
    {
        var policy = ShopSeams.ProductReadHedging.Resolve(identity, policies.ProductReadHedging, sku);
        if (policy.Hedges <= 0)
        {
            return await grains.GetGrain<IProductGrain>(sku).GetAsync(cancellationToken);
        }

        var pipeline = ReferenceEquals(policy, policies.ProductReadHedging) ? _production : Regressed(policy);
        // Each attempt passes its token to the grain: Polly cancels the loser and waits for it to end before it answers.
        return await pipeline.ExecuteAsync(static (state, ct) => new ValueTask<Product?>(state.Grains.GetGrain<IProductGrain>(state.Sku).GetAsync(ct)),
            (Grains: grains, Sku: sku), cancellationToken);
    }

    private ResiliencePipeline<Product?> Regressed(HedgingPolicy policy)
    {
        if (_regressed is { } current && current.Policy == policy)
        {
            return current.Pipeline;
        }

        var built = Build(policy);
        _regressed = new Built(policy, built);
        return built;
    }

    private sealed record Built(HedgingPolicy Policy, ResiliencePipeline<Product?> Pipeline);

    private static ResiliencePipeline<Product?> Build(HedgingPolicy policy) =>
        policy.Hedges <= 0
            ? ResiliencePipeline<Product?>.Empty
            : new ResiliencePipelineBuilder<Product?>()
                .AddHedging(new HedgingStrategyOptions<Product?>
                {
                    MaxHedgedAttempts = policy.Hedges,
                    Delay = policy.Delay,
                    // Hedging answers slowness only: the first outcome, an error or a missing product (null) included, is the
                    // answer. (Retrying errors is another policy; it would hide a failing grain behind a second call.)
                    ShouldHandle = _ => ValueTask.FromResult(false),
                    OnHedging = args =>
                    {
                        ResilienceTelemetry.Hedged(Operation);
                        Activity.Current?.AddEvent(new ActivityEvent("lab.hedged", tags: new ActivityTagsCollection
                        {
                            ["operation"] = Operation,
                            ["attempt"] = args.AttemptNumber + 1,
                        }));
                        return default;
                    },
                })
                .Build();
}
