using Lab.Contracts;
using Lab.Shop;
using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// One product gets most of the reads (a flash sale, a link on a front page) and each of its reads now does some work in
/// its grain. With the product-read-interleaving seam's naive variant the grain takes its reads one at a time, as an
/// Orleans grain does by default: the hot grain's queue grows with its readers while the silos, and every other grain,
/// sit idle. cure=true lets its reads interleave again (the shop's own): the work overlaps, nothing queues.
/// </summary>
public sealed class HotGrainScenario : Scenario
{
    public const string Name = "hot-grain";

    private static readonly ResiliencePipeline Work = ScenarioChaos.Latency(invocation => invocation.Activation.GetDuration("work"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "Each read of the product 'sku' takes 'work' longer in its grain (awaited, as a call to a pricing or availability service " +
                     "would be), and with the product-read-interleaving seam's naive variant reads of one product take turns in its grain. " +
                     "Every other product is untouched.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.String("sku", "SKU-00001", "The hot product (SKU-00001 is the best seller of the seeded catalog)."),
            ParameterSpec.Duration("work", "20ms", "Extra time each read of the hot product spends in its grain.", min: "1ms", max: "5s"),
            ParameterSpec.Bool("cure", false, "Reads interleave again (the shop's own): a reentrant read cache, or a stateless worker for reads."),
        ],
        Signature: "Reads of the hot product take about 'work' × (readers in its queue) while reads of every other product stay fast; " +
                   "orleans-app-requests-latency of IProductGrain.GetAsync grows with concurrency for that one grain, and the silos' CPU stays " +
                   "low: the bottleneck is one grain's turn queue, not the machine. The storefront's hedged reads (after 50 ms) add to that queue. " +
                   "With the cure a read takes about 'work' however many run at once.",
        Cure: "Split the hot key (shard it over several grains), let reads interleave ([Reentrant], [ReadOnly], [AlwaysInterleave]) or serve " +
              "them from a [StatelessWorker] with its own replica per silo.",
        Runbook: new Runbook(
            Break: "lab scenario enable hot-grain --set sku=SKU-00001 --set work=20ms while lab load --mix browse=100 runs",
            Hint: "One product page is slow and all the others are fast, and no machine is busy. What do the slow requests wait for?",
            Verify: "Traces of GET /api/products/SKU-00001 show the grain call starting long after the request arrived (queued), then ~20 ms of work; " +
                    "other products' traces do not. The Orleans dashboard shows one ProductGrain with a long queue and little CPU.",
            Restore: "lab scenario change hot-grain --set cure=true (reads interleave: they overlap and stop queueing) or disable it."))
    {
        Seams = [new SeamUse(ShopSeams.ProductReadInterleaving.Name, "one read at a time per product", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.GrainInterface == nameof(IProductGrain)
        && string.Equals(ctx.GrainKey, activation.GetString("sku"), StringComparison.OrdinalIgnoreCase);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(Work, ctx, activation, ct);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            var sku = activation.GetString("sku");
            seams.Set(ShopSeams.ProductReadInterleaving, Interleaving.OneAtATime,
                appliesTo: subject => string.Equals(subject, sku, StringComparison.OrdinalIgnoreCase), everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var product = new SignatureFigure("product page mean", "ms", "http.server.request.duration of GET /api/products/{sku}, storefront",
                m => m.MeanMs("storefront", "GET", "/api/products/{sku}"));
            return new ExperimentSpec(Name, [product], [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(250)), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "browse=100",
                Rate = 60,
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
