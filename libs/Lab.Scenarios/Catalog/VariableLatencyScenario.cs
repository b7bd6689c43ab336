namespace Lab.Scenarios.Catalog;

/// <summary>An exponentially distributed delay at a grain, repository or HTTP target: most calls a little slower, a few much slower.</summary>
public sealed class VariableLatencyScenario : Scenario
{
    public const string Name = "variable-latency";

    private static readonly HookPoint[] Points = [HookPoint.GrainIncoming, HookPoint.Repository, HookPoint.HttpServer, HookPoint.HttpClient];

    private static readonly Polly.ResiliencePipeline LatencyPipeline = ScenarioChaos.Latency(Delay);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Adds an exponentially distributed delay (mean and cap set by the parameters) to every matching call at a grain, repository or HTTP target, " +
                     "as a congested network or a busy dependency does: half the calls wait less than 0.69 × mean, one in ten more than 2.3 × mean.",
        Targets: Points,
        Parameters:
        [
            ParameterSpec.Duration("mean", "100ms", "Mean of the exponential delay.", min: "1ms", max: "10s"),
            ParameterSpec.Duration("max", "5s", "No delay is longer than this (the exponential's tail cut off).", min: "1ms", max: "30s"),
            HookSelector.Parameter(Points),
        ],
        Signature: "The target's added latency follows an exponential distribution: p50 ≈ 0.69 × mean, p90 ≈ 2.3 × mean, p99 ≈ 4.6 × mean (p90/p50 ≈ 3.3, where a fixed delay gives 1); " +
                   "lab.scenario.injections{scenario=variable-latency} counts every delayed call.",
        Cure: null,
        Runbook: new Runbook(
            Break: "lab scenario enable variable-latency --set mean=100ms --target route=/api/products/* --set hook=http-server",
            Hint: "Product pages are slower, but not all by the same amount. Plot the latency histogram: what shape is it?",
            Verify: "http.server.request.duration for GET /api/products/{sku} spreads out: p50 about 70 ms above the baseline, p90 about 230 ms, p99 about 460 ms; the storefront's server spans carry lab.scenario=variable-latency.",
            Restore: "lab scenario disable variable-latency; the histogram narrows to its baseline at once."));

    public override ExperimentSpec Experiment
    {
        get
        {
            const string route = "/api/products/{sku}";
            var mean = new SignatureFigure("product page mean", "ms", $"storefront mean of GET {route}", m => m.MeanMs("storefront", "GET", route));
            var spread = new SignatureFigure("p99/p50", "×", "load client latency: p99 / p50 of all requests",
                m => m.Load.P99Ms is { } p99 && m.Load.P50Ms is { } p50 ? SignatureFigure.Ratio(p99, p50) : null);
            return new ExperimentSpec(Meta.Name, [mean, spread, SignatureFigure.InjectionsPerRequest(Meta.Name)],
                [SteadyStateProbe.AtBaseline(mean, tolerance: 1, slack: 10), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "browse=100",
                Fault = new Dictionary<string, string> { ["mean"] = "60ms", ["hook"] = "http-server" },
                Target = new Dictionary<string, string> { ["route"] = "/api/products/*" },
            };
        }
    }

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && HookSelector.Matches(activation, ctx.Point);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(LatencyPipeline, ctx, activation, ct);

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors)
    {
        if (candidate.GetDuration("max") < candidate.GetDuration("mean"))
        {
            errors.Add("max", "max must be at least mean (it cuts off the exponential's tail, not its body).");
        }
    }

    // Inverse transform sampling: -mean × ln(1 - U) is exponential with that mean.
    private static TimeSpan Delay(ScenarioInvocation invocation)
    {
        var mean = invocation.Activation.GetDuration("mean");
        var drawn = mean * -Math.Log(1 - invocation.Context.Random.NextDouble());
        var max = invocation.Activation.GetDuration("max");
        return drawn < max ? drawn : max;
    }
}
