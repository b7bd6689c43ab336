namespace Lab.Scenarios.Shop;

/// <summary>
/// Catalog #21: the customer's order history loads its orders, then the lines of each order in a query of
/// its own (N+1). The shop switches code path on it (<see cref="LoadsOneByOne"/>); the per-order line queries
/// are tagged with the scenario in their db spans.
/// </summary>
public sealed class NPlusOneQueryScenario : Scenario
{
    public const string Name = "n-plus-one-query";

    /// <summary>The repository operation of the per-order line query.</summary>
    public const string LinesOfOrderOperation = "customer.order-lines";

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
            Restore: "lab scenario change n-plus-one-query --set cure=true (batched, 2 spans per request), or lab scenario disable n-plus-one-query."));

    /// <summary>True when history must be loaded one order at a time here: active for <paramref name="service"/> and not cured.</summary>
    public static bool LoadsOneByOne(ServiceIdentity service) =>
        !ScenarioRuntime.IsIdle
        && ShopScenarioState.Find(Name, service) is { } activation
        && !activation.GetBool("cure");

    // Only the per-order line queries are the scenario's doing: tag those.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && ctx.RepositoryOperation == LinesOfOrderOperation;
}
