namespace Lab.Scenarios.Catalog;

/// <summary>
/// One hop of a request's way has a smaller body limit than the others: the targeted service refuses bodies above it
/// with 413, as its server's own limit does, while the hops before it accepted them. Large requests fail at that layer
/// only, late, after the work before it was done (a large cart is accepted, reserved, then refused by payments).
/// </summary>
public sealed class RequestSizeLimitScenario : Scenario
{
    public const string Name = "request-size-limit";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "The targeted HTTP service's server refuses request bodies above 'max-body' (Kestrel's MaxRequestBodySize, lowered per request): " +
                     "413 at once when Content-Length says so, or as soon as a chunked body reads past it. Smaller requests pass untouched.",
        Targets: [HookPoint.HttpServer],
        Parameters:
        [
            ParameterSpec.Bytes("max-body", "1KB", "The largest request body the targeted service accepts.", min: "64B", max: "100MB"),
        ],
        Signature: "Only requests whose body is above the limit fail, and only at the targeted hop: with payments targeted, a charge for a large cart " +
                   "(its line items) answers 413 and the checkout is cancelled as payments refused it, after the storefront and the silos accepted " +
                   "the cart and reserved its stock; small carts check out. http.server.request.duration of the hop counts the 413s.",
        Cure: "Consistent limits along the path (the edge refuses what a later hop would, before any work), or send large payloads in pages.",
        Runbook: new Runbook(
            Break: "lab scenario enable request-size-limit --set max-body=1KB --target service=payments",
            Hint: "Big orders fail and small ones go through. Which hop refuses them, and after what has already happened?",
            Verify: "payments' POST /api/charges/ answers 413 for the failed checkouts (its metrics, its spans); the storefront and silo spans of " +
                    "the same traces succeeded up to the charge; the order's failure reason names the 413.",
            Restore: "lab scenario disable request-size-limit: the server's own limit (30 MB) applies again."));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.MaxRequestBodyBytes = activation.GetBytes("max-body");
        return ValueTask.CompletedTask;
    }

    public override ExperimentSpec Experiment =>
        new(Name, [SignatureFigure.ErrorShare, new SignatureFigure("413 at payments", "", "payments http.server.request.duration count, POST /api/charges/, status 413",
                m => m.Requests("payments", "POST", "/api/charges/", "413"))],
            [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
        {
            Mix = "checkout=100",
            Fault = new Dictionary<string, string> { ["max-body"] = "400B" },
            Target = new Dictionary<string, string> { ["service"] = "payments" },
        };
}
