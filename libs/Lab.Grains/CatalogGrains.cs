using Lab.Contracts;
using Lab.Data;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Lab.Grains;

[StatelessWorker]
public sealed class CatalogGrain(CatalogRepository catalog) : Grain, ICatalogGrain
{
    public Task<CatalogPage> SearchAsync(CatalogQuery query) => catalog.SearchAsync(query);
}

/// <summary>One product, cached in the activation for <see cref="ShopOptions.ProductCacheTtl"/>: the shop's product cache.</summary>
public sealed class ProductGrain(CatalogRepository catalog, IOptions<ShopOptions> options, TimeProvider time) : Grain, IProductGrain
{
    private Product? _cached;
    private DateTimeOffset _expiresAt = DateTimeOffset.MinValue;

    public async Task<Product?> GetAsync()
    {
        var now = time.GetUtcNow();
        if (now < _expiresAt)
        {
            return _cached;
        }

        _cached = await catalog.GetProductAsync(this.GetPrimaryKeyString());
        _expiresAt = now + options.Value.ProductCacheTtl;
        return _cached;
    }
}
