using Lab.Scenarios.Catalog;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Rare large delays at a grain, repository or HTTP target: the median call is as fast as ever, the 99th percentile far
/// slower. While it is on the storefront reads products without hedging (the product-read-hedging seam's naive variant);
/// cure=true restores the shop's own hedged reads, which answer from the second attempt when the first is one of the slow ones.
/// </summary>
public sealed class TailLatencyScenario : Scenario
{
    public const string Name = "tail-latency";

    private static readonly HookPoint[] Points = [HookPoint.GrainIncoming, HookPoint.Repository, HookPoint.HttpServer, HookPoint.HttpClient];

    private static readonly Polly.ResiliencePipeline LatencyPipeline = ScenarioChaos.Latency(invocation => invocation.Activation.GetDuration("delay"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Delays a small share of the matching calls by a large amount (a garbage-collection pause, a slow disk, a lost packet retransmitted), " +
                     "so the median stays where it was and the tail moves out. While it is on the storefront's product reads are not hedged; " +
                     "with cure=true they are again (the shop's own: Resilience:ProductReadHedge*).",
        Targets: Points,
        Parameters:
        [
            ParameterSpec.Duration("delay", "1s", "Delay of a slow call.", min: "1ms", max: "30s"),
            ParameterSpec.Percent("rate", "2%", "Share of matching calls that are slow."),
            HookSelector.Parameter(Points),
            ParameterSpec.Bool("cure", false, "The shop's own hedged product reads: a read not answered within Resilience:ProductReadHedgeDelay gets a second attempt; the first answer wins."),
        ],
        Signature: "p99 / p50 of the target's callers grows from a few to hundreds (p50 unchanged, p99 ≈ delay); the slow spans carry lab.scenario=tail-latency. " +
                   "With the cure (target the product grain) p99 of GET /api/products/{sku} falls to about the hedge delay and lab.hedges{operation=product.get} counts the hedged reads.",
        Cure: "Hedged requests for idempotent reads: after a delay near the normal p99, send a second attempt and take the first answer (Polly's hedging strategy).",
        Runbook: new Runbook(
            Break: "lab scenario enable tail-latency --set delay=1s --set rate=2% --set hook=grain --target grainInterface=IProductGrain",
            Hint: "The median product page is as fast as before, yet some users wait a second. Which percentile moved, and which span is long in the slow traces?",
            Verify: "GET /api/products/{sku}: p50 unchanged, p99 ≈ 1 s; in a slow trace the product grain span is 1 s long and tagged lab.scenario=tail-latency, the other spans are not.",
            Restore: "lab scenario change tail-latency --set cure=true (hedged reads: p99 near 50 ms, lab.hedges climbs) or lab scenario disable tail-latency."))
    {
        Seams = [new SeamUse(ShopSeams.ProductReadHedging.Name, "no hedging", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && HookSelector.Matches(activation, ctx.Point)
        && ctx.Random.Chance(activation.GetRate("rate"));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(LatencyPipeline, ctx, activation, ct);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.ProductReadHedging, HedgingPolicy.None, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var tail = new SignatureFigure("p99/p50", "×", "load client latency: p99 / p50 of all requests",
                m => m.Load.P99Ms is { } p99 && m.Load.P50Ms is { } p50 ? SignatureFigure.Ratio(p99, p50) : null);
            var hedges = new SignatureFigure("hedged reads", "", "lab.hedges{operation=product.get}, storefront",
                m => m.Delta("storefront", "lab_hedges_total", ("operation", "product.get")), LowerIsBetter: false);
            return new ExperimentSpec(Name, [tail, hedges, SignatureFigure.InjectionsPerRequest(Name)],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(250)), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "browse=100",
                Fault = new Dictionary<string, string> { ["delay"] = "1s", ["rate"] = "5%", ["hook"] = "grain" },
                Target = new Dictionary<string, string> { ["grainInterface"] = "IProductGrain" },
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
