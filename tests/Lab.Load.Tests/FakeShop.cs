using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lab.Load.Tests;

/// <summary>Just enough of the shop's HTTP API, in memory, for the journeys to run end to end.</summary>
public static class FakeShop
{
    public static void Map(WebApplication app)
    {
        var carts = new ConcurrentDictionary<int, ConcurrentDictionary<string, int>>();
        var orders = new ConcurrentDictionary<Guid, (int Customer, int Polls)>();

        app.MapGet("/api/catalog/search", (string? q, int? page, int? pageSize) =>
        {
            var size = pageSize ?? 20;
            var items = Enumerable.Range(1, size).Select(i => new { sku = $"SKU-{i:D5}", name = $"{q} {i}", category = "home", price = 9.99m });
            return Results.Ok(new { items, page = page ?? 1, pageSize = size, total = 45 });
        });
        app.MapGet("/api/products/{sku}", (string sku) => Results.Ok(new { sku, name = "thing", category = "home", price = 9.99m, description = "a thing" }));
        app.MapGet("/api/carts/{customerId:int}", (int customerId) => Results.Ok(Cart(customerId)));
        app.MapPost("/api/carts/{customerId:int}/items", (int customerId, CartItem item) =>
        {
            carts.GetOrAdd(customerId, _ => new()).AddOrUpdate(item.Sku, item.Quantity, (_, q) => q + item.Quantity);
            return Results.Ok(Cart(customerId));
        });
        app.MapDelete("/api/carts/{customerId:int}/items/{sku}", (int customerId, string sku) =>
        {
            carts.GetOrAdd(customerId, _ => new()).TryRemove(sku, out _);
            return Results.Ok(Cart(customerId));
        });
        app.MapPost("/api/carts/{customerId:int}/checkout", (int customerId) =>
        {
            var id = Guid.NewGuid();
            orders[id] = (customerId, 0);
            carts.TryRemove(customerId, out _);
            return Results.Json(new { orderId = id, customerId, status = "Placed", total = 10m, lines = Array.Empty<object>(), failureReason = (string?)null }, statusCode: 201);
        });
        app.MapGet("/api/orders/{orderId:guid}", (Guid orderId) =>
        {
            if (!orders.TryGetValue(orderId, out var order))
            {
                return Results.Problem(statusCode: 404, title: "no such order");
            }

            // Final on the second poll, so the checkout journey polls at least once.
            orders[orderId] = order with { Polls = order.Polls + 1 };
            var status = order.Polls >= 1 ? "Confirmed" : "PaymentCaptured";
            return Results.Ok(new { orderId, customerId = order.Customer, status, total = 10m, lines = Array.Empty<object>(), failureReason = (string?)null });
        });
        app.MapGet("/api/customers/{customerId:int}/orders", (int customerId, int? limit) =>
            Results.Ok(orders.Where(o => o.Value.Customer == customerId).Take(limit ?? 20)
                .Select(o => new { orderId = o.Key, customerId, status = "Confirmed", total = 10m })));

        object Cart(int customerId)
        {
            var lines = carts.GetOrAdd(customerId, _ => new()).Select(kv => new { sku = kv.Key, quantity = kv.Value, unitPrice = 9.99m }).ToList();
            return new { customerId, lines, total = lines.Sum(l => l.quantity * l.unitPrice) };
        }
    }

    public sealed record CartItem(string Sku, int Quantity);
}
