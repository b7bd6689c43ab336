using Lab.Shop;
using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The repository connection pool shrinks to a few usable connections while queries hold their
/// connection longer. Callers queue for a connection (pool-wait span events, the lab.db.pool.waiting gauge),
/// then give up after the wait timeout with DbPoolTimeoutException (504 at the storefront).
/// </summary>
public sealed class ConnectionPoolExhaustionScenario : Scenario
{
    public const string Name = "connection-pool-exhaustion";

    private static readonly ResiliencePipeline SlowQueryPipeline = ScenarioChaos.Latency(i => i.Activation.GetDuration("query-delay"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Limits the usable connections of each targeted process's repository pool to pool-size and makes the targeted queries hold their connection for query-delay longer, so callers queue and time out.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Int("pool-size", 2, "Usable connections in the pool while the scenario is on (never more than Database:MaxConnections).", min: 1, max: 1024, unit: "connections"),
            ParameterSpec.Duration("query-delay", "500ms", "Extra time each targeted query holds its connection (0ms = queries keep their speed).", min: "0ms", max: "30s"),
            ParameterSpec.Duration("wait-timeout", "0ms", "How long a caller waits for a connection before it fails; 0ms = the configured Database:ConnectionWaitTimeout.", min: "0ms", max: "5m"),
        ],
        Signature: "db spans carry db.pool.wait events (lab.db.pool.wait_ms), lab.db.pool.waiting climbs while lab.db.pool.in_use sits at pool-size, and calls fail with DbPoolTimeoutException ('No database connection became free') after the wait timeout: 504 problems at the storefront.",
        Cure: "Size the pool for the load (pool size >= concurrent queries x query time / interval), make the queries faster, or bulkhead slow operations into their own pool so they cannot starve the rest.",
        Runbook: new Runbook(
            Break: "lab scenario enable connection-pool-exhaustion --set pool-size=2 --set query-delay=500ms --target repositoryOperation=customer.order-history",
            Hint: "Requests fail with timeouts although the database itself answers quickly. Where do the failed requests spend their time before any SQL runs?",
            Verify: "Failed spans end with DbPoolTimeoutException and carry a db.pool.wait event as long as the wait timeout; lab.db.pool.waiting is above zero while lab.db.pool.in_use equals pool-size; the order-history spans holding the connections are ~500 ms long and tagged lab.scenario.",
            Restore: "lab scenario disable connection-pool-exhaustion; the full pool is usable again, waits and timeouts stop at once."))
    {
        Seams = [new SeamUse(ShopSeams.ConnectionPool.Name, "pool-size usable connections, waiting wait-timeout", CureRestores: false)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && activation.GetDuration("query-delay") > TimeSpan.Zero;

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(SlowQueryPipeline, ctx, activation, ct);

    // The target's service narrows which processes' pools shrink; its other fields only select the slow queries.
    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        var wait = activation.GetDuration("wait-timeout");
        seams.Set(ShopSeams.ConnectionPool, new PoolLimit((int)activation.GetInt("pool-size"), wait > TimeSpan.Zero ? wait : null));
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var timeouts = new SignatureFigure("504 answers", "", "storefront http.server.request.duration count, status 504",
                m => m.Delta("storefront", LabMetricNames.HttpRequests, ("http_response_status_code", "504")));
            return new ExperimentSpec(Name, [timeouts],
                [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500))])
            {
                Fault = new Dictionary<string, string> { ["wait-timeout"] = "1s" },
            };
        }
    }
}
