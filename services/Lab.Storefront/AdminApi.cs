using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;

namespace Lab.Storefront;

public sealed record RestockRequest(IReadOnlyList<RestockRequestLine?>? Lines);

public sealed record RestockRequestLine(string? Sku, int? Quantity);

/// <summary>The shop's back office: deliveries received into stock, sales reports. Every call needs the control token, as /lab's mutations do.</summary>
public static class AdminApi
{
    public const int MaxRestockLines = 500;
    public const int MaxRestockQuantity = 10_000;

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/admin").WithTags("Admin").RequireControlToken();
        admin.MapPost("/restock", RestockAsync).WithName("Restock")
            .WithDescription("Receives a delivery: adds each line's units to its SKU's stock. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<RestockReport>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized);
        admin.MapGet("/reports/sales", SalesReportAsync).WithName("SalesReport")
            .WithDescription("Sales since a moment (default: the last 24 hours): totals, totals by order status and the best-selling SKUs, read in one transaction. Needs Authorization: Bearer CONTROL_TOKEN.")
            .Produces<SalesReport>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized);
        return app;
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
