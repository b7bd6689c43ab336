using System.Net;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Payments fails while naive retries run at three layers of the shop: the storefront retries the
/// checkout, the order grain retries the charge, the payments client retries the HTTP call, and nothing breaks the
/// circuit (the checkout-retry, charge-retry, payments-retry and payments-breaker seams at their naive variants). The
/// calls that reach payments per checkout multiply: storefront × grain × client attempts. cure=true keeps payments
/// failing and restores the shop's own: one retrying layer with jittered backoff and a budget, and the breaker.
/// </summary>
public sealed class RetryStormScenario : Scenario
{
    public const string Name = "retry-storm";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resilience",
        Description: "Payments answers 503 to a share of charge requests (its HTTP server hook), and while the scenario is on the shop retries " +
                     "naively at three layers: the storefront retries a checkout that failed on payment, the order grain retries the charge, " +
                     "the payments client retries the HTTP call, and no breaker stops them. With cure=true the shop's own policies are back: only the " +
                     "payments client retries, with jittered exponential backoff and a retry budget, behind its circuit breaker.",
        Targets: [HookPoint.HttpServer],
        Parameters:
        [
            ParameterSpec.Int("storefront-attempts", 3, "Attempts of one checkout at the storefront (1 = no retry).", min: 1, max: 10, unit: "attempts"),
            ParameterSpec.Int("grain-attempts", 3, "Attempts of the charge step in the order grain (1 = no retry).", min: 1, max: 10, unit: "attempts"),
            ParameterSpec.Int("client-attempts", 3, "Attempts of one HTTP call in the payments client (1 = no retry).", min: 1, max: 10, unit: "attempts"),
            ParameterSpec.Percent("failure-rate", "100%", "Share of charge requests payments answers with 503."),
            ParameterSpec.Bool("cure", false, "The shop's own policies: retry at one layer only (the payments client), with jittered exponential backoff, a retry budget (Resilience:*) and the breaker."),
        ],
        Signature: "Requests reaching payments per checkout = storefront-attempts × grain-attempts × client-attempts (27 with 3×3×3 at 100% failure); " +
                   "payments' http.server.request.duration count for /api/charges/ and lab.retries{layer} climb together; every failing charge span is tagged lab.scenario=retry-storm.",
        Cure: "Retry at one layer only (the client, closest to the failure), with jittered exponential backoff and a retry budget; a circuit breaker stops retries when the dependency is down.",
        Runbook: new Runbook(
            Break: "lab scenario enable retry-storm --set storefront-attempts=3 --set grain-attempts=3 --set client-attempts=3 --set failure-rate=100%",
            Hint: "Payments is failing, but how many requests does it receive for one checkout? Compare the checkout rate at the storefront with the request rate at payments.",
            Verify: "A checkout trace holds 3 order-grain PlaceAsync calls, each with 3 charge attempts, each with 3 HTTP client spans: 27 POST /api/charges/ server spans at payments; " +
                    "lab.retries{layer=storefront|grain|client} grows in proportion; payments' request count grows 27× the checkout count.",
            Restore: "lab scenario disable retry-storm: one request per checkout again. To see the cure: lab scenario change retry-storm --set cure=true (at most client-attempts requests per checkout, fewer once the budget is spent)."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.CheckoutRetry.Name, "storefront-attempts, at once", CureRestores: true),
            new SeamUse(ShopSeams.ChargeRetry.Name, "grain-attempts, at once", CureRestores: true),
            new SeamUse(ShopSeams.PaymentsRetry.Name, "client-attempts, at once, no budget", CureRestores: true),
            new SeamUse(ShopSeams.PaymentsBreaker.Name, "no breaker", CureRestores: true),
        ],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Payments
        && ShopFacts.IsChargeRequest(ctx)
        && ctx.Random.Chance(activation.GetRate("failure-rate"));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.ServerStatus = HttpStatusCode.ServiceUnavailable;
        ctx.ServerProblemTitle = "Payments unavailable";
        return ValueTask.CompletedTask;
    }

    // Everywhere: every layer of the shop retries naively, whichever service the target names for payments' fault.
    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (activation.GetBool("cure"))
        {
            return;
        }

        seams.Set(ShopSeams.CheckoutRetry, RetryPolicy.Naive((int)activation.GetInt("storefront-attempts")), everywhere: true)
            .Set(ShopSeams.ChargeRetry, RetryPolicy.Naive((int)activation.GetInt("grain-attempts")), everywhere: true)
            .Set(ShopSeams.PaymentsRetry, RetryPolicy.Naive((int)activation.GetInt("client-attempts")), everywhere: true)
            .Set(ShopSeams.PaymentsBreaker, BreakerPolicy.None, everywhere: true);
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var amplification = new SignatureFigure("amplification", "×", $"payments POST {ShopRoutes.Charges}/ per storefront POST checkout",
                m => SignatureFigure.Ratio(m.Requests("payments", "POST", ShopRoutes.Charges + "/"), m.Requests("storefront", "POST", ShopRoutes.Checkout)));
            var charges = new SignatureFigure("charge requests", "", $"payments http.server.request.duration count, POST {ShopRoutes.Charges}/",
                m => m.Requests("payments", "POST", ShopRoutes.Charges + "/"));
            var retries = new SignatureFigure("retries", "", "lab.retries, all layers", m => m.Delta("", "lab_retries_total"));
            // Payments keeps failing with the cure: the hypothesis is about the load on it, not the errors.
            return new ExperimentSpec(Name, [amplification, charges, retries],
                [SteadyStateProbe.AtBaseline(amplification, tolerance: 0.5, slack: 0.5)])
            {
                Mix = "checkout=70,browse=30",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
