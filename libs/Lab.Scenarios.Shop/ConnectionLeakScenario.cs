using System.Reflection;
using Lab.Data;
using Lab.Shop;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lab.Scenarios.Shop;

/// <summary>
/// A code path that forgets to give its database connection back: every successful call of one repository operation keeps
/// its connection open and its slot in the process's pool (the connection-release seam's regressed variant). Each call
/// leaks one; nothing fails until the pool is empty, then every database call of the process waits for a slot that never
/// comes and fails after the pool's wait timeout. With cure=true, or when it ends, the kept connections are closed and the
/// pool is whole again (what a restart would do).
/// </summary>
public sealed class ConnectionLeakScenario : Scenario
{
    public const string Name = "connection-leak";
    public const string LeakedTag = "lab.db.connection.leaked";

    private static readonly IReadOnlySet<string> Operations = typeof(ShopOperations)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(field => field.IsLiteral && !field.Name.EndsWith("Prefix", StringComparison.Ordinal))
        .Select(field => (string)field.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Every successful call of one repository operation keeps its connection instead of giving it back to the pool (a path " +
                     "without dispose). Open connections climb by one per call until the process's pool (Database:MaxConnections) is used up; " +
                     "then every database call of that process waits Database:ConnectionWaitTimeout and fails. The kept connections are " +
                     "closed at cure, disable, reset or expiry.",
        Targets: [HookPoint.Process],
        Parameters:
        [
            ParameterSpec.String("operation", ShopOperations.CustomerOrderHistory, "The repository operation whose calls keep their connection."),
            ParameterSpec.Bool("cure", false, "Give the connection back on every path (dispose in finally): nothing leaks, the kept ones are closed."),
        ],
        Signature: "lab.db.pool.leaked and lab.db.pool.in_use climb by one per call of the operation while the database is idle; the calls' " +
                   "spans carry lab.db.connection.leaked=true; once in_use reaches the pool size every database call of the process fails with " +
                   "DbPoolTimeoutException ('No database connection became free') after the wait timeout: 504 problems at the storefront.",
        Cure: "Dispose on every path (await using / finally), and watch for it: a pool's in-use count that only grows, or a leak detection threshold.",
        Runbook: new Runbook(
            Break: "lab scenario enable connection-leak",
            Hint: "The shop works for a while after each deploy, then every request times out although the database is idle. What holds the connections?",
            Verify: "lab.db.pool.leaked grows with order-history requests; customer.order-history spans carry lab.db.connection.leaked=true; later " +
                    "spans of every operation end with DbPoolTimeoutException after a db.pool.wait event.",
            Restore: "lab scenario change connection-leak --set cure=true (or disable it): the kept connections are closed, the pool is whole again."))
    {
        Seams = [new SeamUse(ShopSeams.ConnectionRelease.Name, "a successful call of the operation keeps its connection", CureRestores: true)],
    };

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors)
    {
        var operation = candidate.GetString("operation");
        if (!Operations.Contains(operation))
        {
            errors.Add("operation", $"'{operation}' is not one of the shop's repository operations ({string.Join(", ", Operations.Order(StringComparer.Ordinal))}).");
        }
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            var operation = activation.GetString("operation");
            seams.Set(ShopSeams.ConnectionRelease, ConnectionRelease.KeptOnSuccess,
                appliesTo: subject => string.Equals(subject, operation, StringComparison.Ordinal));
        }
    }

    // The seam regresses while the activation lives; what it kept is given back when it ends (a cure is a new activation).
    public override async Task OnDeactivatedAsync(ScenarioActivation activation, ScenarioProcessContext process, CancellationToken ct)
    {
        if (process.Services.GetService<LabDb>() is { } db && await db.ReclaimLeakedConnectionsAsync() is > 0 and var reclaimed)
        {
            process.Logger.LogWarning("connection-leak: closed {Count} connections that calls had kept", reclaimed);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var leaked = new SignatureFigure("connections kept", "", "lab.db.pool.leaked, silos: end of phase - start",
                m => m.Delta("silo", "lab_db_pool_leaked"));
            var timeouts = new SignatureFigure("504 answers", "", "storefront http.server.request.duration count, status 504",
                m => m.Delta("storefront", LabMetricNames.HttpRequests, ("http_response_status_code", "504")));
            return new ExperimentSpec(Name, [leaked, timeouts, SignatureFigure.ErrorShare],
                [SteadyStateProbe.Below(leaked, 0.5), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "history=50,browse=50",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
