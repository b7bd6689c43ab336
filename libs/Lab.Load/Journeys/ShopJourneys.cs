using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Lab.Load.Journeys;

/// <summary>Search, maybe a second page, then a product page (hot products via the Zipf draw).</summary>
public sealed class BrowseJourney : IJourney
{
    public const int PageSize = 20;

    public string Name => "browse";

    public IReadOnlyList<string> Steps { get; } = ["search", "page", "product"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var word = Uri.EscapeDataString(context.PickSearchWord());
        var search = await context.SendAsync("search", HttpMethod.Get, $"/api/catalog/search?q={word}&page=1&pageSize={PageSize}", cancellationToken: cancellationToken);
        if (!search.Ok)
        {
            return;
        }

        // Half the visitors look at the next page when there is one.
        if (ShopJson.GetInt64(search.Body, "total") > PageSize && context.Random.Next(2) == 0)
        {
            var page = await context.SendAsync("page", HttpMethod.Get, $"/api/catalog/search?q={word}&page=2&pageSize={PageSize}", cancellationToken: cancellationToken);
            if (!page.Ok)
            {
                return;
            }
        }

        await context.SendAsync("product", HttpMethod.Get, $"/api/products/{context.PickSku()}", readBody: false, cancellationToken: cancellationToken);
    }
}

/// <summary>Add an item, view the cart, remove the item again.</summary>
public sealed class CartJourney : IJourney
{
    public string Name => "cart";

    public IReadOnlyList<string> Steps { get; } = ["add", "view", "remove"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var customer = context.PickCustomer();
        var sku = context.PickSku();
        var add = await context.SendAsync("add", HttpMethod.Post, $"/api/carts/{customer}/items", ShopJson.CartItem(sku, 1 + context.Random.Next(3)), readBody: false, cancellationToken: cancellationToken);
        if (!add.Ok)
        {
            return;
        }

        var view = await context.SendAsync("view", HttpMethod.Get, $"/api/carts/{customer}", readBody: false, cancellationToken: cancellationToken);
        if (!view.Ok)
        {
            return;
        }

        await context.SendAsync("remove", HttpMethod.Delete, $"/api/carts/{customer}/items/{sku}", readBody: false, cancellationToken: cancellationToken);
    }
}

/// <summary>Fill a cart with 1-4 products, check out, then poll the order until the saga reaches a final state.</summary>
public sealed class CheckoutJourney : IJourney
{
    public string Name => "checkout";

    public IReadOnlyList<string> Steps { get; } = ["add", "checkout", "order-status"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var customer = context.PickCustomer();
        var lines = 1 + context.Random.Next(4);
        var skus = new HashSet<string>(StringComparer.Ordinal);
        while (skus.Count < lines)
        {
            skus.Add(context.PickSku());
        }

        foreach (var sku in skus)
        {
            var add = await context.SendAsync("add", HttpMethod.Post, $"/api/carts/{customer}/items", ShopJson.CartItem(sku, 1 + context.Random.Next(2)), readBody: false, cancellationToken: cancellationToken);
            if (!add.Ok)
            {
                return;
            }
        }

        var checkout = await context.SendAsync("checkout", HttpMethod.Post, $"/api/carts/{customer}/checkout", expectedStatus: 201, cancellationToken: cancellationToken);
        if (!checkout.Ok)
        {
            return;
        }

        var orderId = ShopJson.GetString(checkout.Body, "orderId");
        if (orderId is null)
        {
            context.FailStep("checkout", "the checkout response has no orderId");
            return;
        }

        var status = ShopJson.GetString(checkout.Body, "status");
        var polling = context.Plan.Polling;
        for (var poll = 0; !ShopJson.IsFinal(status); poll++)
        {
            if (poll == polling.MaxPolls)
            {
                context.FailStep("order-status", $"order {orderId} still '{status}' after {polling.MaxPolls} polls");
                return;
            }

            await context.DelayAsync(polling.Interval, cancellationToken);
            var order = await context.SendAsync("order-status", HttpMethod.Get, $"/api/orders/{orderId}", cancellationToken: cancellationToken);
            if (!order.Ok)
            {
                return;
            }

            status = ShopJson.GetString(order.Body, "status");
        }
    }
}

/// <summary>List a customer's recent orders and open the newest one.</summary>
/// <summary>
/// The back office receives a delivery note of 10-30 lines from the fifty best sellers (what sells is what gets
/// restocked), 5-20 units each. Needs the control token (the plan's): without one every restock is refused with 401.
/// </summary>
public sealed class RestockJourney : IJourney
{
    private const int BestSellers = 50;

    public string Name => "restock";

    public IReadOnlyList<string> Steps { get; } = ["restock"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var count = 10 + context.Random.Next(21);
        var skus = new HashSet<string>(StringComparer.Ordinal);
        for (var draws = 0; skus.Count < count && draws < count * 10; draws++)
        {
            skus.Add(context.PickBestSeller(BestSellers));
        }

        await context.SendAsync("restock", HttpMethod.Post, "/api/admin/restock",
            ShopJson.Delivery(skus.Select(sku => (sku, 5 + context.Random.Next(16)))), readBody: false, backOffice: true, cancellationToken: cancellationToken);
    }
}

/// <summary>
/// The back office changes the price of one of the fifty best sellers (a new price between 1.00 and 300.00), then opens
/// the product's page, as a merchandiser checks a change: what makes cached pages and cart prices go stale. A page older
/// than the version the change returned fails the step (read-your-writes: the merchandiser sees the old price). Needs the
/// control token (the plan's): without one every change is refused with 401.
/// </summary>
public sealed class PriceChangeJourney : IJourney
{
    private const int BestSellers = 50;

    public string Name => "price-change";

    public IReadOnlyList<string> Steps { get; } = ["price", "page"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var sku = context.PickBestSeller(BestSellers);
        var cents = 100 + context.Random.Next(29_901);
        var changed = await context.SendAsync("price", HttpMethod.Put, $"/api/admin/products/{sku}/price", ShopJson.Price(cents),
            backOffice: true, cancellationToken: cancellationToken);
        if (!changed.Ok)
        {
            return;
        }

        var page = await context.SendAsync("page", HttpMethod.Get, $"/api/products/{sku}", cancellationToken: cancellationToken);
        var (written, read) = (ShopJson.GetInt64(changed.Body, "version"), ShopJson.GetInt64(page.Body, "version"));
        if (page.Ok && read < written)
        {
            context.FailStep("page", $"stale page: {sku} at version {read} after version {written} was written");
        }
    }
}

/// <summary>
/// The back office reads the sales report since the shop opened (the seed's first order, 2025-01-01: every order, a long
/// read as real reports are) and checks that it agrees with itself: its order count equals the sum of its by-status rows
/// (they are read in one transaction). A report that disagrees fails the step.
/// </summary>
public sealed class ReportJourney : IJourney
{
    private const string ShopOpened = "2025-01-01T00:00:00Z";

    public string Name => "report";

    public IReadOnlyList<string> Steps { get; } = ["report"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var report = await context.SendAsync("report", HttpMethod.Get, $"/api/admin/reports/sales?since={ShopOpened}", backOffice: true, cancellationToken: cancellationToken);
        if (report.Ok && ShopJson.SalesReportDisagreement(report.Body) is { } disagreement)
        {
            context.FailStep("report", disagreement);
        }
    }
}

public sealed class HistoryJourney : IJourney
{
    public string Name => "history";

    public IReadOnlyList<string> Steps { get; } = ["orders", "order"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var customer = context.PickCustomer();
        var orders = await context.SendAsync("orders", HttpMethod.Get, $"/api/customers/{customer}/orders?limit=20", cancellationToken: cancellationToken);
        if (!orders.Ok)
        {
            return;
        }

        var first = ShopJson.FirstArrayItemString(orders.Body, "orderId");
        if (first is not null)
        {
            await context.SendAsync("order", HttpMethod.Get, $"/api/orders/{first}", readBody: false, cancellationToken: cancellationToken);
        }
    }
}

/// <summary>A customer puts a product (hot products via the Zipf draw) on their wish list, then looks at the list.</summary>
public sealed class WishListJourney : IJourney
{
    public string Name => "wishlist";

    public IReadOnlyList<string> Steps { get; } = ["wish", "list"];

    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken)
    {
        var customer = context.PickCustomer();
        var wish = await context.SendAsync("wish", HttpMethod.Put, $"/api/customers/{customer}/wishlist/{context.PickSku()}", readBody: false,
            cancellationToken: cancellationToken);
        if (wish.Ok)
        {
            await context.SendAsync("list", HttpMethod.Get, $"/api/customers/{customer}/wishlist", readBody: false, cancellationToken: cancellationToken);
        }
    }
}

/// <summary>One GET of the target URL as given (path and query included): for benchmarks and plain endpoints.</summary>
public sealed class GetJourney : IJourney
{
    public string Name => "get";

    public IReadOnlyList<string> Steps { get; } = ["get"];

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RunAsync(JourneyContext context, CancellationToken cancellationToken) =>
        await context.SendAsync("get", HttpMethod.Get, context.Plan.Target.PathAndQuery, readBody: false, cancellationToken: cancellationToken);
}

/// <summary>The few bits of the shop's JSON the journeys read. Tolerant: a missing field gives null, not an exception.</summary>
internal static class ShopJson
{
    private static readonly string[] FinalStatuses = ["Confirmed", "Shipped", "Cancelled"];

    public static ReadOnlyMemory<byte> CartItem(string sku, int quantity) =>
        Encoding.UTF8.GetBytes($$"""{"sku":"{{sku}}","quantity":{{quantity}}}""");

    public static ReadOnlyMemory<byte> Price(int cents) =>
        Encoding.UTF8.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""{"price":{{cents / 100m:0.00}}}"""));

    public static ReadOnlyMemory<byte> Delivery(IEnumerable<(string Sku, int Quantity)> lines) =>
        Encoding.UTF8.GetBytes($$"""{"lines":[{{string.Join(",", lines.Select(l => $$"""{"sku":"{{l.Sku}}","quantity":{{l.Quantity}}}"""))}}]}""");

    /// <summary>Why a sales report disagrees with itself (orders against the sum of its by-status rows), or null when it agrees.</summary>
    public static string? SalesReportDisagreement(ReadOnlyMemory<byte> json)
    {
        if (!TryParse(json, out var doc))
        {
            return "the report is not JSON";
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("orders", out var orders) || !root.TryGetProperty("byStatus", out var byStatus)
                || byStatus.ValueKind != JsonValueKind.Array)
            {
                return "the report has no orders or byStatus";
            }

            var sum = byStatus.EnumerateArray().Sum(row => row.TryGetProperty("orders", out var n) && n.TryGetInt64(out var v) ? v : 0);
            return orders.TryGetInt64(out var total) && total == sum ? null : $"the report counts {orders} orders but its statuses {sum}";
        }
    }

    public static bool IsFinal(string? status) =>
        status is not null && (FinalStatuses.Contains(status, StringComparer.OrdinalIgnoreCase) || status is "3" or "4" or "5");

    public static string? GetString(ReadOnlyMemory<byte> json, string property)
    {
        if (!TryParse(json, out var doc))
        {
            return null;
        }

        using (doc)
        {
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(property, out var value)
                ? AsText(value)
                : null;
        }
    }

    public static long GetInt64(ReadOnlyMemory<byte> json, string property)
    {
        if (!TryParse(json, out var doc))
        {
            return 0;
        }

        using (doc)
        {
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty(property, out var value)
                && value.TryGetInt64(out var n) ? n : 0;
        }
    }

    /// <summary>A property of the first element of a top-level array (or of an object's "items" array).</summary>
    public static string? FirstArrayItemString(ReadOnlyMemory<byte> json, string property)
    {
        if (!TryParse(json, out var doc))
        {
            return null;
        }

        using (doc)
        {
            var array = doc.RootElement;
            if (array.ValueKind == JsonValueKind.Object && array.TryGetProperty("items", out var items))
            {
                array = items;
            }

            if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
            {
                return null;
            }

            var first = array[0];
            return first.ValueKind == JsonValueKind.Object && first.TryGetProperty(property, out var value) ? AsText(value) : null;
        }
    }

    private static string? AsText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        _ => null,
    };

    private static bool TryParse(ReadOnlyMemory<byte> json, out JsonDocument doc)
    {
        doc = null!;
        if (json.IsEmpty)
        {
            return false;
        }

        try
        {
            doc = JsonDocument.Parse(json);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
