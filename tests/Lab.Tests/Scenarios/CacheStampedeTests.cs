using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// cache-stampede on the shop cluster: hot product entries expire together and every reader that finds one expired loads it
/// itself; the cure (coalescing) makes one load of it. Loads are counted on the db spans of the burst's own trace.
/// </summary>
[ScenarioTest(CacheStampedeScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class CacheStampedeTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Readers = 20;
    private const string Loads = "catalog.get-product";
    private const string LoadDelay = "1s";

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task A_synchronised_expiry_costs_one_load_per_reader_without_the_cure_and_one_with_it()
    {
        using var telemetry = new TelemetryCapture();
        // Warm the hot entries (SKU-00002 and SKU-00003 are among the 5 hottest) while the cache is healthy.
        await Product("SKU-00002").GetAsync();
        await Product("SKU-00003").GetAsync();

        // A product load that takes a while, as under real load: the stampede window is the load's duration, long enough that
        // the burst's readers (sent at once) all arrive inside it on a busy machine too.
        await _scenarios.EnableAsync(SlowDbQueryScenario.Name,
            new Dictionary<string, string> { ["delay"] = LoadDelay },
            new Dictionary<string, string> { ["repositoryOperation"] = Loads });
        await _scenarios.EnableAsync(CacheStampedeScenario.Name,
            new Dictionary<string, string> { ["period"] = "1m", ["hot-skus"] = "5" });

        var (naive, expiries) = await ReadBurstAsync("SKU-00002", telemetry);
        var (naiveAgain, _) = await ReadBurstAsync("SKU-00002", telemetry);

        await _scenarios.EnableAsync(CacheStampedeScenario.Name,
            new Dictionary<string, string> { ["period"] = "1m", ["hot-skus"] = "5", ["cure"] = "true" });
        var (cured, _) = await ReadBurstAsync("SKU-00003", telemetry);

        await _scenarios.ResetAsync();
        var (off, _) = await ReadBurstAsync("SKU-00003", telemetry);

        output.WriteLine($"{Readers} concurrent readers right after the synchronised expiry: {naive} loads without the cure, " +
            $"{naiveAgain} on the next burst (entry fresh), {cured} with the cure, {off} after disable");

        // Without the cure every reader that found the entry expired went to the database itself: many loads of one entry.
        Assert.InRange(naive, Readers / 2, Readers);
        // Once loaded, the entry is fresh until the next boundary: the cache still caches.
        Assert.Equal(0, naiveAgain);
        // The expiry is the scenario's doing, visible on the cache spans.
        Assert.InRange(expiries, 1, Readers);
        // Coalescing: the same expiry costs one load.
        Assert.Equal(1, cured);
        Assert.Equal(0, off);
    }

    [Fact]
    public async Task Cold_keys_keep_coalescing_while_hot_keys_stampede()
    {
        using var telemetry = new TelemetryCapture();
        await _scenarios.EnableAsync(SlowDbQueryScenario.Name,
            new Dictionary<string, string> { ["delay"] = LoadDelay },
            new Dictionary<string, string> { ["repositoryOperation"] = Loads });
        await _scenarios.EnableAsync(CacheStampedeScenario.Name,
            new Dictionary<string, string> { ["period"] = "1m", ["hot-skus"] = "5" });

        // SKU-00037 is outside the hot set: its first (cold) load is coalesced as usual.
        var (cold, _) = await ReadBurstAsync("SKU-00037", telemetry);
        var spans = telemetry.DbSpans(Loads);

        output.WriteLine($"cold key: {cold} load(s) for {Readers} readers");
        Assert.Equal(1, cold);
        Assert.All(spans, span => Assert.Equal(SlowDbQueryScenario.Name, span.GetTagItem("lab.scenario")));
    }

    /// <summary>
    /// <see cref="Readers"/> concurrent reads of one product, in one trace: the product loads they caused, and the cache lookups
    /// among them that the scenario expired.
    /// </summary>
    private async Task<(int Loads, int Expiries)> ReadBurstAsync(string sku, TelemetryCapture telemetry)
    {
        using var burst = TelemetryCapture.Trace("cache-stampede burst");
        var products = await Task.WhenAll(Enumerable.Range(0, Readers).Select(_ => Product(sku).GetAsync()));
        Assert.All(products, p => Assert.Equal(sku, p!.Sku));
        var expiries = telemetry.InTrace(burst.TraceId).Count(s => s.OperationName == "cache product.get"
            && ((s.GetTagItem("lab.scenario") as string)?.Contains(CacheStampedeScenario.Name) ?? false));
        return (telemetry.DbCalls(burst.TraceId, Loads), expiries);
    }

    private IProductGrain Product(string sku) => fixture.Client.GetGrain<IProductGrain>(sku);
}
