using System.Text.RegularExpressions;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Microsoft.Extensions.Options;

namespace Lab.Payments;

/// <param name="Items">What the charge is for (optional): the lines the provider prints on the invoice; they add up to the amount.</param>
public sealed record CreateChargeRequest(Guid OrderId, decimal Amount, string? Currency, IReadOnlyList<ChargeItemRequest?>? Items = null);

public sealed record ChargeItemRequest(string? Sku, int Quantity, decimal UnitPrice);

public static partial class ChargesApi
{
    public const string IdempotencyHeader = "Idempotency-Key";
    private const int MaxIdempotencyKeyLength = 200;
    private const decimal MaxAmount = 1_000_000m;
    private const int MaxItems = 1000;
    private const int MaxSkuLength = 64;

    public static RouteGroupBuilder MapChargesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(ShopRoutes.Charges).WithTags("Charges");
        group.AddEndpointFilter(PaymentsCaller.Authenticate)
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        group.MapPost("/", CreateAsync).WithName("CreateCharge")
            .WithDescription("Charges an order once per Idempotency-Key: 201 with a new charge, 200 with the first one for a repeated key and the same " +
                             "request, 422 for a repeated key and another request, 504 when too little of the caller's Lab-Deadline is left.")
            .Produces<Charge>(StatusCodes.Status201Created).Produces<Charge>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status504GatewayTimeout);
        group.MapGet("/{chargeId}", GetAsync).WithName("GetCharge")
            .WithDescription("One charge and its status (captured or refunded).")
            .Produces<Charge>().ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/", ListByOrderAsync).WithName("ListChargesOfOrder")
            .WithDescription("The charges made for an order (orderId), so a caller that gave up can find and refund them.")
            .Produces<IReadOnlyList<Charge>>().ProducesValidationProblem();
        group.MapPost("/{chargeId}/refund", RefundAsync).WithName("RefundCharge")
            .WithDescription("Refunds a charge; refunding it again answers the same refunded charge.")
            .Produces<Charge>().ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    /// <summary>Charges once per idempotency key: a repeated key returns the first charge (200), never a second one.</summary>
    private static async Task<IResult> CreateAsync(HttpRequest request, CreateChargeRequest? body, ChargeRepository charges, TimeProvider time,
        ShopPolicies policies, ServiceIdentity identity, IOptions<PaymentsOptions> options)
    {
        var key = request.Headers[IdempotencyHeader].ToString();
        if (string.IsNullOrWhiteSpace(key) || key.Length > MaxIdempotencyKeyLength)
        {
            return ProblemDetailsHandling.Validation(IdempotencyHeader,
                $"The {IdempotencyHeader} header is required (1 to {MaxIdempotencyKeyLength} characters).");
        }

        if (body is null)
        {
            return ProblemDetailsHandling.Validation("body", "A JSON body {orderId, amount, currency} is required.");
        }

        if (body.OrderId == Guid.Empty)
        {
            return ProblemDetailsHandling.Validation("orderId", "orderId must be a non-empty GUID.");
        }

        if (body.Amount <= 0 || body.Amount > MaxAmount || decimal.Round(body.Amount, 2) != body.Amount)
        {
            return ProblemDetailsHandling.Validation("amount", $"amount must be more than 0 and at most {MaxAmount}, in cents precision.");
        }

        if (body.Currency is null || !CurrencyCode().IsMatch(body.Currency))
        {
            return ProblemDetailsHandling.Validation("currency", "currency must be a three-letter ISO code such as EUR.");
        }

        if (ItemsProblem(body) is { } itemsProblem)
        {
            return ProblemDetailsHandling.Validation("items", itemsProblem);
        }

        // The caller's deadline arrives in a header; the charge is cancelled a margin before it passes, so that the
        // answer is back before the caller gives up (unless the deadline-propagation seam says payments ignores it).
        if (!CallDeadline.TryParse(request.Headers[CallDeadline.Header], out var deadline))
        {
            return ProblemDetailsHandling.Validation(CallDeadline.Header,
                $"{CallDeadline.Header} must be the caller's deadline in Unix milliseconds (digits only, at most {DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()}).");
        }

        var propagation = ShopSeams.DeadlinePropagation.Resolve(identity, policies.Deadlines);
        using var budget = CallDeadline.Until(propagation.PassDown(deadline), DateTimeOffset.UtcNow);
        ChargeOutcome outcome;
        try
        {
            // The card network authorises first. A caller that gives up meanwhile does not stop it: the charge is made
            // all the same, as at a real provider, and the caller has to find out (GET ?orderId=) and refund.
            await Task.Delay(options.Value.AuthorisationTime, time, budget?.Token ?? CancellationToken.None);
            outcome = await charges.ChargeAsync(key, body.OrderId, body.Amount, body.Currency, PaymentsCaller.Of(request.HttpContext).Name, time.GetUtcNow(),
                budget?.Token ?? CancellationToken.None);
        }
        catch (OperationCanceledException) when (budget?.IsCancellationRequested == true)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status504GatewayTimeout, title: "Deadline passed",
                detail: $"Too little was left of the caller's deadline ({deadline:O}) to charge and answer in time; nothing was charged.");
        }

        ResilienceTelemetry.FinishedAt(deadline, DateTimeOffset.UtcNow, "payments-server");
        if (!outcome.SameRequest)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency key reused",
                detail: $"{IdempotencyHeader} '{key}' was first used for a different charge ({outcome.Charge.ChargeId}).");
        }

        return outcome.Created
            ? TypedResults.Created($"/api/charges/{outcome.Charge.ChargeId}", outcome.Charge)
            : TypedResults.Ok(outcome.Charge);
    }

    private static async Task<IResult> GetAsync(string chargeId, ChargeRepository charges) =>
        await charges.GetAsync(chargeId) is { } charge
            ? TypedResults.Ok(charge)
            : ProblemDetailsHandling.NotFound("Charge", $"No charge '{chargeId}'.");

    private static async Task<IResult> ListByOrderAsync(string? orderId, ChargeRepository charges) =>
        Guid.TryParse(orderId, out var id)
            ? TypedResults.Ok(await charges.GetByOrderAsync(id))
            : ProblemDetailsHandling.Validation("orderId", "The query parameter orderId must be a GUID.");

    private static async Task<IResult> RefundAsync(string chargeId, HttpContext http, ChargeRepository charges, TimeProvider time) =>
        await charges.RefundAsync(chargeId, PaymentsCaller.Of(http).Name, time.GetUtcNow()) is { } charge
            ? TypedResults.Ok(charge)
            : ProblemDetailsHandling.NotFound("Charge", $"No charge '{chargeId}'.");

    /// <summary>Null when the items are absent or well formed and add up to the amount; else what is wrong with them.</summary>
    private static string? ItemsProblem(CreateChargeRequest body)
    {
        if (body.Items is not { } items)
        {
            return null;
        }

        if (items.Count > MaxItems)
        {
            return $"items may hold at most {MaxItems} lines.";
        }

        if (items.Any(item => item is null || string.IsNullOrWhiteSpace(item.Sku) || item.Sku.Length > MaxSkuLength || item.Quantity < 1
                              || item.UnitPrice < 0 || item.UnitPrice > MaxAmount))
        {
            return $"each item needs a sku (1 to {MaxSkuLength} characters), a quantity of at least 1 and a unitPrice from 0 to {MaxAmount}.";
        }

        var total = items.Sum(item => item!.UnitPrice * item.Quantity);
        return total == body.Amount ? null : $"the items add up to {total}, not to the amount {body.Amount}.";
    }

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyCode();
}
