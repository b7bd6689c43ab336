using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The payments client's timeout per attempt set below payments' normal latency (the payments-timeout seam): payments is
/// healthy and charges every request in its usual tens of milliseconds, yet the client gives up on each attempt first,
/// retries, and the checkout fails. The charges payments made are found and refunded by the saga's compensation. cure=true
/// restores the shop's own timeout, set from payments' measured latency (Resilience:PaymentsAttemptTimeout).
/// </summary>
public sealed class TimeoutTooShortScenario : Scenario
{
    public const string Name = "timeout-too-short";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Sets the payments client's timeout per attempt below the time payments normally takes to answer a charge (its authorisation time, " +
                     "Payments:AuthorisationTime, 20 ms). Nothing is wrong with payments: it charges every request, but the client has given up on it by then, " +
                     "retries, and fails the checkout. The shop's own timeout (cure=true) was set from payments' measured latency.",
        Targets: [HookPoint.HttpClient],
        Parameters:
        [
            ParameterSpec.Duration("timeout", "10ms", "The payments client's timeout per attempt while the scenario is on.", min: "1ms", max: "10s"),
            ParameterSpec.Bool("cure", false, "The shop's own timeout per attempt, set from payments' measured latency with room for its tail (Resilience:PaymentsAttemptTimeout, 1 s)."),
        ],
        Signature: "Payments records a charge for every attempt in its normal ~20 ms and never fails (its requests are logged 499: the client had closed them) " +
                   "while checkouts fail with \"payments gave no answer within 10 ms per attempt\"; the client's retries (lab.retries{layer=client}) and payments' " +
                   "refunds climb; every charge attempt the client sent is tagged lab.scenario=timeout-too-short.",
        Cure: "Measure, then set: a timeout above the dependency's normal latency (its p99.9 with room), not a guess; here Resilience:PaymentsAttemptTimeout.",
        Runbook: new Runbook(
            Break: "lab scenario enable timeout-too-short --set timeout=10ms",
            Hint: "Checkouts fail with payment errors, yet payments' own dashboards are green. What does payments say it answered, and how long did the client wait?",
            Verify: "Payments' POST /api/charges/ span lasts ~20 ms and records the charge (status 499: the caller was gone); the silo's client span for the same request ends at 10 ms with a timeout; the charge is refunded moments later (POST /api/charges/{chargeId}/refund).",
            Restore: "lab scenario change timeout-too-short --set cure=true (checkouts succeed again) or lab scenario disable timeout-too-short."))
    {
        Seams = [new SeamUse(ShopSeams.PaymentsTimeout.Name, "timeout", CureRestores: true)],
    };

    // Counts (and tags) each charge attempt the client sends under the timeout; the timeout itself is the seam's.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && !activation.GetBool("cure")
        && ctx.Service.Kind == ServiceKind.Silo
        && ShopFacts.IsChargeRequest(ctx);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.PaymentsTimeout, activation.GetDuration("timeout"), everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var failed = new SignatureFigure("failed checkouts", "%", $"storefront POST {ShopRoutes.Checkout} answered other than 201",
                m => SignatureFigure.Percent(m.Requests("storefront", "POST", ShopRoutes.Checkout) - m.Requests("storefront", "POST", ShopRoutes.Checkout, "201"),
                    m.Requests("storefront", "POST", ShopRoutes.Checkout)));
            var abandoned = new SignatureFigure("abandoned charges", "", $"payments POST {ShopRoutes.Charges}/ logged 499 (the client had closed the request)",
                m => m.Requests("payments", "POST", ShopRoutes.Charges + "/", "499"));
            var paymentsMs = new SignatureFigure("payments latency", "ms", $"payments mean of POST {ShopRoutes.Charges}/",
                m => m.MeanMs("payments", "POST", ShopRoutes.Charges + "/"));
            var refunds = new SignatureFigure("refunds", "", $"payments POST {ShopRoutes.Charges}/{{chargeId}}/refund",
                m => m.Requests("payments", "POST", ShopRoutes.Charges + "/{chargeId}/refund"));
            return new ExperimentSpec(Name, [failed, abandoned, paymentsMs, refunds],
                [SteadyStateProbe.AtBaseline(failed, tolerance: 0.5, slack: 5)])
            {
                Mix = "checkout=70,browse=30",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
