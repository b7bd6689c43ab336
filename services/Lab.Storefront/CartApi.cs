using Lab.Contracts;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;

namespace Lab.Storefront;

public sealed record AddCartItemRequest(string? Sku, int? Quantity);

public static class CartApi
{
    public static IEndpointRouteBuilder MapCartApi(this IEndpointRouteBuilder app)
    {
        var carts = app.MapGroup("/api/carts/{customerId}").WithTags("Cart");
        carts.MapGet("/", GetAsync).WithName("GetCart")
            .WithDescription("The customer's cart: its lines with unit prices and the total.")
            .Produces<Cart>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        carts.MapPost("/items", AddItemAsync).WithName("AddCartItem")
            .WithDescription("Puts a quantity of a SKU in the cart (a line for the SKU already there gets the new quantity).")
            .Produces<Cart>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        carts.MapDelete("/items/{sku}", RemoveItemAsync).WithName("RemoveCartItem")
            .WithDescription("Takes a SKU's line out of the cart.")
            .Produces<Cart>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        carts.MapPost("/checkout", CheckoutAsync).WithName("Checkout")
            .WithDescription("Places an order for the cart: reserves every line, charges payments, confirms. 201 with the confirmed order; " +
                             "409 out of stock, 502 payment failed, 504 the checkout's time budget spent, each with the order id and its status.")
            .Produces<Order>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status502BadGateway)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        return app;
    }

    private static async Task<IResult> GetAsync(IGrainFactory grains, int customerId)
    {
        if (!ShopInput.IsValidCustomerId(customerId))
        {
            return ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule);
        }

        return await grains.GetGrain<ICartGrain>(customerId).GetAsync() is { } cart ? TypedResults.Ok(cart) : UnknownCustomer(customerId);
    }

    private static async Task<IResult> AddItemAsync(IGrainFactory grains, int customerId, AddCartItemRequest? body)
    {
        if (!ShopInput.IsValidCustomerId(customerId))
        {
            return ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule);
        }

        if (body is null)
        {
            return ProblemDetailsHandling.Validation("body", "A JSON body {sku, quantity} is required.");
        }

        if (!ShopInput.IsValidSku(body.Sku))
        {
            return ProblemDetailsHandling.Validation("sku", ShopInput.SkuRule);
        }

        if (body.Quantity is not { } quantity || quantity < 1 || quantity > ShopLimits.MaxQuantityPerLine)
        {
            return ProblemDetailsHandling.Validation("quantity", $"quantity must be between 1 and {ShopLimits.MaxQuantityPerLine}.");
        }

        var change = await grains.GetGrain<ICartGrain>(customerId).AddItemAsync(body.Sku!, quantity);
        return change.Outcome switch
        {
            CartChangeOutcome.Changed => TypedResults.Ok(change.Cart),
            CartChangeOutcome.UnknownCustomer => UnknownCustomer(customerId),
            CartChangeOutcome.UnknownSku => ProblemDetailsHandling.NotFound("Product", $"No product with SKU '{body.Sku}'."),
            _ => ProblemDetailsHandling.Validation("quantity",
                $"A cart holds at most {ShopLimits.MaxQuantityPerLine} of one SKU and {ShopLimits.MaxCartLines} lines."),
        };
    }

    private static async Task<IResult> RemoveItemAsync(IGrainFactory grains, int customerId, string sku)
    {
        if (!ShopInput.IsValidCustomerId(customerId))
        {
            return ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule);
        }

        if (!ShopInput.IsValidSku(sku))
        {
            return ProblemDetailsHandling.Validation("sku", ShopInput.SkuRule);
        }

        var change = await grains.GetGrain<ICartGrain>(customerId).RemoveItemAsync(sku);
        return change.Outcome switch
        {
            CartChangeOutcome.Changed => TypedResults.Ok(change.Cart),
            CartChangeOutcome.UnknownCustomer => UnknownCustomer(customerId),
            _ => ProblemDetailsHandling.NotFound("Cart line", $"The cart has no line for SKU '{sku}'."),
        };
    }

    /// <summary>Runs the order saga; 201 with the confirmed order, or a problem saying why it was cancelled.</summary>
    private static async Task<IResult> CheckoutAsync(IGrainFactory grains, ShopPolicies policies, ServiceIdentity identity, int customerId)
    {
        if (!ShopInput.IsValidCustomerId(customerId))
        {
            return ProblemDetailsHandling.Validation("customerId", ShopInput.CustomerRule);
        }

        // The edge's budget for the whole checkout. Its deadline rides along in RequestContext, and every layer below
        // stops when it is spent (unless the deadline-propagation seam says they ignore it).
        var budget = ShopSeams.CheckoutBudget.Resolve(identity, policies.CheckoutBudget);
        CallDeadline.Set(DateTimeOffset.UtcNow + budget);
        using var spent = new CancellationTokenSource(budget);
        CheckoutResult result;
        try
        {
            result = await CheckoutWithRetriesAsync(grains.GetGrain<ICartGrain>(customerId), identity).WaitAsync(spent.Token);
        }
        catch (OperationCanceledException) when (spent.IsCancellationRequested)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status504GatewayTimeout, title: "Checkout timed out",
                detail: $"The storefront's budget of {budget.TotalSeconds:0.###} s for a checkout ran out; the order may still be processed below it.");
        }

        return result.Failure switch
        {
            CheckoutFailure.None => TypedResults.Created($"/api/orders/{result.Order!.OrderId}", result.Order),
            CheckoutFailure.UnknownCustomer => UnknownCustomer(customerId),
            CheckoutFailure.EmptyCart => TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Empty cart",
                detail: "The cart is empty; add an item before checking out."),
            CheckoutFailure.OutOfStock => OrderProblem(StatusCodes.Status409Conflict, "Out of stock", result),
            CheckoutFailure.TimedOut => OrderProblem(StatusCodes.Status504GatewayTimeout, "Checkout timed out", result),
            _ => OrderProblem(StatusCodes.Status502BadGateway, "Payment failed", result),
        };
    }

    /// <summary>
    /// One checkout: the edge does not retry a payment (one layer below does), unless the checkout-retry seam says it
    /// retries a checkout that failed on payment (the 502 below), as a naive edge would.
    /// </summary>
    private static async Task<CheckoutResult> CheckoutWithRetriesAsync(ICartGrain cart, ServiceIdentity identity)
    {
        var attempts = ShopSeams.CheckoutRetry.Resolve(identity, RetryPolicy.Once).Attempts;
        var result = await cart.CheckoutAsync();
        for (var attempt = 2; result.Failure == CheckoutFailure.PaymentFailed && attempt <= attempts; attempt++)
        {
            ResilienceTelemetry.Retried("storefront");
            result = await cart.CheckoutAsync();
        }

        return result;
    }

    private static IResult OrderProblem(int status, string title, CheckoutResult result) =>
        TypedResults.Problem(statusCode: status, title: title, detail: result.Detail,
            extensions: new Dictionary<string, object?> { ["orderId"] = result.Order?.OrderId, ["orderStatus"] = result.Order?.Status.ToString() });

    private static IResult UnknownCustomer(int customerId) =>
        ProblemDetailsHandling.NotFound("Customer", $"No customer {customerId}.");
}
