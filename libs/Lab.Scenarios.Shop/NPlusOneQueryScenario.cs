using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The customer's order history loads its orders, then the lines of each order in a query of
/// its own (N+1): the history-loading seam's naive variant. The per-order line queries are tagged with the scenario in
/// their db spans. With cure=true the shop's own batched loader is back.
/// </summary>
public sealed class NPlusOneQueryScenario : Scenario
{
    public const string Name = "n-plus-one-query";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "database",
        Description: "Customer order history loads the orders, then one query per order for its lines, instead of one batched query for all lines.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "Load the lines of every order in one batched query (2 queries per history, whatever its length)."),
        ],
        Signature: "db spans per history request = orders + 1 (one customer.order-history, then one customer.order-lines per order, each tagged lab.scenario=n-plus-one-query); the count and the latency grow with the history length.",
        Cure: "One batched query for the lines of all orders (WHERE order_id IN (...)): 2 db calls per history request, constant.",
        Runbook: new Runbook(
            Break: "lab scenario enable n-plus-one-query",
            Hint: "Customers with long histories see slow history pages. Count the db spans under one history request.",
            Verify: "A history trace of N orders has N+1 db spans (N of them customer.order-lines); lab.db.calls{db.operation=customer.order-lines} grows N times faster than history requests.",
            Restore: "lab scenario change n-plus-one-query --set cure=true (batched, 2 spans per request), or lab scenario disable n-plus-one-query."))
    {
        Seams = [new SeamUse(ShopSeams.HistoryLoading.Name, "one query per order (N+1)", CureRestores: true)],
    };

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.HistoryLoading, HistoryLoading.OneByOne);
        }
    }

    // Only the per-order line queries are the scenario's doing: tag those.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && ctx.RepositoryOperation == ShopOperations.CustomerOrderLines;

    public override ExperimentSpec Experiment
    {
        get
        {
            var perRequest = new SignatureFigure("db calls per history request", "", "lab.db.calls with lab.route GET history / storefront history requests",
                m => SignatureFigure.Ratio(m.Delta("silo", LabMetricNames.DbCalls, ("lab_route", "GET " + ShopRoutes.OrderHistory)),
                    m.Requests("storefront", "GET", ShopRoutes.OrderHistory)));
            return new ExperimentSpec(Name, [perRequest],
                [SteadyStateProbe.AtBaseline(perRequest, tolerance: 0.25, slack: 0.5), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "history=70,browse=30",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
