using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog #8: the repository connection pool shrinks to a few usable connections while queries hold their
/// connection longer. Callers queue for a connection (pool-wait span events, the lab.db.pool.waiting gauge),
/// then give up after the wait timeout with DbPoolTimeoutException (504 at the storefront).
/// </summary>
public sealed class ConnectionPoolExhaustionScenario : Scenario
{
    public const string Name = "connection-pool-exhaustion";

    private static readonly ResiliencePipeline SlowQueryPipeline = ScenarioChaos.Latency(i => i.Activation.GetDuration("queryDelay"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Limits the usable connections of each targeted process's repository pool to poolSize and makes the targeted queries hold their connection for queryDelay longer, so callers queue and time out.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Int("poolSize", 2, "Usable connections in the pool while the scenario is on (never more than Database:MaxConnections).", min: 1, max: 1024, unit: "connections"),
            ParameterSpec.Duration("queryDelay", "500ms", "Extra time each targeted query holds its connection (0ms = queries keep their speed).", min: "0ms", max: "30s"),
            ParameterSpec.Duration("waitTimeout", "0ms", "How long a caller waits for a connection before it fails; 0ms = the configured Database:ConnectionWaitTimeout.", min: "0ms", max: "5m"),
        ],
        Signature: "db spans carry db.pool.wait events (lab.db.pool.wait_ms), lab.db.pool.waiting climbs while lab.db.pool.in_use sits at poolSize, and calls fail with DbPoolTimeoutException ('No database connection became free') after the wait timeout: 504 problems at the storefront.",
        Cure: "Size the pool for the load (pool size >= concurrent queries x query time / interval), make the queries faster, or bulkhead slow operations into their own pool so they cannot starve the rest.",
        Runbook: new Runbook(
            Break: "lab scenario enable connection-pool-exhaustion --set poolSize=2 --set queryDelay=500ms --target repositoryOperation=customer.order-history",
            Hint: "Requests fail with timeouts although the database itself answers quickly. Where do the failed requests spend their time before any SQL runs?",
            Verify: "Failed spans end with DbPoolTimeoutException and carry a db.pool.wait event as long as the wait timeout; lab.db.pool.waiting is above zero while lab.db.pool.in_use equals poolSize; the order-history spans holding the connections are ~500 ms long and tagged lab.scenario.",
            Restore: "lab scenario disable connection-pool-exhaustion; the full pool is usable again, waits and timeouts stop at once."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && activation.GetDuration("queryDelay") > TimeSpan.Zero;

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(SlowQueryPipeline, ctx, activation, ct);

    /// <summary>
    /// The pool limit for <paramref name="service"/> while the scenario is on (the repository pool consults it off
    /// its idle path). The target's service narrows which processes shrink; other target fields only select the slow queries.
    /// </summary>
    public static PoolLimit? FindPoolLimit(ServiceIdentity service)
    {
        if (ShopScenarioState.Find(Name, service) is not { } activation)
        {
            return null;
        }

        var wait = activation.GetDuration("waitTimeout");
        return new PoolLimit((int)activation.GetInt("poolSize"), wait > TimeSpan.Zero ? wait : null, activation.Version);
    }
}

/// <summary>Usable connections, the wait before giving up (null = configured), and the activation version it came from.</summary>
public sealed record PoolLimit(int Size, TimeSpan? WaitTimeout, long Version);
