using System.Diagnostics;
using Dapper;
using Lab.Contracts;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

[ScenarioTest(NPlusOneQueryScenario.Name)]
[Collection(ShopClusterCollection.Name)]
public sealed class NPlusOneQueryTests(ShopClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] HistoryOperations = ["customer.order-history", ShopOperations.CustomerOrderLines, "customer.order-history-lines"];

    [Fact]
    public async Task History_queries_grow_with_its_length_and_the_cure_makes_them_constant()
    {
        using var connection = fixture.OpenShopDatabase();
        var (customerId, orderCount) = await connection.QuerySingleAsync<(long, long)>(
            "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 1");
        Assert.True(orderCount >= 8, $"the seed should give some customer 8+ orders, got {orderCount}");
        var customer = fixture.Client.GetGrain<ICustomerGrain>(customerId);
        var scenarios = new ScenarioSwitch(fixture.Cluster);
        using var telemetry = new TelemetryCapture();
        await customer.ExistsAsync();

        try
        {
            var baseline = await DbCallsPerHistory(customer, telemetry, 8);
            Assert.Equal(2, baseline);

            await scenarios.EnableAsync(NPlusOneQueryScenario.Name);
            var shortHistory = await DbCallsPerHistory(customer, telemetry, 3);
            var longHistory = await DbCallsPerHistory(customer, telemetry, 8);
            output.WriteLine($"db calls per history with the fault: 3 orders -> {shortHistory}, 8 orders -> {longHistory}");
            Assert.Equal(3 + 1, shortHistory);
            Assert.Equal(8 + 1, longHistory);
            // The per-order queries carry the scenario on their spans.
            Assert.Contains(telemetry.DbSpans(ShopOperations.CustomerOrderLines),
                span => span.GetTagItem("lab.scenario") is string name && name.Contains(NPlusOneQueryScenario.Name));

            await scenarios.EnableAsync(NPlusOneQueryScenario.Name, new Dictionary<string, string> { ["cure"] = "true" });
            var curedShort = await DbCallsPerHistory(customer, telemetry, 3);
            var curedLong = await DbCallsPerHistory(customer, telemetry, 8);
            output.WriteLine($"db calls per history with the cure: 3 orders -> {curedShort}, 8 orders -> {curedLong}");
            Assert.Equal(2, curedShort);
            Assert.Equal(2, curedLong);
        }
        finally
        {
            await scenarios.ResetAsync();
        }

        Assert.Equal(2, await DbCallsPerHistory(customer, telemetry, 8));
    }

    /// <summary>The database calls of one history read, counted on the spans of its own trace.</summary>
    private static async Task<long> DbCallsPerHistory(ICustomerGrain customer, TelemetryCapture telemetry, int limit)
    {
        ActivityTraceId trace;
        using (var read = TelemetryCapture.Trace("order history"))
        {
            trace = read.TraceId;
            var history = await customer.GetOrderHistoryAsync(limit);
            Assert.Equal(limit, history!.Count);
            Assert.All(history, order => Assert.NotEmpty(order.Lines));
        }

        return HistoryOperations.Sum(operation => telemetry.DbCalls(trace, operation));
    }
}
