using Lab.Contracts;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Some order events become poison: the projection fails on them every time (a field its code cannot read, a value out
/// of its range), however often they come. With the poison-events seam's naive variant the projection rethrows, the
/// stream delivers the same event again and again (with backoff, for a minute, then the outbox sweep publishes it once
/// more), and the order's later events wait behind it. cure=true restores the shop's own policy: a few tries, then the
/// event is parked as a dead letter and the order's later events go on; lab verify lists what is parked, and a replay
/// applies it once the cause is gone.
/// </summary>
public sealed class StreamPoisonEventScenario : Scenario
{
    public const string Name = "stream-poison-event";

    private const string AnyKind = "any";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "At the projection's stream-consume hook, the order events of kind 'kind' chosen by 'share' fail with an injected fault on every " +
                     "delivery. Which events are poison is decided by their event id, so the same event fails whenever it comes back; the others " +
                     "are untouched. The naive variant of the poison-events seam rethrows (the stream redelivers).",
        Targets: [HookPoint.StreamConsume],
        Parameters:
        [
            ParameterSpec.Enum("kind", nameof(OrderEventKind.Shipped), "Which kind of order event may be poison.",
                [AnyKind, .. Enum.GetNames<OrderEventKind>()]),
            ParameterSpec.Percent("share", "100%", "Share of the events of that kind that are poison (by event id)."),
            ParameterSpec.Bool("cure", false, "The shop's own: Shop:MaxEventAttempts tries, then a dead letter; the order's later events go on."),
        ],
        Signature: "lab.order_events.consume_failures{kind} climbs without end while the poisoned orders' views stay behind their orders (lab verify: " +
                   "projection equals orders), and the stream's redelivery backs off and retries for a minute at a time. With the cure each poison " +
                   "event fails Shop:MaxEventAttempts times and lab.order_events.dead_lettered counts it; the order's later events apply at once, and " +
                   "lab verify lists the parked event until POST /api/admin/dead-letters/replay applies it.",
        Cure: "Retry a few times, then dead-letter: park what cannot be processed where an operator sees it, and let everything else through; " +
              "replay the dead letters once the cause is fixed.",
        Runbook: new Runbook(
            Break: "lab scenario enable stream-poison-event --set kind=Shipped while lab load --mix checkout=100 runs",
            Hint: "Orders are shipped, yet the order status view says otherwise, and the projection's logs are busy. What is it doing with those events?",
            Verify: "lab.order_events.consume_failures{kind=Shipped} climbs far past the shipped orders; the projection's spans carry lab.scenario=" +
                    "stream-poison-event again and again for the same event ids; lab verify lists the orders whose view lags.",
            Restore: "lab scenario change stream-poison-event --set cure=true (poison is parked, the rest flows; lab verify lists what is parked), " +
                     "then disable it and POST /api/admin/dead-letters/replay: the parked events apply and lab verify is clean."))
    {
        Seams = [new SeamUse(ShopSeams.PoisonEvents.Name, "rethrow: the stream redelivers for as long as it fails", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation)
    {
        if (!base.IsApplicable(ctx, activation) || ctx.Carrier is not OrderEvent orderEvent)
        {
            return false;
        }

        var kind = activation.GetString("kind");
        // Poison or not by the event's own id: the same event is chosen on every delivery, in every process.
        return (kind == AnyKind || kind == orderEvent.Kind.ToString())
               && (uint)orderEvent.EventId.GetHashCode() % 10_000 < activation.GetRate("share") * 10_000;
    }

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct)
    {
        var orderEvent = (OrderEvent)ctx.Carrier!;
        throw new InjectedFaultException(Name, $"order event {orderEvent.Kind} #{orderEvent.Sequence} of {orderEvent.OrderId} cannot be processed");
    }

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.PoisonEvents, PoisonPolicy.RetryForever, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var failures = new SignatureFigure("failed tries per checkout", "", "lab.order_events.consume_failures / checkout journeys",
                m => SignatureFigure.Ratio(m.Delta("silo", "lab_order_events_consume_failures_total"), m.Load.Requests));
            var parked = new SignatureFigure("dead letters", "", "lab.order_events.dead_lettered, silos",
                m => m.Delta("silo", "lab_order_events_dead_lettered_total"), LowerIsBetter: false);
            return new ExperimentSpec(Name, [failures, parked],
                [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.Below(failures, 4)])
            {
                Mix = "checkout=100",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
