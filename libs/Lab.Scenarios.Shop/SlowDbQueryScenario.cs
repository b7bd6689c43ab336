using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// One database statement becomes slow. The delay runs inside the statement's db span, on the
/// open connection, so the span, the connection hold time and every caller up the trace grow by it.
/// </summary>
public sealed class SlowDbQueryScenario : Scenario
{
    public const string Name = "slow-db-query";

    private static readonly ResiliencePipeline LatencyPipeline = ScenarioChaos.Latency(Delay);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Makes the matching database statement slow: every call of that repository operation (or whose SQL contains a given text) holds its connection for an extra delay inside its db span.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Duration("delay", "300ms", "Extra time the matching statement takes.", min: "1ms", max: "30s"),
            ParameterSpec.Duration("jitter", "0ms", "Extra delay drawn uniformly from [0, jitter) per call.", min: "0ms", max: "10s"),
            ParameterSpec.String("statement", "", "Only statements whose SQL contains this text (case-insensitive); empty = every statement the target matches."),
        ],
        Signature: "db spans of the matching statement (lab.db.operation, db.query.text) are longer by the delay and carry lab.scenario=slow-db-query; the grain span and HTTP request above them grow by the same; other operations keep their latency.",
        Cure: "Find the statement from the slowest db span, then add the missing index or cache its result.",
        Runbook: new Runbook(
            Break: "lab scenario enable slow-db-query --set delay=300ms --target repositoryOperation=catalog.search",
            Hint: "Search got slow, product pages did not. In a slow search trace, which span holds most of the time?",
            Verify: "The 'SELECT products' span with lab.db.operation=catalog.search is ~300 ms long and carries lab.scenario=slow-db-query; lab.db.call.duration{db.operation=catalog.search} rose, other operations did not.",
            Restore: "lab scenario disable slow-db-query; search latency drops back at once."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation)
    {
        if (!base.IsApplicable(ctx, activation))
        {
            return false;
        }

        var text = activation.GetString("statement");
        return text.Length == 0 || (ctx.Statement?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false);
    }

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(LatencyPipeline, ctx, activation, ct);

    private static TimeSpan Delay(ScenarioInvocation invocation)
    {
        var delay = invocation.Activation.GetDuration("delay");
        var jitter = invocation.Activation.GetDuration("jitter");
        return jitter <= TimeSpan.Zero ? delay : delay + (jitter * invocation.Context.Random.NextDouble());
    }
}
