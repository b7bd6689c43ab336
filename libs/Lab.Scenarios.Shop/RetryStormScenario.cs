using System.Diagnostics.Metrics;
using System.Net;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog #7: payments fails while naive retries run at three layers of the shop: the storefront retries the
/// checkout, the order grain retries the charge, the payments client retries the HTTP call. The calls that reach
/// payments per checkout multiply: storefront × grain × client attempts.
/// </summary>
public sealed class RetryStormScenario : Scenario
{
    public const string Name = "retry-storm";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resilience",
        Description: "Payments answers 503 to a share of charge requests (its HTTP server hook), and while the scenario is on the shop retries " +
                     "naively at three layers: the storefront retries a checkout that failed on payment, the order grain retries the charge, " +
                     "the payments client retries the HTTP call (a Polly retry pipeline). With cure=true only the payments client retries, " +
                     "with jittered exponential backoff and a retry budget.",
        Targets: [HookPoint.HttpServer],
        Parameters:
        [
            ParameterSpec.Int("storefront-attempts", 3, "Attempts of one checkout at the storefront (1 = no retry).", min: 1, max: 10, unit: "attempts"),
            ParameterSpec.Int("grain-attempts", 3, "Attempts of the charge step in the order grain (1 = no retry).", min: 1, max: 10, unit: "attempts"),
            ParameterSpec.Int("client-attempts", 3, "Attempts of one HTTP call in the payments client (1 = no retry).", min: 1, max: 10, unit: "attempts"),
            ParameterSpec.Percent("failure-rate", "100%", "Share of charge requests payments answers with 503."),
            ParameterSpec.Bool("cure", false, "Retry at one layer only (the payments client), with jittered exponential backoff and a retry budget."),
            ParameterSpec.Duration("backoff", "50ms", "Cure: base delay of the client's exponential backoff (jittered).", min: "1ms", max: "10s"),
            ParameterSpec.Percent("retry-budget", "20%", "Cure: retries allowed per first attempt, over a 10 s window (at least 'budget-floor' retries)."),
            ParameterSpec.Int("budget-floor", 3, "Cure: retries the budget always allows per 10 s window, however few requests there were.", min: 0, max: 1000, unit: "retries"),
        ],
        Signature: "Requests reaching payments per checkout = storefront-attempts × grain-attempts × client-attempts (27 with 3×3×3 at 100% failure); " +
                   "payments' http.server.request.duration count for /api/charges/ and lab.retries{layer} climb together; every failing charge span is tagged lab.scenario=retry-storm.",
        Cure: "Retry at one layer only (the client, closest to the failure), with jittered exponential backoff and a retry budget; a circuit breaker stops retries when the dependency is down.",
        Runbook: new Runbook(
            Break: "lab scenario enable retry-storm --set storefront-attempts=3 --set grain-attempts=3 --set client-attempts=3 --set failure-rate=100%",
            Hint: "Payments is failing, but how many requests does it receive for one checkout? Compare the checkout rate at the storefront with the request rate at payments.",
            Verify: "A checkout trace holds 3 order-grain PlaceAsync calls, each with 3 charge attempts, each with 3 HTTP client spans: 27 POST /api/charges/ server spans at payments; " +
                    "lab.retries{layer=storefront|grain|client} grows in proportion; payments' request count grows 27× the checkout count.",
            Restore: "lab scenario disable retry-storm: one request per checkout again. To see the cure: lab scenario change retry-storm --set cure=true (at most client-attempts requests per checkout, fewer once the budget is spent)."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Payments
        && IsChargeRequest(ctx)
        && ctx.Random.Chance(activation.GetRate("failure-rate"));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.ServerStatus = HttpStatusCode.ServiceUnavailable;
        ctx.ServerProblemTitle = "Payments unavailable";
        return ValueTask.CompletedTask;
    }

    /// <summary>The retry settings while the scenario is on, else null (idle: one volatile read and a branch).</summary>
    public static RetryStormSettings? Current() =>
        ShopScenarioState.Find(Name) is { } activation ? RetryStormSettings.From(activation) : null;

    /// <summary>Attempts of a checkout at the storefront: 1 unless the scenario is on without its cure.</summary>
    public static int StorefrontAttempts() => Current() is { Cure: false } s ? s.StorefrontAttempts : 1;

    /// <summary>Attempts of the charge step in the order grain: 1 unless the scenario is on without its cure.</summary>
    public static int GrainAttempts() => Current() is { Cure: false } s ? s.GrainAttempts : 1;

    internal static bool IsChargeRequest(HookContext ctx) =>
        string.Equals(ctx.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase)
        && ctx.Route is { } route
        && route.StartsWith("/api/charges", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The retry-storm parameters the shop's retry layers read.</summary>
public sealed record RetryStormSettings(
    long Version, int StorefrontAttempts, int GrainAttempts, int ClientAttempts, bool Cure, TimeSpan Backoff, double RetryBudget, int BudgetFloor)
{
    public static RetryStormSettings From(ScenarioActivation activation) => new(
        activation.Version,
        (int)activation.GetInt("storefront-attempts"),
        (int)activation.GetInt("grain-attempts"),
        (int)activation.GetInt("client-attempts"),
        activation.GetBool("cure"),
        activation.GetDuration("backoff"),
        activation.GetRate("retry-budget"),
        (int)activation.GetInt("budget-floor"));
}

/// <summary>Counts the retries the shop makes, by layer, so amplification shows next to the failure.</summary>
public static class RetryTelemetry
{
    public const string MeterName = "Lab.Shop.Resilience";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Retries = Meter.CreateCounter<long>(
        "lab.retries", unit: "{retry}", description: "Retries made by the shop, by layer (storefront, grain, client).");

    public static void Retried(string layer) => Retries.Add(1, new KeyValuePair<string, object?>("layer", layer));
}
