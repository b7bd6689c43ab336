using Lab.Contracts;
using Lab.ServiceDefaults;

namespace Lab.Storefront;

public static class OrdersApi
{
    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/api/orders").WithTags("Orders");
        orders.MapGet("/{orderId}", GetOrderAsync).WithName("GetOrder")
            .WithDescription("One order: status, lines, total, payment and failure reason.")
            .Produces<Order>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);

        var customers = app.MapGroup("/api/customers/{customerId}").WithTags("Customers");
        customers.MapGet("/orders", GetHistoryAsync).WithName("GetOrderHistory")
            .WithDescription("The customer's latest orders (limit, default 20), newest first, with their lines.")
            .Produces<IReadOnlyList<Order>>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> GetOrderAsync(IGrainFactory grains, string orderId)
    {
        if (!Guid.TryParse(orderId, out var id) || id == Guid.Empty)
        {
            return ProblemDetailsHandling.Validation("orderId", "orderId must be a non-empty GUID.");
        }

        return await grains.GetGrain<IOrderGrain>(id).GetAsync() is { } order
            ? TypedResults.Ok(order)
            : ProblemDetailsHandling.NotFound("Order", $"No order {id}.");
    }

    private static async Task<IResult> GetHistoryAsync(IGrainFactory grains, int customerId, int? limit)
    {
        if (!ShopInput.IsValidCustomerId(customerId))
        {
            return ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule);
        }

        if (limit is < 1 or > ShopLimits.MaxHistoryLimit)
        {
            return ProblemDetailsHandling.Validation("limit", $"limit must be between 1 and {ShopLimits.MaxHistoryLimit}.");
        }

        return await grains.GetGrain<ICustomerGrain>(customerId).GetOrderHistoryAsync(limit ?? 20) is { } history
            ? TypedResults.Ok(history)
            : ProblemDetailsHandling.NotFound("Customer", $"No customer {customerId}.");
    }
}
