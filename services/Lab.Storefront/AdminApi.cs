using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;

namespace Lab.Storefront;

public sealed record RestockRequest(IReadOnlyList<RestockRequestLine?>? Lines);

public sealed record RestockRequestLine(string? Sku, int? Quantity);

/// <summary>The shop's back office: deliveries received into stock. Every call needs the control token, as /lab's mutations do.</summary>
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
        return app;
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
