using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Microsoft.Extensions.Options;
using Lab.ServiceDefaults;
using Orleans.Concurrency;

namespace Lab.Grains;

[StatelessWorker]
public sealed class CatalogGrain(CatalogRepository catalog) : Grain, ICatalogGrain
{
    public Task<CatalogPage> SearchAsync(CatalogQuery query) => catalog.SearchAsync(query);
}

/// <summary>
/// One product, cached in the activation: the shop's product cache. Reentrant, so concurrent readers of a hot SKU
/// really are concurrent; while one load is in flight the others share it (request coalescing), and the TTL is
/// jittered so hot keys do not all expire together.
/// </summary>
[Reentrant]
public sealed class ProductGrain(CatalogRepository catalog, IOptions<ShopOptions> options, ScenarioTimeProvider time, ServiceIdentity identity)
    : Grain, IProductGrain
{
    private Product? _cached;
    private DateTimeOffset _expiresAt = DateTimeOffset.MinValue;
    private Task<Product?>? _loading;

    private string Sku => this.GetPrimaryKeyString();

    public async Task<Product?> GetAsync()
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
                return Store(await catalog.GetProductAsync(Sku));
            }
        }

        if (time.GetUtcNow() < _expiresAt)
        {
            return _cached;
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

    private async Task<Product?> LoadAsync() => Store(await catalog.GetProductAsync(Sku));

    private Product? Store(Product? product)
    {
        var ttl = options.Value.ProductCacheTtl;
        _cached = product;
        _expiresAt = time.GetUtcNow() + ttl + ttl * (Random.Shared.NextDouble() * 0.2);
        return product;
    }
}
