using Lab.Contracts;
using Lab.Scenarios;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[ScenarioTest(DiskFullScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class DiskFullTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Customer = 27;
    // Four lines per order: the order tables grow four rows per checkout, so the cap is reached within a few.
    private static readonly string[] Skus = ["SKU-00031", "SKU-00032", "SKU-00033", "SKU-00034"];
    private const int MaxAttempts = 30;
    private const int FollowingAttempts = 15;
    private const int MinFollowingFailures = 3;

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public Task DisposeAsync() => _scenarios.ResetAsync();

    [Fact]
    public async Task Writes_fail_with_the_real_sqlite_full_error_reads_go_on_and_writes_return_when_off()
    {
        if (TestDatabases.IsPostgres)
        {
            await RefusedOnPostgresAsync();
            return;
        }

        using var telemetry = new TelemetryCapture();
        Assert.Null(await CheckoutAsync()); // healthy

        // The silos' shop database; the test payments server shares this process (and its runtime) but has its own database.
        await _scenarios.EnableAsync(DiskFullScenario.Name, target: new Dictionary<string, string> { ["service"] = "silo" });

        // The database may not grow: once a write needs a new page (orders only grow), it fails.
        Exception? first = null;
        var attempts = 0;
        while (first is null && attempts < MaxAttempts)
        {
            attempts++;
            first = await CheckoutAsync();
        }

        Assert.NotNull(first);
        // Pages freed by deletes (cart lines, released reservations) are reused before the file has to grow, as on a
        // real full disk, so some writes still slip through: checkouts that fit in freed pages succeed, the others fail,
        // and how they alternate depends on what else freed pages. Every failure must be SQLITE_FULL.
        var following = new List<Exception?>();
        while (following.Count < FollowingAttempts)
        {
            following.Add(await CheckoutAsync());
        }

        // Reads go on while writes fail.
        var page = await fixture.Client.GetGrain<ICatalogGrain>(0).SearchAsync(new CatalogQuery("lamp", null, 1, 5));
        var product = await fixture.Client.GetGrain<IProductGrain>("SKU-00038").GetAsync();
        var history = await fixture.Client.GetGrain<ICustomerGrain>(Customer).GetOrderHistoryAsync(3);
        var failedSpans = telemetry.Spans
            .Where(s => s.Status == System.Diagnostics.ActivityStatusCode.Error && s.GetTagItem("lab.db.operation") is not null)
            .ToList();

        await _scenarios.ResetAsync();
        var afterwards = await CheckoutAsync();

        output.WriteLine($"first failure after {attempts} checkout(s): {first!.GetType().FullName}: {first.Message}");
        output.WriteLine($"next {following.Count}: {string.Join(" | ", following.Select(e => e?.GetType().Name ?? "ok"))}");
        output.WriteLine($"failed db spans: {string.Join(", ", failedSpans.Select(s => $"{s.GetTagItem("lab.db.operation")} [{s.GetTagItem("lab.scenario")}]").Distinct())}");
        output.WriteLine($"reads while full: {page.Items.Count} search hits, product {product?.Sku}, {history?.Count} orders in history; after disable: {afterwards?.Message ?? "checkout ok"}");

        AssertDiskFull(first);
        Assert.All(following.OfType<Exception>(), AssertDiskFull);
        var failures = following.Count(e => e is not null);
        Assert.True(failures >= MinFollowingFailures, $"writes did not keep failing: {failures} of the next {FollowingAttempts} checkouts failed");
        Assert.NotEmpty(failedSpans);
        Assert.All(failedSpans, span =>
        {
            Assert.Equal(typeof(SqliteException).FullName, span.GetTagItem("error.type"));
            Assert.Equal(DiskFullScenario.Name, span.GetTagItem("lab.scenario"));
            // In the silo the span holds the exception itself: SQLITE_FULL.
            var recorded = span.Events.Single(e => e.Name == "exception");
            Assert.Contains("database or disk is full", recorded.Tags.First(t => t.Key == "exception.message").Value as string);
        });

        Assert.NotEmpty(page.Items);
        Assert.Equal("SKU-00038", product!.Sku);
        Assert.NotNull(history);

        Assert.Null(afterwards);
    }

    /// <summary>
    /// PostgreSQL has no per-connection size cap like SQLite's max_page_count: the control plane refuses the scenario
    /// (the control API answers 400 with this error), nothing becomes active, and writes go on.
    /// </summary>
    private async Task RefusedOnPostgresAsync()
    {
        var result = await _scenarios.TryEnableAsync(DiskFullScenario.Name, target: new Dictionary<string, string> { ["service"] = "silo" });
        output.WriteLine($"{result.Outcome}: {result.Detail} {string.Join("; ", result.Errors?.Select(e => $"{e.Key}={string.Join(",", e.Value)}") ?? [])}");

        Assert.Equal(ControlOutcome.Invalid, result.Outcome);
        Assert.Contains("requires the SQLite provider", Assert.Single(result.Errors!["database"]));
        var active = await fixture.Client.GetGrain<IScenarioControlGrain>(IScenarioControlGrain.Key).GetActiveAsync();
        Assert.DoesNotContain(active.Activations, a => a.Name == DiskFullScenario.Name);
        Assert.Null(await CheckoutAsync());
    }

    /// <returns>Null when the checkout confirmed, else the exception it surfaced.</returns>
    private async Task<Exception?> CheckoutAsync()
    {
        try
        {
            var cart = fixture.Client.GetGrain<ICartGrain>(Customer);
            foreach (var sku in Skus)
            {
                Assert.Equal(CartChangeOutcome.Changed, (await cart.AddItemAsync(sku, 1)).Outcome);
            }

            var result = await cart.CheckoutAsync();
            Assert.Equal(CheckoutFailure.None, result.Failure);
            return null;
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            return ex;
        }
    }

    private static void AssertDiskFull(Exception? ex)
    {
        Assert.NotNull(ex);
        // The grain call carries the exception's type and message (SQLITE_FULL is error 13); the error code field stays in the silo.
        var sqlite = Assert.IsType<SqliteException>(ex);
        Assert.Contains("SQLite Error 13: 'database or disk is full'", sqlite.Message);
    }
}
