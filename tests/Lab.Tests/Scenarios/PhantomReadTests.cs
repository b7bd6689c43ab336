using System.Net;
using System.Text;
using System.Text.Json;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// phantom-read on the real lab: sales reports taken while checkouts insert orders. At READ COMMITTED (PostgreSQL) some
/// disagree with themselves; at the shop's REPEATABLE READ none does. SQLite's read transactions are snapshots: there the
/// scenario is refused, and the shop's reports agree all the same.
/// </summary>
[ScenarioTest(PhantomReadScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class PhantomReadTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Reports_read_at_read_committed_disagree_with_themselves_while_orders_arrive_and_a_snapshot_never_does()
    {
        await fixture.ResetEverywhereAsync();
        var since = DateTimeOffset.UtcNow.AddMinutes(-30);
        if (!TestDatabases.IsPostgres)
        {
            using var refused = await fixture.Control.PostAsync("/lab/scenarios/phantom-read", new StringContent("{}", Encoding.UTF8, "application/json"));
            var problem = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("\"database\"", problem);
            Assert.Contains("PostgreSQL", problem);
            var (own, ownReports) = await ReportsWhileCheckingOutAsync(since, firstCustomer: 230);
            output.WriteLine($"SQLite, refused: {problem}; the shop's own reports: {own} of {ownReports} disagree");
            Assert.Equal(0, own);
            return;
        }

        var injectedBefore = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "phantom-read"));
        await fixture.EnableEverywhereAsync("phantom-read", """{"ttl":"2m"}""");
        var (phantoms, reports) = await ReportsWhileCheckingOutAsync(since, firstCustomer: 230);
        await Task.Delay(400); // past the scrape cache
        var readCommitted = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "phantom-read")) - injectedBefore;

        await fixture.EnableEverywhereAsync("phantom-read", """{"parameters":{"cure":"true"},"ttl":"2m"}""");
        var (curedPhantoms, curedReports) = await ReportsWhileCheckingOutAsync(since, firstCustomer: 236);
        await fixture.DisableEverywhereAsync("phantom-read");
        output.WriteLine($"READ COMMITTED: {phantoms} of {reports} reports disagree ({readCommitted} reports counted by the scenario); REPEATABLE READ: {curedPhantoms} of {curedReports}");

        Assert.Equal(reports, readCommitted);
        Assert.True(phantoms > 0, $"none of {reports} reports at READ COMMITTED disagreed");
        Assert.Equal(0, curedPhantoms);
    }

    /// <summary>Four customers check out eight times each while the back office reads the sales report over and over (bounded).</summary>
    private async Task<(int Disagreeing, int Reports)> ReportsWhileCheckingOutAsync(DateTimeOffset since, int firstCustomer)
    {
        using var done = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var shoppers = Task.WhenAll(Enumerable.Range(0, 4).Select(async worker =>
        {
            for (var i = 0; i < 8; i++)
            {
                var checkout = await fixture.CheckoutAsync(firstCustomer + worker, [$"SKU-00{131 + ((worker + i) % 8)}"]);
                Assert.True(checkout.Status == HttpStatusCode.Created, $"checkout: {(int)checkout.Status} {checkout.Body}");
            }
        }));
        var disagreeing = 0;
        var reports = 0;
        var readers = Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            for (var i = 0; i < 300 && !done.IsCancellationRequested; i++)
            {
                using var response = await fixture.Control.GetAsync($"/api/admin/reports/sales?since={Uri.EscapeDataString(since.ToString("O"))}");
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"report: {(int)response.StatusCode} {text}");
                using var report = JsonDocument.Parse(text);
                var orders = report.RootElement.GetProperty("orders").GetInt64();
                var byStatus = report.RootElement.GetProperty("byStatus").EnumerateArray().Sum(s => s.GetProperty("orders").GetInt64());
                Interlocked.Increment(ref reports);
                if (orders != byStatus)
                {
                    Interlocked.Increment(ref disagreeing);
                }
            }
        }));
        try
        {
            await shoppers;
        }
        finally
        {
            await done.CancelAsync();
            await readers;
        }

        return (disagreeing, reports);
    }
}
