using System.Net;
using System.Net.Http.Json;
using Dapper;
using Lab.Tests.Support;

namespace Lab.Tests.EndToEnd;

[Collection(LabProcessesCollection.Name)]
public sealed class StockConservationTests(LabProcessesFixture fixture)
{
    private static readonly string[] HotSkus = ["SKU-00001", "SKU-00002", "SKU-00003"];
    // Spelled out: list parameters differ between the providers (Dapper's IN @list vs Npgsql's arrays).
    private static readonly string HotSkuList = string.Join(", ", HotSkus.Select(sku => $"'{sku}'"));

    [Fact]
    public async Task Concurrent_checkouts_on_hot_skus_conserve_stock_charge_once_and_all_finish()
    {
        const int checkouts = 200;
        const int customers = 100;
        var random = new Random(7);
        var plans = Enumerable.Range(0, checkouts)
            .Select(i => (Customer: 100 + i % customers, Sku: HotSkus[random.Next(HotSkus.Length)], Quantity: 1 + random.Next(0, 2)))
            .ToList();

        using var gate = new SemaphoreSlim(16);
        var statuses = await Task.WhenAll(plans.Select(async plan =>
        {
            await gate.WaitAsync();
            try
            {
                // One customer's cart is one grain: its add and checkout run one after the other.
                var added = await fixture.Storefront.PostAsJsonAsync($"/api/carts/{plan.Customer}/items", new { sku = plan.Sku, quantity = plan.Quantity });
                var checkout = await fixture.Storefront.PostAsync($"/api/carts/{plan.Customer}/checkout", null);
                return (added.StatusCode, checkout.StatusCode);
            }
            finally
            {
                gate.Release();
            }
        }));

        // Carts of customers whose earlier checkout is still running wait their turn; on a slow machine a request may
        // give up (504) while its saga goes on, and a payment may fail for want of an answer (502: the order is cancelled
        // and its units go back). Every saga must still end, and the books must balance.
        Assert.All(statuses, status => Assert.Contains(status.Item1, new[] { HttpStatusCode.OK, HttpStatusCode.GatewayTimeout }));
        Assert.All(statuses, status => Assert.Contains(status.Item2,
            new[] { HttpStatusCode.Created, HttpStatusCode.Conflict, HttpStatusCode.BadRequest, HttpStatusCode.BadGateway, HttpStatusCode.GatewayTimeout }));
        Assert.Contains(statuses, status => status.Item2 == HttpStatusCode.Created);
        Assert.Contains(statuses, status => status.Item2 == HttpStatusCode.Conflict);

        using var shop = fixture.OpenDatabase("shop.db");
        await Eventually.GetAsync(() => shop.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM orders WHERE status NOT IN ('Confirmed', 'Shipped', 'Cancelled')"),
            unfinished => unfinished == 0, TimeSpan.FromSeconds(60), "every saga finished");
        foreach (var row in await shop.QueryAsync<(string Sku, long Initial, long Available, long Reserved, long Sold)>(
                     "SELECT sku, initial_stock, available, reserved, sold FROM inventory"))
        {
            Assert.Equal(row.Initial, row.Available + row.Reserved + row.Sold);
            Assert.Equal(0, row.Reserved);
        }

        var orders = (await shop.QueryAsync<(string OrderId, string Status)>(
            "SELECT order_id, status FROM orders WHERE customer_id BETWEEN 100 AND 199")).ToList();
        Assert.All(orders, order => Assert.Contains(order.Status, new[] { "Confirmed", "Shipped", "Cancelled" }));
        var sold = await shop.ExecuteScalarAsync<long>($"SELECT SUM(sold) FROM inventory WHERE sku IN ({HotSkuList})");
        var confirmedUnits = await shop.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l JOIN orders o ON o.order_id = l.order_id " +
            $"WHERE o.status IN ('Confirmed', 'Shipped') AND o.payment_id IS NOT NULL AND l.sku IN ({HotSkuList})");
        Assert.Equal(confirmedUnits, sold);

        using var payments = fixture.OpenDatabase("payments.db");
        Assert.Equal(0, await payments.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM (SELECT order_id FROM charges GROUP BY order_id HAVING COUNT(*) > 1) AS twice"));
        var charged = (await payments.QueryAsync<(string OrderId, string Status)>("SELECT order_id, status FROM charges")).ToDictionary(c => c.OrderId, c => c.Status);
        foreach (var order in orders.Where(order => charged.ContainsKey(order.OrderId)))
        {
            Assert.Equal(order.Status == "Cancelled" ? "refunded" : "captured", charged[order.OrderId]);
        }
    }
}
