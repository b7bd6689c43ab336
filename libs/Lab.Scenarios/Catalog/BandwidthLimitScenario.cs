namespace Lab.Scenarios.Catalog;

/// <summary>
/// A narrow link in front of the targeted service: its response bodies go out no faster than a given rate. Time to last
/// byte then grows with the size of the response; small answers hardly notice, large pages and reports crawl.
/// </summary>
public sealed class BandwidthLimitScenario : Scenario
{
    public const string Name = "bandwidth-limit";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "resources",
        Description: "Throttles the response bodies of the targeted HTTP service (storefront by default, or any target route) to 'rate' bytes a second: " +
                     "each response is written through a paced stream, as over a slow link. Headers and the status go out at once.",
        Targets: [HookPoint.HttpServer],
        Parameters:
        [
            ParameterSpec.Bytes("rate", "64KB", "Bytes a second each throttled response may send.", min: "1KB", max: "1GB"),
        ],
        Signature: "The time to the last byte of a throttled response grows in proportion to its size (about size / rate), while small responses stay " +
                   "fast; http.server.request.duration of routes with large bodies (catalog pages of 100, order histories) rises, the others do not.",
        Cure: "Send fewer bytes: compression (gzip or brotli), smaller pages, fields on demand; or move the traffic to a wider link.",
        Runbook: new Runbook(
            Break: "lab scenario enable bandwidth-limit --set rate=32KB --target service=storefront",
            Hint: "Some pages became slow and some did not, on the same service. What do the slow ones have in common?",
            Verify: "Compare http.server.request.duration of GET /api/catalog/search?pageSize=100 and ?pageSize=1: the first grows to about its size over the rate. " +
                    "The server span ends when the last byte went out; its child grain calls are as fast as before.",
            Restore: "lab scenario disable bandwidth-limit: responses go out at full speed at once."));

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.ResponseBytesPerSecond = activation.GetBytes("rate");
        return ValueTask.CompletedTask;
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var search = new SignatureFigure("catalog search mean", "ms", "http.server.request.duration of GET /api/catalog/search, storefront",
                m => m.MeanMs("storefront", "GET", "/api/catalog/search"));
            var product = new SignatureFigure("product page mean", "ms", "http.server.request.duration of GET /api/products/{sku}, storefront",
                m => m.MeanMs("storefront", "GET", "/api/products/{sku}"));
            return new ExperimentSpec(Name, [search, product],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.AtBaseline(search)])
            {
                Mix = "browse=100",
                Fault = new Dictionary<string, string> { ["rate"] = "16KB" },
                Target = new Dictionary<string, string> { ["service"] = "storefront" },
            };
        }
    }
}
