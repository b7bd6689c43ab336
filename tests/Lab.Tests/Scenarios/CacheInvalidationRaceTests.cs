using Dapper;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// cache-invalidation-race on the product grains: a price change that lands while a slow read is loading is written
/// through, then undone by that read, and the cache keeps the older version with no write since; with the cure
/// (versioned entries) the written version stays.
/// </summary>
[ScenarioTest(CacheInvalidationRaceScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class CacheInvalidationRaceTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Sku = "SKU-00002";
    private static readonly TimeSpan LoadDelay = TimeSpan.FromMilliseconds(800);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);
    private decimal _price = 31.00m;

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task A_read_that_loaded_before_a_change_puts_the_old_version_back_unless_entries_are_versioned()
    {
        var fault = await RaceAsync(cure: false);
        var cured = await RaceAsync(cure: true);
        output.WriteLine($"last write wins: {fault}");
        output.WriteLine($"versioned entries: {cured}");

        // Last write wins: the racing read answers what it loaded before the change, and leaves the cache at that older
        // version although nothing was written since.
        Assert.True(fault.Racing < fault.Database, $"the racing read answered v{fault.Racing}, the database has v{fault.Database}");
        Assert.True(fault.After < fault.Database, $"read v{fault.After} after the race, database v{fault.Database}");
        // Versioned: the older load is dropped, the written version stays (and is what the racing read answers too).
        Assert.Equal(cured.Database, cured.After);
        Assert.Equal(cured.Database, cured.Racing);
    }

    private async Task<Race> RaceAsync(bool cure)
    {
        await _scenarios.ResetAsync();
        var product = fixture.Client.GetGrain<IProductGrain>(Sku);
        await product.GetAsync(); // an entry from before the activation
        await _scenarios.EnableAsync(CacheInvalidationRaceScenario.Name, new Dictionary<string, string>
        {
            ["hot-skus"] = "2",
            ["load-delay"] = $"{LoadDelay.TotalMilliseconds:0}ms",
            ["cure"] = cure ? "true" : "false",
        });

        // The racing read reloads the entry, slowly; the change lands once its load has read the row (a quarter of the
        // delay after the load began: the row is read in its first milliseconds).
        using var telemetry = new TelemetryCapture();
        Task<Product?> racing;
        using (var trace = TelemetryCapture.Trace("cache-invalidation-race read"))
        {
            // The only database call in this trace is the product's load (its span is named as the conventions name it).
            var loading = telemetry.StartOfAsync(span => span.TraceId == trace.TraceId && span.OperationName == "SELECT products");
            racing = product.GetAsync();
            await loading.WaitAsync(TimeSpan.FromSeconds(10));
        }

        await Task.Delay(LoadDelay / 4);
        var written = await product.ChangePriceAsync(_price += 1.25m);
        var raced = await racing;
        var after = await product.GetAsync();
        using var connection = fixture.OpenShopDatabase();
        var database = await connection.ExecuteScalarAsync<long>("SELECT version FROM products WHERE sku = @Sku", new { Sku });
        Assert.Equal(written!.Version, database);
        return new Race(raced!.Version, after!.Version, database);
    }

    private sealed record Race(long Racing, long After, long Database)
    {
        public override string ToString() => $"the racing read answered v{Racing}, the next read v{After}, the database has v{Database}";
    }
}
