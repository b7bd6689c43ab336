using System.Diagnostics;
using Dapper;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// missing-index on the real database: the index is dropped, the order-history query's plan (on its spans) is a full scan
/// and its time grows with the orders table (measured at two sizes), and the index is back when the scenario ends.
/// </summary>
[ScenarioTest(MissingIndexScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class MissingIndexTests(ShopClusterFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Customer = 5;
    private const int SmallPadding = 20_000;
    private const int LargePadding = 200_000;
    private const int Reads = 15;

    private readonly ScenarioSwitch _scenarios = new(fixture.Cluster);

    public Task InitializeAsync() => _scenarios.ResetAsync();

    public async Task DisposeAsync()
    {
        await _scenarios.ResetAsync();
        using var connection = fixture.OpenShopDatabase();
        await connection.ExecuteAsync("DELETE FROM orders WHERE order_id LIKE 'padding-%'", commandTimeout: 120);
        if (!TestDatabases.IsPostgres)
        {
            // Give the pages back: disk-full caps the file at its size, and free pages inside it would let writes go on.
            // It needs the database to itself for a moment: a silo's sweep may be reading, so it tries again a few times.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await connection.ExecuteAsync("VACUUM", commandTimeout: 120);
                    break;
                }
                catch (Microsoft.Data.Sqlite.SqliteException) when (attempt < 10)
                {
                    await Task.Delay(200);
                }
            }
        }
    }

    [Fact]
    public async Task The_plan_becomes_a_full_scan_that_grows_with_the_table_and_the_index_comes_back()
    {
        var index = ShopIndexes.OrdersByCustomer;
        var customer = fixture.Client.GetGrain<ICustomerGrain>(Customer);
        using var telemetry = new TelemetryCapture();
        Assert.True(await IndexExistsAsync(index.Name), "the shop's schema has the index");

        await PadOrdersAsync(SmallPadding);
        var indexedSmall = await HistoryReadMsAsync(customer, telemetry);

        await _scenarios.EnableAsync(MissingIndexScenario.Name, target: new Dictionary<string, string> { ["service"] = "silo" });
        Assert.False(await IndexExistsAsync(index.Name), "the scenario dropped the index");
        var missingSmall = await HistoryReadMsAsync(customer, telemetry);
        var plans = telemetry.DbSpans(ShopOperations.CustomerOrderHistory)
            .Select(span => span.GetTagItem(MissingIndexScenario.PlanTag) as string).ToList();
        await PadOrdersAsync(LargePadding - SmallPadding);
        var missingLarge = await HistoryReadMsAsync(customer, telemetry);

        await _scenarios.ResetAsync();
        Assert.True(await IndexExistsAsync(index.Name), "the index is back after reset");
        var restoredLarge = await HistoryReadMsAsync(customer, telemetry);
        Assert.DoesNotContain(telemetry.DbSpans(ShopOperations.CustomerOrderHistory), span => span.GetTagItem(MissingIndexScenario.PlanTag) is not null);

        output.WriteLine($"plan without the index: {plans.FirstOrDefault()}");
        output.WriteLine($"order-history db span median, ms: with the index {indexedSmall:0.00} ({SmallPadding} extra orders); " +
                         $"without it {missingSmall:0.00} ({SmallPadding}) and {missingLarge:0.00} ({LargePadding}); index restored {restoredLarge:0.00} ({LargePadding})");

        // Every history read while the index was missing carries its plan, a scan of the whole orders table.
        Assert.Equal(Reads, plans.Count);
        var scan = TestDatabases.IsPostgres ? "Seq Scan on orders" : "SCAN orders";
        Assert.All(plans, plan =>
        {
            Assert.NotNull(plan);
            Assert.Contains(scan, plan);
            Assert.DoesNotContain(index.Name, plan);
        });
        // The scan's cost follows the table: ten times the rows take several times as long; with the index back it does not.
        Assert.True(missingLarge > 3 * missingSmall, $"without the index {missingLarge:0.00} ms at {LargePadding} vs {missingSmall:0.00} ms at {SmallPadding}");
        Assert.True(restoredLarge < missingLarge / 4, $"at {LargePadding} extra orders: {missingLarge:0.00} ms without the index, {restoredLarge:0.00} ms with it");
    }

    /// <summary>The median duration of the order-history query's db span over several reads.</summary>
    private async Task<double> HistoryReadMsAsync(ICustomerGrain customer, TelemetryCapture telemetry)
    {
        await customer.GetOrderHistoryAsync(5); // warm: statement caches, pages
        telemetry.Clear();
        for (var i = 0; i < Reads; i++)
        {
            Assert.NotNull(await customer.GetOrderHistoryAsync(5));
        }

        var durations = telemetry.DbSpans(ShopOperations.CustomerOrderHistory).Select(span => span.Duration.TotalMilliseconds).Order().ToList();
        Assert.Equal(Reads, durations.Count);
        return durations[durations.Count / 2];
    }

    /// <summary>Other customers' old, cancelled orders: rows the history query must not return, only step over.</summary>
    private async Task PadOrdersAsync(int count)
    {
        using var connection = fixture.OpenShopDatabase();
        var offset = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE order_id LIKE 'padding-%'");
        const string Columns = "order_id, customer_id, status, total_cents, failure_reason, payment_id, created_at, updated_at, last_sequence";
        const string Values = "'padding-' || (@offset + i), 100000 + (i % 5000), 'Cancelled', 0, NULL, NULL, 0, 0, 1";
        await connection.ExecuteAsync(TestDatabases.IsPostgres
            ? $"INSERT INTO orders ({Columns}) SELECT {Values} FROM generate_series(1, @count) AS g(i); ANALYZE orders"
            : $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count) INSERT INTO orders ({Columns}) SELECT {Values} FROM n",
            new { offset, count }, commandTimeout: 120);
    }

    private async Task<bool> IndexExistsAsync(string name)
    {
        using var connection = fixture.OpenShopDatabase();
        return await connection.ExecuteScalarAsync<long>(TestDatabases.IsPostgres
            ? "SELECT COUNT(*) FROM pg_indexes WHERE indexname = @name"
            : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = @name", new { name }) == 1;
    }
}
