using System.Data;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The sales report read at READ COMMITTED (the report-isolation seam's naive variant, PostgreSQL only): its reads run in
/// one transaction, but each sees the orders committed before it started, so an order placed between the totals and the
/// totals by status shows in one and not in the other. cure=true restores the shop's own REPEATABLE READ: one snapshot.
/// </summary>
public sealed class PhantomReadScenario : Scenario
{
    public const string Name = "phantom-read";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "concurrency",
        Description: "Runs the back office's sales report (GET /api/admin/reports/sales: totals, best sellers, then totals by status, in one transaction) at " +
                     "READ COMMITTED instead of the shop's REPEATABLE READ, while checkouts insert orders. PostgreSQL only: SQLite's read transactions always " +
                     "read one snapshot (WAL), so two reads inside one never disagree there and the scenario is refused.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Bool("cure", false, "The shop's own isolation: REPEATABLE READ, one snapshot for every read of the report."),
        ],
        Signature: "Sales reports taken during checkouts disagree with themselves: their order count and total differ from the sums of their by-status rows " +
                   "(the orders committed between the two reads); each report's span is tagged lab.scenario=phantom-read and db.transaction.isolation=ReadCommitted. With the cure every report agrees.",
        Cure: "Stronger isolation for reads that must agree: a snapshot (REPEATABLE READ on PostgreSQL) or one statement that computes every figure.",
        Runbook: new Runbook(
            Break: "lab scenario enable phantom-read (on a lab started with --postgres), then: lab load --mix checkout=100 and GET /api/admin/reports/sales repeatedly",
            Hint: "The sales report's total and the sum of its by-status rows disagree now and then, never at night. What runs between the report's reads?",
            Verify: "A report whose orders differ from the sum of its byStatus orders; its trace holds three SELECT orders spans in one transaction, and checkout traces committed order inserts between them.",
            Restore: "lab scenario change phantom-read --set cure=true (every report agrees), or disable it."))
    {
        Seams = [new SeamUse(ShopSeams.ReportIsolation.Name, "READ COMMITTED", CureRestores: true)],
    };

    public override void Validate(ScenarioActivation candidate, ResourceCaps caps, ValidationErrors errors) => ShopFacts.RequirePostgres(Name, errors);

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && !activation.GetBool("cure") && ctx.RepositoryOperation == ShopOperations.ReportSales;

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.ReportIsolation, IsolationLevel.ReadCommitted, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var reports = new SignatureFigure("reports", "", $"storefront GET {ShopRoutes.SalesReport}", m => m.Requests("storefront", "GET", ShopRoutes.SalesReport), LowerIsBetter: false);
            var readCommitted = new SignatureFigure("reports at READ COMMITTED", "", "lab.scenario.injections{scenario=phantom-read}", m => m.Delta("", LabMetricNames.Injections, ("scenario", Name)));
            // The load client's report journey fails a report that disagrees with itself.
            var disagreeing = new SignatureFigure("reports that disagree", "", "load client: report journeys failed (orders ≠ the sum of byStatus)",
                m => m.Load.Failed("report"));
            return new ExperimentSpec(Name, [disagreeing, reports, readCommitted], [SteadyStateProbe.AtBaseline(disagreeing, tolerance: 0, slack: 0)])
            {
                Mix = "checkout=80,report=20",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
