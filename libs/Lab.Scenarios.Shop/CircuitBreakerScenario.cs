using System.Net;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Payments fails (slowly) for a window, then recovers; meanwhile the payments client runs behind a
/// Polly circuit breaker configured by the parameters (the payments-breaker seam), without retries, so the breaker alone is seen. The breaker opens, calls fail fast without reaching
/// payments, half-open probes test the water, and it closes once payments answers again.
/// </summary>
public sealed class CircuitBreakerScenario : Scenario
{
    public const string Name = "circuit-breaker";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resilience",
        Description: "For 'window' after activation payments answers a share of charge requests with 503 after 'fault-latency' (its HTTP server hook), " +
                     "then recovers. While the scenario is on, the silos' payments client runs behind a circuit breaker with the given " +
                     "failure ratio, minimum throughput, sampling duration and break duration (tune them to show it working or misconfigured), and does not retry.",
        Targets: [HookPoint.HttpServer],
        Parameters:
        [
            ParameterSpec.Duration("window", "10s", "How long payments fails, from activation; afterwards it answers normally.", min: "1s", max: "30m"),
            ParameterSpec.Percent("failure-rate", "100%", "Share of charge requests that fail during the window."),
            ParameterSpec.Duration("fault-latency", "500ms", "How long a failing charge takes before its 503 (a struggling provider is slow too).", min: "0ms", max: "30s"),
            ParameterSpec.Double("failure-ratio", 0.5, "Breaker: share of failed calls in the sampling window that opens it.", min: 0.01, max: 1),
            ParameterSpec.Int("minimum-throughput", 4, "Breaker: calls needed in the sampling window before it may open.", min: 2, max: 10_000, unit: "calls"),
            ParameterSpec.Duration("sampling-duration", "10s", "Breaker: the window over which the failure ratio is measured.", min: "500ms", max: "1h"),
            ParameterSpec.Duration("break-duration", "2s", "Breaker: how long it stays open before a half-open probe.", min: "500ms", max: "1h"),
        ],
        Signature: "While payments fails, checkouts fail fast with 'circuit open' (no HTTP span to payments, latency of milliseconds instead of fault-latency); " +
                   "payments receives only the calls that opened the breaker and one probe per break-duration per silo; lab.payments.breaker.state goes 0 → 1 → 2 → 0 " +
                   "and lab.payments.breaker.transitions{state} counts opened / half-opened / closed; the client span carries lab.payments.breaker.* events.",
        Cure: "The breaker is the cure: it turns a slow, failing dependency into fast failures and lets it recover. Misconfigured (huge minimum throughput, " +
              "tiny failure ratio, long break) it never opens, flaps, or stays open after recovery.",
        Runbook: new Runbook(
            Break: "lab scenario enable circuit-breaker --set window=20s --set fault-latency=500ms --set minimum-throughput=4 --set break-duration=2s",
            Hint: "Checkouts fail, but how long do the failures take, and how many requests does payments see compared with checkouts?",
            Verify: "Silo metrics lab_payments_breaker_state (1 = open) and lab_payments_breaker_transitions_total{state=\"opened\"}; payments' request count stops " +
                    "growing while checkouts keep failing in milliseconds with 'circuit open'; client spans carry lab.payments.breaker.opened / rejected / half-opened / closed events.",
            Restore: "Wait for the window to end (or end it now: lab scenario change circuit-breaker --set window=1s, which keeps the breaker): the next probe succeeds " +
                     "and the breaker closes (transition 'closed'); lab scenario disable circuit-breaker puts the shop's own breaker and retries back."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.PaymentsBreaker.Name, "the breaker the parameters describe, fresh at each activation", CureRestores: false),
            new SeamUse(ShopSeams.PaymentsRetry.Name, "no retry, so only the breaker acts", CureRestores: false),
        ],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Payments
        && ShopFacts.IsChargeRequest(ctx)
        && ctx.Now < activation.ActivatedAt + activation.GetDuration("window")
        && ctx.Random.Chance(activation.GetRate("failure-rate"));

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        var latency = activation.GetDuration("fault-latency");
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, ct);
        }

        ctx.ServerStatus = HttpStatusCode.ServiceUnavailable;
        ctx.ServerProblemTitle = "Payments unavailable";
    }

    // Everywhere: the payments client in every silo gets the breaker, whichever service the target names for the fault.
    public override void Regress(ScenarioActivation activation, SeamRegressions seams) => seams
        .Set(ShopSeams.PaymentsBreaker, new BreakerPolicy(true, activation.GetDouble("failure-ratio"), (int)activation.GetInt("minimum-throughput"),
            activation.GetDuration("sampling-duration"), activation.GetDuration("break-duration"),
            Instance: activation.ActivatedAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)), everywhere: true)
        .Set(ShopSeams.PaymentsRetry, RetryPolicy.Once, everywhere: true);

    public override ExperimentSpec Experiment
    {
        get
        {
            var rejected = new SignatureFigure("failed fast", "", "lab.payments.breaker.rejections in the silos",
                m => m.Delta("silo", "lab_payments_breaker_rejections_total"), LowerIsBetter: false);
            var reached = new SignatureFigure("charges per checkout", "×", $"payments POST {ShopRoutes.Charges}/ per storefront POST checkout",
                m => SignatureFigure.Ratio(m.Requests("payments", "POST", ShopRoutes.Charges + "/"), m.Requests("storefront", "POST", ShopRoutes.Checkout)));
            return new ExperimentSpec(Name, [rejected, reached],
                [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
            {
                Mix = "checkout=70,browse=30",
                Fault = new Dictionary<string, string> { ["window"] = "30m" },
            };
        }
    }
}
