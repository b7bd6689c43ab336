using Polly;

namespace Lab.Scenarios.Catalog;

/// <summary>A fixed delay (plus optional jitter) at a grain, repository or HTTP target.</summary>
public sealed class FixedLatencyScenario : Scenario
{
    public const string Name = "fixed-latency";

    private static readonly HookPoint[] Points = [HookPoint.GrainIncoming, HookPoint.Repository, HookPoint.HttpServer, HookPoint.HttpClient];

    // Polly's chaos latency does the waiting: it honours cancellation and shows up in Polly's own telemetry.
    private static readonly ResiliencePipeline LatencyPipeline = ScenarioChaos.Latency(Delay);

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Adds a fixed delay (plus optional uniform jitter) to every matching call at a grain, repository or HTTP target.",
        Targets: Points,
        Parameters:
        [
            ParameterSpec.Duration("delay", "200ms", "Delay added to each matching call.", min: "0ms", max: "30s"),
            ParameterSpec.Duration("jitter", "0ms", "Extra delay drawn uniformly from [0, jitter) per call.", min: "0ms", max: "10s"),
            HookSelector.Parameter(Points),
        ],
        Signature: "The target's spans are longer by about the delay, and every caller up the trace is slower by the same amount; the target span carries lab.scenario=fixed-latency.",
        Cure: null,
        Runbook: new Runbook(
            Break: "lab scenario enable fixed-latency --set delay=300ms --target grainInterface=IInventoryGrain",
            Hint: "Compare checkout latency before and after. Which span in a slow checkout trace grew, and did its parents grow by the same amount or more?",
            Verify: "Open a checkout trace: the inventory grain span is ~300 ms longer and carries the lab.scenario attribute and a lab.scenario.injected event; every ancestor span is ~300 ms longer too, nothing else changed. The counter lab.scenario.injections{scenario=fixed-latency} counts the delayed calls.",
            Restore: "lab scenario disable fixed-latency; latency returns to the baseline within a second."));

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && HookSelector.Matches(activation, ctx.Point);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(LatencyPipeline, ctx, activation, ct);

    private static TimeSpan Delay(ScenarioInvocation invocation)
    {
        var delay = invocation.Activation.GetDuration("delay");
        var jitter = invocation.Activation.GetDuration("jitter");
        return jitter <= TimeSpan.Zero ? delay : delay + (jitter * invocation.Context.Random.NextDouble());
    }
}
