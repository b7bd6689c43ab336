using Lab.Contracts;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The order grain holds back one kind of order event and publishes it late, after the events
/// that follow it, so the order's stream delivers it out of sequence; the event-applying seam runs its naive variant, so
/// the projection applies events as they arrive and ends in a stale state. With cure=true it reorders by sequence
/// number and ignores replays again (the shop's own).
/// </summary>
public sealed class EventOrderingViolationScenario : Scenario
{
    public const string Name = "event-ordering-violation";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "messaging",
        Description: "Order events of the chosen kind are held back by the producing order grain and published after a delay, behind the events that follow them; the order-status projection sees them out of sequence.",
        Targets: [HookPoint.StreamProduce],
        Parameters:
        [
            ParameterSpec.Enum("kind", nameof(OrderEventKind.PaymentCaptured), "Which order event is published late.",
                Enum.GetNames<OrderEventKind>()),
            ParameterSpec.Duration("delay", "2s", "How long the event is held back before it is published.", min: "10ms", max: "60s"),
            ParameterSpec.Bool("cure", false, "The projection buffers events until their predecessor arrived (reorder buffer keyed by sequence) and ignores sequences it already applied."),
        ],
        Signature: "lab.projection.out_of_order > 0 and warnings 'event X #n arrived, expected #m'; without the cure the order-status view ends on the late event's status (e.g. PaymentCaptured) while the order is Shipped; lab verify reports the projection mismatch.",
        Cure: "Sequence numbers with a reorder buffer in the consumer (hold an event until its predecessor is applied) and an idempotent apply (skip sequence <= last applied).",
        Runbook: new Runbook(
            Break: "lab scenario enable event-ordering-violation --set kind=PaymentCaptured --set delay=2s",
            Hint: "Some orders show a status in the order-status view that they left long ago. Compare the view with the orders table, then look at the projection's logs and counters.",
            Verify: "lab.projection.out_of_order grows; the projection logs 'event Confirmed #4 arrived, expected #3'; lab verify lists orders whose view status differs from the order's; the StreamProduce span of the late event carries lab.scenario=event-ordering-violation.",
            Restore: "lab scenario change event-ordering-violation --set cure=true (views end correct although events still arrive late), or disable it; views of new orders are correct again."))
    {
        Seams = [new SeamUse(ShopSeams.EventApplying.Name, "the projection applies events as they arrive", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.Carrier is OrderEvent orderEvent
        && string.Equals(orderEvent.Kind.ToString(), activation.GetString("kind"), StringComparison.OrdinalIgnoreCase);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        ctx.PublishDelay = activation.GetDuration("delay");
        return ValueTask.CompletedTask;
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.EventApplying, EventApplying.AsArrived);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var outOfOrder = new SignatureFigure("out-of-order arrivals", "", "lab.projection.out_of_order", m => m.Delta("silo", "lab_projection_out_of_order_total"));
            var stale = new SignatureFigure("stale events applied", "", "lab.projection.stale_applied (an older event overwrote a newer status)",
                m => m.Delta("silo", "lab_projection_stale_applied_total"));
            return new ExperimentSpec(Name, [outOfOrder, stale],
                [SteadyStateProbe.AtBaseline(stale, tolerance: 0, slack: 0), SteadyStateProbe.ErrorsBelow(0.01)])
            {
                Mix = "checkout=70,browse=30",
                Cure = ExperimentSpec.CureOn,
                Settle = TimeSpan.FromSeconds(3),
            };
        }
    }
}
