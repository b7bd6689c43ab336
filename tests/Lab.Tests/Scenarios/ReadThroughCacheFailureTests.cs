using Lab.Contracts;
using Lab.Scenarios;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// read-through-cache-failure on the product grains: with the cache unusable and the database read behind it failing, the
/// hot SKU's reads fail while another SKU's succeed; with the cure they answer with the entry the grain had; off, fresh.
/// </summary>
[ScenarioTest(ReadThroughCacheFailureScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class ReadThroughCacheFailureTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const string HotSku = "SKU-00001";
    private const string OtherSku = "SKU-00030";
    private const int Reads = 5;

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Reads_fail_when_cache_and_database_fail_and_the_cure_serves_the_old_entry()
    {
        var hot = fixture.Client.GetGrain<IProductGrain>(HotSku);
        var cached = await hot.GetAsync(); // the entry the grain will still have
        Assert.NotNull(cached);

        await _scenarios.EnableAsync(ReadThroughCacheFailureScenario.Name, new Dictionary<string, string> { ["hot-skus"] = "1" });
        var failures = new List<Exception>();
        for (var i = 0; i < Reads; i++)
        {
            failures.Add(await Assert.ThrowsAnyAsync<Exception>(() => hot.GetAsync()));
        }

        // Only the hot SKU: another product reads as ever.
        Assert.NotNull(await fixture.Client.GetGrain<IProductGrain>(OtherSku).GetAsync());

        await _scenarios.EnableAsync(ReadThroughCacheFailureScenario.Name, new Dictionary<string, string> { ["hot-skus"] = "1", ["cure"] = "true" });
        var stale = new List<Product?>();
        for (var i = 0; i < Reads; i++)
        {
            stale.Add(await hot.GetAsync());
        }

        await _scenarios.ResetAsync();
        var after = await hot.GetAsync();
        output.WriteLine($"fault: {failures.Count} of {Reads} reads failed: {failures[0].GetType().Name}: {failures[0].Message}");
        output.WriteLine($"cure: {stale.Count(p => p == cached)} of {Reads} answered with the entry loaded before (v{cached.Version}); after reset v{after?.Version}");

        Assert.All(failures, ex => Assert.IsType<InjectedFaultException>(ex));
        Assert.All(failures, ex => Assert.Contains("database read behind the product cache failed", ex.Message));
        // Degraded, not down: the entry the grain had, however old, every time.
        Assert.All(stale, product => Assert.Equal(cached, product));
        Assert.NotNull(after);
        Assert.Equal(HotSku, after.Sku);
    }
}
