using Lab.PageCache;
using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;

namespace Lab.Storefront;

public sealed record RestockRequest(IReadOnlyList<RestockRequestLine?>? Lines);

public sealed record RestockRequestLine(string? Sku, int? Quantity);

public sealed record WishListCleanupRequest(IReadOnlyList<int>? Customers);

public sealed record PriceChangeRequest(decimal? Price);

/// <summary>How many wish lists the clean-up changed.</summary>
public sealed record WishListCleanup(int Changed);

/// <summary>The shop's back office: deliveries received into stock, price changes, sales reports. Every call needs the control token, as /lab's mutations do.</summary>
public static class AdminApi
{
    public const int MaxRestockLines = 500;
    public const int MaxRestockQuantity = 10_000;
    public const int MaxCleanupCustomers = 1000;
    public const decimal MaxPrice = 100_000m;

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/admin").WithTags("Admin").RequireControlToken();
        admin.MapPost("/restock", RestockAsync).WithName("Restock")
            .WithDescription("Receives a delivery: adds each line's units to its SKU's stock. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<RestockReport>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized);
        admin.MapPut("/products/{sku}/price", ChangePriceAsync).WithName("ChangePrice")
            .WithDescription("Sets a product's price: its version goes up by one, the product grain caches what it wrote and the storefront drops " +
                             "its cached page. Carts keep the price a line was added at; checkout charges the current one. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<Product>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapGet("/reports/sales", SalesReportAsync).WithName("SalesReport")
            .WithDescription("Sales since a moment (default: the last 24 hours): totals, totals by order status and the best-selling SKUs, read in one transaction. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<SalesReport>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized);
        admin.MapPost("/wishlists/cleanup", CleanUpWishListsAsync).WithName("CleanUpWishLists")
            .WithDescription("The wish-list clean-up: takes out-of-stock products off the lists of the customers given. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<WishListCleanup>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized);
        admin.MapPost("/dead-letters/replay", async (IGrainFactory grains) => TypedResults.Ok(await grains.GetGrain<IDeadLetterGrain>(0).ReplayAsync()))
            .WithName("ReplayDeadLetters")
            .WithDescription("Publishes the order events the projection parked as dead letters again (once what failed them is fixed), for every order " +
                             "that has some. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<DeadLetterReplay>().ProducesProblem(StatusCodes.Status401Unauthorized);
        return app;
    }

    private static async Task<IResult> ChangePriceAsync(ProductReads reads, string sku, PriceChangeRequest? body)
    {
        if (!ShopInput.IsValidSku(sku))
        {
            return ProblemDetailsHandling.Validation("sku", ShopInput.SkuRule);
        }

        if (body?.Price is not { } price || price <= 0 || price > MaxPrice || decimal.Round(price, 2) != price)
        {
            return ProblemDetailsHandling.Validation("price", $"A JSON body {{\"price\": 12.50}} with a price above 0 and at most {MaxPrice:0}, in cents at most, is required.");
        }

        return await reads.ChangePriceAsync(sku, price) is { } product
            ? TypedResults.Ok(product)
            : ProblemDetailsHandling.NotFound("Product", $"No product with SKU '{sku}'.");
    }

    private static async Task<IResult> CleanUpWishListsAsync(IGrainFactory grains, WishListCleanupRequest? body)
    {
        if (body?.Customers is not { Count: > 0 and <= MaxCleanupCustomers } customers || customers.Any(id => !ShopInput.IsValidCustomerId(id)))
        {
            return ProblemDetailsHandling.Validation("customers", $"A JSON body {{\"customers\": [1, 2]}} with 1 to {MaxCleanupCustomers} customer ids is required.");
        }

        return TypedResults.Ok(new WishListCleanup(await grains.GetGrain<IWishListCleanupGrain>(0).CleanAsync(customers)));
    }

    private static async Task<IResult> SalesReportAsync(IGrainFactory grains, string? since)
    {
        var from = DateTimeOffset.UtcNow.AddDays(-1);
        if (since is not null && !DateTimeOffset.TryParse(since, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out from))
        {
            return ProblemDetailsHandling.Validation("since", "since must be a date and time such as 2026-12-03T10:00:00Z.");
        }

        return TypedResults.Ok(await grains.GetGrain<IReportGrain>(0).SalesAsync(from.ToUniversalTime()));
    }

    private static async Task<IResult> RestockAsync(IGrainFactory grains, RestockRequest? body)
    {
        if (body?.Lines is not { Count: > 0 } lines)
        {
            return ProblemDetailsHandling.Validation("lines", "A JSON body {\"lines\": [{\"sku\": \"SKU-00042\", \"quantity\": 10}]} with at least one line is required.");
        }

        if (lines.Count > MaxRestockLines)
        {
            return ProblemDetailsHandling.Validation("lines", $"A delivery has at most {MaxRestockLines} lines.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var valid = new List<RestockLine>(lines.Count);
        for (var i = 0; i < lines.Count; i++)
        {
            if (lines[i] is not { } line || !ShopInput.IsValidSku(line.Sku))
            {
                return ProblemDetailsHandling.Validation($"lines[{i}].sku", ShopInput.SkuRule);
            }

            if (line.Quantity is not { } quantity || quantity < 1 || quantity > MaxRestockQuantity)
            {
                return ProblemDetailsHandling.Validation($"lines[{i}].quantity", $"quantity must be between 1 and {MaxRestockQuantity}.");
            }

            if (!seen.Add(line.Sku!))
            {
                return ProblemDetailsHandling.Validation($"lines[{i}].sku", $"{line.Sku} is on the delivery twice; put its units on one line.");
            }

            valid.Add(new RestockLine(line.Sku!, quantity));
        }

        return TypedResults.Ok(await grains.GetGrain<IRestockGrain>(0).RestockAsync(valid));
    }
}
