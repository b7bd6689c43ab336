using System.Diagnostics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Microsoft.Extensions.Options;
using Lab.ServiceDefaults;
using Orleans.Concurrency;
using Orleans.Serialization.Invocation;

namespace Lab.Grains;

[StatelessWorker]
public sealed class CatalogGrain(CatalogRepository catalog, ServiceIdentity identity) : Grain, ICatalogGrain
{
    public Task<CatalogPage> SearchAsync(CatalogQuery query) =>
        // The shop's own: the database ranks and pages with its index (the linear path).
        ShopSeams.CatalogRanking.Resolve(identity, CatalogRanking.Database) is { InMemoryMaxCandidates: { } maxCandidates }
            ? RankInMemoryAsync(query, maxCandidates)
            : catalog.SearchAsync(query);

    /// <summary>
    /// The naive variant of catalog ranking: every match ranked here with quadratic algorithms. Same page as the
    /// database path; the cost grows with the square of the match count.
    /// </summary>
    private async Task<CatalogPage> RankInMemoryAsync(CatalogQuery query, int maxCandidates)
    {
        var candidates = await catalog.SearchCandidatesAsync(query, maxCandidates);
        using var span = LabTelemetry.Source.StartActivity("catalog.rank");
        var comparisons = 0L;

        // De-duplicate by comparing each candidate with every one kept so far.
        var kept = new List<CatalogCandidate>(candidates.Count);
        foreach (var candidate in candidates)
        {
            var duplicate = false;
            foreach (var other in kept)
            {
                comparisons++;
                if (string.Equals(other.Summary.Sku, candidate.Summary.Sku, StringComparison.Ordinal))
                {
                    duplicate = true;
                    break;
                }
            }

            if (!duplicate)
            {
                kept.Add(candidate);
            }
        }

        // Insertion sort by popularity: the candidates arrive in name order, so about n^2/4 moves.
        for (var i = 1; i < kept.Count; i++)
        {
            var item = kept[i];
            var j = i - 1;
            while (j >= 0)
            {
                comparisons++;
                if (kept[j].Rank <= item.Rank)
                {
                    break;
                }

                kept[j + 1] = kept[j];
                j--;
            }

            kept[j + 1] = item;
        }

        span?.SetTag("lab.catalog.candidates", candidates.Count);
        span?.SetTag("lab.catalog.comparisons", comparisons);
        var items = kept.Skip((query.Page - 1) * query.PageSize).Take(query.PageSize).Select(c => c.Summary).ToList();
        return new CatalogPage(items, query.Page, query.PageSize, kept.Count);
    }
}

/// <summary>
/// One product, cached in the activation: the shop's product cache. Its reads interleave, so concurrent readers of a hot SKU
/// really are concurrent; while one load is in flight the others share it (request coalescing), and the TTL is
/// jittered so hot keys do not all expire together (the product-cache seam's own variant).
/// </summary>
[MayInterleave(nameof(ReadsInterleave))]
public sealed class ProductGrain(CatalogRepository catalog, IOptions<ShopOptions> options, ScenarioTimeProvider time, ServiceIdentity identity)
    : Grain, IProductGrain, ICachedEntry
{
    /// <summary>
    /// May this call run while another runs in this activation (Orleans asks for each call that arrives while one runs)?
    /// The shop's own: yes, reads interleave (the grain is a read cache); the product-read-interleaving seam may make them
    /// take turns.
    /// </summary>
    public bool ReadsInterleave(IInvokable request) =>
        ShopSeams.ProductReadInterleaving.Resolve(identity, Interleaving.Interleaved, Sku) == Interleaving.Interleaved;

    private Product? _cached;
    private DateTimeOffset _expiresAt = DateTimeOffset.MinValue;
    private DateTimeOffset? _loadedAt;
    private Task<Product?>? _loading;

    private string Sku => this.GetPrimaryKeyString();

    DateTimeOffset? ICachedEntry.LoadedAt => _loadedAt;


    public async Task<Product?> GetAsync(CancellationToken cancellationToken = default)
    {
        if (ScenarioRuntime.IsActiveAt(HookPoint.Cache))
        {
            using var span = LabTelemetry.Source.StartActivity("cache product.get");
            var hook = new HookContext(HookPoint.Cache, identity) { CacheKey = $"product:{Sku}", Sku = Sku, Carrier = this };
            await ScenarioRuntime.InvokeAsync(hook);
            if (hook.CacheExpire)
            {
                _expiresAt = DateTimeOffset.MinValue;
            }

            if (hook.CacheForceMiss)
            {
                // Every caller goes to the database on its own: no coalescing.
                span?.SetTag("lab.cache.hit", false);
                return await FetchAsync(jitter: true);
            }
        }

        if (time.GetUtcNow() < _expiresAt)
        {
            return _cached;
        }

        var policy = ShopSeams.ProductCache.Resolve(identity, CachePolicy.Production, Sku);
        if (!policy.Coalesce)
        {
            // Without coalescing every reader that finds the entry expired loads it itself.
            return await FetchAsync(policy.JitterTtl);
        }

        _loading ??= LoadAsync();
        try
        {
            return await _loading;
        }
        finally
        {
            _loading = null;
        }
    }

    private Task<Product?> LoadAsync() => FetchAsync(jitter: true);

    /// <summary>
    /// Loads the product and caches it. The shop's own, when the load fails: the entry it had, however old, is served
    /// instead of the error (stale-if-error), and the next read tries the database again.
    /// </summary>
    private async Task<Product?> FetchAsync(bool jitter)
    {
        try
        {
            return Store(await catalog.GetProductAsync(Sku), jitter);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && _loadedAt is not null
                                   && ShopSeams.CacheFallback.Resolve(identity, CacheFallback.ServeStale, Sku) == CacheFallback.ServeStale)
        {
            Activity.Current?.AddEvent(new ActivityEvent("lab.cache.stale_served", tags: new ActivityTagsCollection
            {
                ["sku"] = Sku,
                ["lab.cache.age_ms"] = (time.GetUtcNow() - _loadedAt.Value).TotalMilliseconds,
                ["exception.type"] = ex.GetType().FullName,
            }));
            LabTelemetry.CacheStaleServed.Add(1);
            return _cached;
        }
    }

    public async Task<Product?> ChangePriceAsync(decimal price)
    {
        var written = await catalog.ChangePriceAsync(Sku, price);
        if (written is not null && ShopSeams.ProductCacheWrites.Resolve(identity, CacheWrites.WriteThrough, Sku) == CacheWrites.WriteThrough)
        {
            Store(written);
        }

        return written;
    }

    private Product? Store(Product? product, bool jitter = true)
    {
        // A read that loaded before a price change may finish after it: it must not put the older version back.
        if (product is not null && _cached is { } cached && cached.Version > product.Version
            && ShopSeams.CacheEntryVersions.Resolve(identity, CacheEntryVersions.NewestWins, Sku) == CacheEntryVersions.NewestWins)
        {
            return cached;
        }

        var ttl = options.Value.ProductCacheTtl;
        var now = time.GetUtcNow();
        _cached = product;
        _loadedAt = now;
        _expiresAt = now + ttl + (jitter ? ttl * (Random.Shared.NextDouble() * 0.2) : TimeSpan.Zero);
        return product;
    }
}
