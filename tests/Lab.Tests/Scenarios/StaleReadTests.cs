using System.Diagnostics;
using Dapper;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// stale-read on the real grains and database: a price change that skips the caches leaves the product grain serving the
/// old price and version (a stale read by version compare with products.version), and a checkout meanwhile charges it; with
/// the cure the page is as stale but the order carries the current price; off, a change is read back at once.
/// </summary>
[ScenarioTest(StaleReadScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class StaleReadTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Sku = "SKU-00036";
    private const int Customer = 19;
    private const int Attempts = 3;

    // The sequence from the last write-through to the checkout must end inside the product cache's TTL (5 s here), or the
    // entry is loaded again and is fresh: a round that took longer is run again.
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(4);

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);
    private decimal _nextPrice = 11.00m;

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task A_change_that_skips_the_caches_is_read_and_charged_stale_and_the_price_check_cures_the_orders()
    {
        var product = fixture.Client.GetGrain<IProductGrain>(Sku);
        await fixture.Client.GetGrain<ICartGrain>(Customer).RemoveItemAsync(Sku);

        // The shop's own: a change is read back at once (write-through) and charged.
        var healthy = await RoundAsync(product, stale: false, cure: null);
        Assert.Equal(healthy.Written.Version, healthy.Read.Version);
        Assert.Equal(healthy.Written.Price, healthy.Charged);

        var fault = await RoundAsync(product, stale: true, cure: false);
        var cured = await RoundAsync(product, stale: true, cure: true);
        await _scenarios.ResetAsync();
        var after = await RoundAsync(product, stale: false, cure: null);

        output.WriteLine($"healthy: {healthy}");
        output.WriteLine($"stale-read: {fault}");
        output.WriteLine($"stale-read, cure: {cured}");
        output.WriteLine($"after reset: {after}");

        // Stale reads, by version: the grain serves a version below the database's, with the price before the change.
        Assert.True(fault.Read.Version < fault.Written.Version, $"read v{fault.Read.Version}, database v{fault.Written.Version}");
        Assert.Equal(fault.Written.Version, fault.DatabaseVersion);
        Assert.NotEqual(fault.Written.Price, fault.Read.Price);
        // The order was charged the superseded price.
        Assert.Equal(fault.Read.Price, fault.Charged);
        Assert.Equal(0, fault.Repriced);

        // The cure: the page is as stale, the order is not.
        Assert.True(cured.Read.Version < cured.Written.Version, $"read v{cured.Read.Version}, database v{cured.Written.Version}");
        Assert.Equal(cured.Written.Price, cured.Charged);
        Assert.Equal(1, cured.Repriced);

        Assert.Equal(after.Written.Version, after.Read.Version);
        Assert.Equal(after.Written.Price, after.Charged);
    }

    /// <summary>
    /// Loads the product into the grain's cache, switches the scenario as asked, changes the price, reads the product again,
    /// adds it to the cart and checks out. Run again (up to <see cref="Attempts"/>) when it outlasted the cache's TTL.
    /// </summary>
    private async Task<Round> RoundAsync(IProductGrain product, bool stale, bool? cure)
    {
        for (var attempt = 1; ; attempt++)
        {
            // A write-through with the shop's own puts a fresh entry in the grain's cache: its TTL starts now.
            await _scenarios.ResetAsync();
            await product.ChangePriceAsync(NextPrice());
            var clock = Stopwatch.StartNew();
            if (cure is { } c)
            {
                await _scenarios.EnableAsync(StaleReadScenario.Name, new Dictionary<string, string> { ["cure"] = c ? "true" : "false" });
            }

            var written = await product.ChangePriceAsync(NextPrice());
            var read = await product.GetAsync();
            var cart = fixture.Client.GetGrain<ICartGrain>(Customer);
            Assert.Equal(CartChangeOutcome.Changed, (await cart.AddItemAsync(Sku, 1)).Outcome);
            // The lines this checkout repriced: the cart grain's events on the checkout's own trace.
            using var telemetry = new TelemetryCapture();
            CheckoutResult checkout;
            System.Diagnostics.ActivityTraceId trace;
            using (var traced = TelemetryCapture.Trace("stale-read checkout"))
            {
                trace = traced.TraceId;
                checkout = await cart.CheckoutAsync();
            }

            var elapsed = clock.Elapsed;
            var repriced = telemetry.InTrace(trace).SelectMany(span => span.Events).Count(e => e.Name == "lab.repriced");
            Assert.True(checkout.Order is { Status: OrderStatus.Confirmed }, $"checkout: {checkout.Failure} {checkout.Detail}");
            using var connection = fixture.OpenShopDatabase();
            var databaseVersion = await connection.ExecuteScalarAsync<long>("SELECT version FROM products WHERE sku = @Sku", new { Sku });
            var round = new Round(written!, read!, checkout.Order.Lines.Single().UnitPrice, databaseVersion, (int)repriced, elapsed);
            if (!stale || elapsed < Within || attempt == Attempts)
            {
                return round;
            }

            output.WriteLine($"round took {elapsed.TotalSeconds:0.0} s, past the cache's TTL; again");
        }
    }

    private decimal NextPrice() => _nextPrice += 1.25m;

    private sealed record Round(Product Written, Product Read, decimal Charged, long DatabaseVersion, int Repriced, TimeSpan Elapsed)
    {
        public override string ToString() =>
            $"wrote {Written.Price} (v{Written.Version}), read {Read.Price} (v{Read.Version}), charged {Charged}, database v{DatabaseVersion}, " +
            $"repriced {Repriced}, {Elapsed.TotalMilliseconds:0} ms";
    }
}
