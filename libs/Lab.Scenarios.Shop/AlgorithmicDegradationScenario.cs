using Lab.Contracts;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog search switches to a quadratic code path. Instead of letting the database rank and page
/// (ORDER BY popularity_rank LIMIT), the catalog grain pulls every matching row and ranks it in memory with a
/// pairwise de-duplication and an insertion sort: O(n^2) in the number of matches, whatever the page size.
/// </summary>
public sealed class AlgorithmicDegradationScenario : Scenario
{
    public const string Name = "algorithmic-degradation";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "performance",
        Description: "Catalog search pulls every match and ranks it in the grain with quadratic algorithms (pairwise de-duplication, insertion sort) instead of the database's indexed ORDER BY ... LIMIT; the result is the same, the cost grows with the square of the match count.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.Int("max-candidates", 20_000, "Most rows the quadratic path pulls per search (a bound on its CPU cost).", min: 10, max: 1_000_000, unit: "rows"),
        ],
        Signature: "Search latency and silo CPU grow with the number of matches, not the page size: a query matching 10x more rows takes ~100x longer. The 'catalog.rank' span carries lab.catalog.candidates (n) and lab.catalog.comparisons (~n^2); the catalog grain span carries lab.scenario=algorithmic-degradation; the db span is catalog.search-candidates without a LIMIT on the page.",
        Cure: "The linear path: let the database rank and page with the index (ORDER BY popularity_rank LIMIT/OFFSET), or sort once with an O(n log n) algorithm and de-duplicate with a hash set.",
        Runbook: new Runbook(
            Break: "lab scenario enable algorithmic-degradation",
            Hint: "Narrow searches are fast, broad ones crawl, though every page has the same size. Plot latency against the number of matches: what shape is it?",
            Verify: "Compare two searches, e.g. q=lamp and an empty q: the ratio of their 'catalog.rank' spans is about the square of the ratio of lab.catalog.candidates, and lab.catalog.comparisons shows the n^2; CPU on the silo rises during broad searches.",
            Restore: "lab scenario disable algorithmic-degradation; search goes back to the database's ranked, paged query and its latency no longer depends on the match count."))
    {
        Seams = [new SeamUse(ShopSeams.CatalogRanking.Name, "the grain ranks every match with quadratic algorithms", CureRestores: false)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.GrainInterface == nameof(ICatalogGrain);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams) =>
        seams.Set(ShopSeams.CatalogRanking, new CatalogRanking((int)activation.GetInt("max-candidates")));

    public override ExperimentSpec Experiment
    {
        get
        {
            var search = new SignatureFigure("search latency", "ms", $"storefront http.server.request.duration mean, GET {ShopRoutes.ProductSearch}",
                m => m.MeanMs("storefront", "GET", ShopRoutes.ProductSearch));
            return new ExperimentSpec(Name, [search],
                [SteadyStateProbe.AtBaseline(search, tolerance: 1, slack: 5), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "browse=100",
            };
        }
    }
}
