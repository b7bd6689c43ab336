using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Latency deep down (inside payments' charge transaction) under a timeout at each layer. While it is on,
/// the storefront gives a checkout a budget (edge-timeout, the checkout-budget seam) and answers 504 when it is spent,
/// but nothing below honours it (the deadline-propagation seam's naive variant): the order saga goes on, the payments
/// client waits for its own timeout, payments commits the charge. Work finishes after its caller gave up, and is
/// counted as orphaned. With cure=true the shop's own propagation is back: the deadline travels with the call (Orleans
/// RequestContext, then the Lab-Deadline HTTP header) and every layer stops when it is spent, each keeping
/// Resilience:DeadlineMargin back: payments cancels the charge transaction, the client cancels the call, the saga
/// compensates instead of confirming.
/// </summary>
public sealed class TimeoutCascadeScenario : Scenario
{
    public const string Name = "timeout-cascade";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "latency",
        Description: "Delays a share of payments' charge transactions (holding SQLite's write lock, so other charges queue behind them) while the storefront " +
                     "gives each checkout a time budget. Each layer times out on its own; below the edge the work goes on after the caller gave up.",
        Targets: [HookPoint.Repository],
        Parameters:
        [
            ParameterSpec.Duration("delay", "3s", "Extra time a delayed charge transaction takes (with the write lock held).", min: "1ms", max: "60s"),
            ParameterSpec.Percent("share", "30%", "Share of charges that are delayed."),
            ParameterSpec.Duration("edge-timeout", "2s", "The storefront's budget for one checkout; it answers 504 when it is spent.", min: "100ms", max: "60s"),
            ParameterSpec.Bool("cure", false, "The shop's own deadline propagation (RequestContext, Lab-Deadline header): every layer cancels when the deadline is spent, budgets shrinking downstream by Resilience:DeadlineMargin."),
        ],
        Signature: "Checkouts answer 504 at the edge far more often than the share of delayed charges (charges queue behind the held write lock); " +
                   "lab.work.orphaned{layer=order-saga|payments-client|payments-server} counts work finished after the edge gave up: orders confirmed " +
                   "and charges committed for customers who were told their checkout timed out; their spans end after the storefront's server span.",
        Cure: "Deadline propagation: the remaining budget travels with the call and every layer cancels when it runs out (no orphaned work); timeout budgets that shrink downstream (each layer keeps Resilience:DeadlineMargin back for its own remaining steps).",
        Runbook: new Runbook(
            Break: "lab scenario enable timeout-cascade --set delay=3s --set share=30% --set edge-timeout=2s",
            Hint: "Customers get 504s, yet orders keep being confirmed and charged. Compare when the storefront's span ends with when the order saga and the charge end.",
            Verify: "In a 504 checkout trace the order grain's PlaceAsync span and payments' POST /api/charges/ span end after the storefront's server span; lab.work.orphaned grows; orders the customer saw fail are Confirmed in the database.",
            Restore: "lab scenario change timeout-cascade --set cure=true (every layer stops at the deadline: lab.work.orphaned stays flat), or lab scenario disable timeout-cascade."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.CheckoutBudget.Name, "edge-timeout", CureRestores: false),
            new SeamUse(ShopSeams.DeadlinePropagation.Name, "only the edge has a timeout; below it work goes on", CureRestores: true),
            new SeamUse(ShopSeams.PaymentsTimeout.Name, "none per attempt: the client waits for its HttpClient's timeout (10 s)", CureRestores: true),
        ],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Service.Kind == ServiceKind.Payments
        && ctx.RepositoryOperation == ShopOperations.PaymentsCharge
        && ctx.Random.Chance(activation.GetRate("share"));

    public override async ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        await Task.Delay(activation.GetDuration("delay"), ct).ConfigureAwait(false);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        seams.Set(ShopSeams.CheckoutBudget, activation.GetDuration("edge-timeout"), everywhere: true);
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.DeadlinePropagation, DeadlinePropagation.EdgeOnly, everywhere: true)
                .Set(ShopSeams.PaymentsTimeout, Timeout.InfiniteTimeSpan, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var orphaned = new SignatureFigure("orphaned work", "", "lab.work.orphaned: work finished after its caller's deadline had passed",
                m => m.Delta("", "lab_work_orphaned_total"));
            var edge = new SignatureFigure("edge timeouts", "", "storefront 504 answers to POST checkout",
                m => m.Requests("storefront", "POST", ShopRoutes.Checkout, "504"));
            return new ExperimentSpec(Name, [orphaned, edge],
                [SteadyStateProbe.AtBaseline(orphaned, tolerance: 0, slack: 0)])
            {
                Mix = "checkout=70,browse=30",
                Cure = ExperimentSpec.CureOn,
                // Without the cure, work below the edge goes on up to the payments client's timeout (10 s) and a charge can
                // commit after its cancelled order looked for it: let that settle, so it counts in the phase that caused it.
                Settle = TimeSpan.FromSeconds(10),
            };
        }
    }
}
