using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Payments turns slow while the payments client waits far longer than is useful (the payments-timeout seam) and lets any
/// number of calls be in flight (the payments-bulkhead seam): every checkout holds a storefront request, an order grain and
/// a connection to payments for the whole slowness, so what is held grows with the arrival rate. cure=true keeps payments
/// slow and restores the shop's own: a short timeout per attempt and a bulkhead, so calls give up early and never pile up
/// beyond the bulkhead.
/// </summary>
public sealed class TimeoutTooLongScenario : Scenario
{
    public const string Name = "timeout-too-long";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Delays payments' answer to every charge (its HTTP server hook) while the payments client waits up to a long timeout for it and has no bulkhead. " +
                     "Checkouts still succeed, slowly, but each holds its request, its order grain and a connection to payments for the whole delay: " +
                     "under load they pile up. With cure=true payments stays slow and the shop's own timeout and bulkhead are back.",
        Targets: [HookPoint.HttpServer],
        Parameters:
        [
            ParameterSpec.Duration("delay", "3s", "How much slower payments answers a charge.", min: "1ms", max: "60s"),
            ParameterSpec.Duration("timeout", "30s", "The payments client's timeout per attempt while the scenario is on.", min: "1ms", max: "10m"),
            ParameterSpec.Bool("cure", false, "The shop's own timeout per attempt (Resilience:PaymentsAttemptTimeout, 1 s) and bulkhead (Resilience:PaymentsConcurrency calls in flight per process)."),
        ],
        Signature: "Calls in flight to payments (http.client.active_requests at the silos) and requests in flight at the storefront grow to arrival rate × delay; " +
                   "every checkout lasts at least the delay. With the cure no attempt is held past the timeout (1 s), at most Resilience:PaymentsConcurrency are in flight " +
                   "per silo (lab.payments.bulkhead.rejections counts the rest) and checkouts fail fast instead of piling up.",
        Cure: "Shorter timeouts (give up when the answer is no longer useful) and a bulkhead (a bound on the calls in flight to one dependency).",
        Runbook: new Runbook(
            Break: "lab scenario enable timeout-too-long --set delay=3s --set timeout=30s",
            Hint: "Checkouts are slow but succeed. How many requests are in flight at the storefront and how many calls to payments at the silos, and how does that grow with load?",
            Verify: "http_server_active_requests at the storefront and http_client_active_requests at the silos climb with the checkout rate × 3 s; a checkout trace spends 3 s in the payments client span.",
            Restore: "lab scenario change timeout-too-long --set cure=true (calls in flight stay low, checkouts fail within about a second) or lab scenario disable timeout-too-long."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.PaymentsTimeout.Name, "timeout", CureRestores: true),
            new SeamUse(ShopSeams.PaymentsBulkhead.Name, "no bulkhead", CureRestores: true),
        ],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Payments
        && ShopFacts.IsChargeRequest(ctx);

    // The wait ends when the caller gives up (its connection closes), as a slow server's request does.
    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        await Task.Delay(activation.GetDuration("delay"), ct).ConfigureAwait(false);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.PaymentsTimeout, activation.GetDuration("timeout"), everywhere: true)
                .Set(ShopSeams.PaymentsBulkhead, BulkheadPolicy.Unbounded, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var held = new SignatureFigure("payments call time", "s", "silos: http.client.request.duration sum (seconds spent waiting for payments)",
                m => m.Delta("silo", "http_client_request_duration_seconds_sum"));
            var perCheckout = new SignatureFigure("held per checkout", "s", $"payments call time / storefront POST {ShopRoutes.Checkout}",
                m => SignatureFigure.Ratio(m.Delta("silo", "http_client_request_duration_seconds_sum"), m.Requests("storefront", "POST", ShopRoutes.Checkout)));
            var checkoutMs = new SignatureFigure("checkout latency", "ms", $"storefront mean of POST {ShopRoutes.Checkout}",
                m => m.MeanMs("storefront", "POST", ShopRoutes.Checkout));
            var rejected = new SignatureFigure("bulkhead rejections", "", "lab.payments.bulkhead.rejections, silos",
                m => m.Delta("silo", "lab_payments_bulkhead_rejections_total"), LowerIsBetter: false);
            // The hypothesis is about what a checkout holds, not whether it succeeds: with the cure payments is as slow, and
            // checkouts fail fast instead of holding a connection for the whole delay.
            return new ExperimentSpec(Name, [perCheckout, held, checkoutMs, rejected, SignatureFigure.ErrorShare],
                [SteadyStateProbe.Below(perCheckout, 1.5)])
            {
                Mix = "checkout=70,browse=30",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
