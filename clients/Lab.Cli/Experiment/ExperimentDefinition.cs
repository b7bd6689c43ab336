using Lab.Load.Reporting;

namespace Lab.Cli.Experiment;

/// <summary>What one phase measured: the lab's metrics before and after it, and the load client's own report.</summary>
public sealed record PhaseMeasurements(LabMetrics Before, LabMetrics After, LoadReport Load)
{
    /// <summary>How much a counter grew during the phase, summed over the services whose name starts with the prefix.</summary>
    public double Delta(string servicePrefix, string metric, params (string Key, string Value)[] labels) =>
        After.Sum(servicePrefix, metric, labels) - Before.Sum(servicePrefix, metric, labels);

    /// <summary>Requests the service answered on one route (all status codes unless one is given).</summary>
    public double Requests(string service, string method, string route, string? status = null) =>
        status is null
            ? Delta(service, Metrics.HttpRequests, ("http_request_method", method), ("http_route", route))
            : Delta(service, Metrics.HttpRequests, ("http_request_method", method), ("http_route", route), ("http_response_status_code", status));
}

/// <summary>A figure that shows the scenario's signature, computed from one phase's measurements.</summary>
/// <param name="LowerIsBetter">True when the cure should bring the figure down (every figure here so far).</param>
public sealed record SignatureFigure(string Name, string Unit, string Source, Func<PhaseMeasurements, double?> Measure, bool LowerIsBetter = true);

/// <summary>How to run one scenario as an experiment: the load that exposes it, its fault and cure settings, its figures.</summary>
/// <param name="Mix">A journey mix ("checkout=70,browse=30") or a preset name.</param>
/// <param name="Fault">Parameters of the fault phase (the scenario's defaults fill the rest).</param>
/// <param name="Cure">Parameters added for the cure phase; null when the scenario has no cure switch.</param>
/// <param name="Settings">Lab settings the experiment needs (e.g. a shorter grain response timeout), as environment variables.</param>
public sealed record ExperimentDefinition(
    string Scenario,
    string Mix,
    IReadOnlyDictionary<string, string> Fault,
    IReadOnlyDictionary<string, string>? Cure,
    IReadOnlyList<SignatureFigure> Figures,
    IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>Extra wait after a phase before it is measured, for effects that arrive late (a delayed event).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.Zero;

    private const string Checkout = "/api/carts/{customerId}/checkout";
    private const string History = "/api/customers/{customerId}/orders";
    private static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();
    private static readonly IReadOnlyDictionary<string, string> CureOn = new Dictionary<string, string> { ["cure"] = "true" };

    /// <summary>The definition of a scenario: the five headline ones have their own figures, any other is measured by its injections.</summary>
    /// <param name="hasCureSwitch">Whether the scenario's parameter schema has a "cure" switch.</param>
    public static ExperimentDefinition For(string scenario, bool hasCureSwitch) => scenario switch
    {
        "retry-storm" => new(scenario, "checkout=70,browse=30", None, CureOn,
        [
            new("amplification", "×", "payments POST /api/charges/ per storefront POST checkout",
                m => Ratio(m.Requests("payments", "POST", "/api/charges/"), m.Requests("storefront", "POST", Checkout))),
            new("charge requests", "", "payments http.server.request.duration count, POST /api/charges/",
                m => m.Requests("payments", "POST", "/api/charges/")),
            new("retries", "", "lab.retries, all layers", m => m.Delta("", Metrics.Retries)),
        ], None),
        "n-plus-one-query" => new(scenario, "history=70,browse=30", None, CureOn,
        [
            new("db calls per history request", "", "lab.db.calls with lab.route GET history / storefront history requests",
                m => Ratio(m.Delta("silo", Metrics.DbCalls, ("lab_route", "GET " + History)), m.Requests("storefront", "GET", History))),
        ], None),
        "event-ordering-violation" => new(scenario, "checkout=70,browse=30", None, CureOn,
        [
            new("out-of-order arrivals", "", "lab.projection.out_of_order", m => m.Delta("silo", Metrics.OutOfOrder)),
            new("stale events applied", "", "lab.projection.stale_applied (an older event overwrote a newer status)",
                m => m.Delta("silo", Metrics.StaleApplied)),
        ], None) { Settle = TimeSpan.FromSeconds(3) },
        "deadlock" => new(scenario, "checkout=70,browse=30", None, CureOn,
        [
            new("checkouts timed out", "", "storefront 504 answers to POST checkout", m => m.Requests("storefront", "POST", Checkout, "504")),
            new("timed-out share", "%", "504 / all checkouts", m => Percent(m.Requests("storefront", "POST", Checkout, "504"), m.Requests("storefront", "POST", Checkout))),
        ], new Dictionary<string, string> { ["Orleans__ResponseTimeout"] = "00:00:03" })
        {
            // Grains caught in a cycle keep their queues until each call times out; let that backlog drain before the next phase.
            Settle = TimeSpan.FromSeconds(8),
        },
        "timeout-cascade" => new(scenario, "checkout=70,browse=30", None, CureOn,
        [
            new("orphaned work", "", "lab.work.orphaned: work finished after its caller's deadline had passed", m => m.Delta("", Metrics.Orphaned)),
            new("edge timeouts", "", "storefront 504 answers to POST checkout", m => m.Requests("storefront", "POST", Checkout, "504")),
        ], None)
        {
            // Without the cure, work below the edge goes on up to the payments client's timeout (10 s) and a charge can
            // commit after its cancelled order looked for it: let that settle, so it counts in the phase that caused it.
            Settle = TimeSpan.FromSeconds(10),
        },
        _ => new(scenario, "default", None, hasCureSwitch ? CureOn : null,
        [
            new("injections", "", $"lab.scenario.injections{{scenario={scenario}}}", m => m.Delta("", Metrics.Injections, ("scenario", scenario))),
            new("injections per request", "", "injections / requests the load client completed",
                m => Ratio(m.Delta("", Metrics.Injections, ("scenario", scenario)), m.Load.Requests.Count)),
        ], None),
    };

    private static double? Ratio(double numerator, double denominator) => denominator > 0 ? numerator / denominator : null;

    private static double? Percent(double part, double whole) => whole > 0 ? 100 * part / whole : null;
}

/// <summary>The Prometheus names of the metrics the experiments read.</summary>
public static class Metrics
{
    public const string HttpRequests = "http_server_request_duration_seconds_count";
    public const string DbCalls = "lab_db_calls_total";
    public const string Retries = "lab_retries_total";
    public const string OutOfOrder = "lab_projection_out_of_order_total";
    public const string StaleApplied = "lab_projection_stale_applied_total";
    public const string Orphaned = "lab_work_orphaned_total";
    public const string Injections = "lab_scenario_injections_total";
}
