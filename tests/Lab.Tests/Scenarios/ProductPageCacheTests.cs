using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Lab.PageCache;
using Lab.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// The storefront's page cache (HybridCache) over the test cluster's product grains: a read is served from the cache for
/// its TTL (a change made elsewhere is not seen meanwhile), a change through the storefront drops the page; with Redis as
/// the second level a storefront that never read a page gets it from Redis without loading it, and after a change a new
/// storefront reads the new version.
/// </summary>
[Collection(ShopClusterCollection.Name)]
public sealed class ProductPageCacheTests(ShopClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task In_process_pages_are_served_for_their_ttl_and_a_change_through_the_storefront_drops_them()
    {
        const string Sku = "SKU-00039";
        await using var storefront = NewStorefront(redis: null);
        var reads = storefront.GetRequiredService<ProductReads>();
        using var loads = new LoadCounter();

        var first = await reads.GetAsync(Sku);
        var second = await reads.GetAsync(Sku);
        Assert.Equal(1, loads.Count);
        Assert.Equal(first, second);

        // Written elsewhere (another storefront, straight to the grain): this one serves its page until the TTL.
        var elsewhere = await fixture.Client.GetGrain<IProductGrain>(Sku).ChangePriceAsync(first!.Price + 0.50m);
        var stale = await reads.GetAsync(Sku);
        Assert.Equal(first.Version, stale!.Version);
        Assert.Equal(1, loads.Count);

        // Written through this storefront: the page is dropped and the next read loads the new version.
        var written = await reads.ChangePriceAsync(Sku, elsewhere!.Price + 0.50m);
        var fresh = await reads.GetAsync(Sku);
        Assert.Equal(written, fresh);
        Assert.Equal(2, loads.Count);
        output.WriteLine($"read v{first.Version}, stale v{stale.Version} after v{elsewhere.Version} was written elsewhere, fresh v{fresh!.Version}; {loads.Count} loads");
    }

    [Fact]
    public async Task With_redis_as_second_level_storefronts_share_pages_and_a_change_reaches_a_new_one()
    {
        const string Sku = "SKU-00040";
        await using var redis = await RedisServer.StartAsync();
        await using var a = NewStorefront(redis.Configuration);
        await using var b = NewStorefront(redis.Configuration);
        var readsA = a.GetRequiredService<ProductReads>();
        var readsB = b.GetRequiredService<ProductReads>();
        using var loads = new LoadCounter();

        var page = await readsA.GetAsync(Sku);
        Assert.Equal(1, loads.Count);
        // The second level is written beside the answer, not before it.
        var l2 = a.GetRequiredService<Microsoft.Extensions.Caching.Distributed.IDistributedCache>();
        await Eventually.GetAsync(() => l2.GetAsync($"product:{Sku}"), bytes => bytes is not null, TimeSpan.FromSeconds(5), "the page in Redis");
        // B never read it: it comes from Redis, not from the silos.
        Assert.Equal(page, await readsB.GetAsync(Sku));
        Assert.Equal(1, loads.Count);

        var written = await readsA.ChangePriceAsync(Sku, page!.Price + 0.75m);
        // A dropped its page and Redis's: a storefront started now reads the new version from the silos.
        await using var c = NewStorefront(redis.Configuration);
        Assert.Equal(written, await c.GetRequiredService<ProductReads>().GetAsync(Sku));
        Assert.Equal(2, loads.Count);
        // A reads the new version too (from the silos, or from Redis once C's page is there).
        Assert.Equal(written, await readsA.GetAsync(Sku));
        output.WriteLine($"Redis at {redis.Configuration}: v{page.Version} shared by two storefronts with one load; v{written!.Version} after the change; {loads.Count} loads");
    }

    /// <summary>The storefront's cache services over the test cluster, as its Program wires them.</summary>
    private ServiceProvider NewStorefront(string? redis)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cache:ProductTtl"] = Ttl.ToString(),
            ["Cache:Redis"] = redis,
        }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IGrainFactory>(fixture.Client);
        services.AddSingleton(new ServiceIdentity("storefront", ServiceKind.Storefront));
        services.AddSingleton(TimeProvider.System);
        services.AddShopPolicies(configuration);
        services.AddProductCache(configuration);
        return services.BuildServiceProvider();
    }

    /// <summary>Counts the page loads from the silos (lab.cache.loads) made in this process while it lives.</summary>
    private sealed class LoadCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public LoadCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LabTelemetry.MeterName && instrument.Name == "lab.cache.loads")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
