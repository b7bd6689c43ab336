using Lab.Contracts;
using Lab.Shop;

namespace Lab.Scenarios.Shop;

/// <summary>
/// The order feed fans every order event out to many subscribers (the order-feed-subscribers seam, say a release that
/// subscribed one partner per store), and delivers each event to each of them at once (the order-feed-delivery seam's
/// per-event variant): five events per order become thousands of grain calls per checkout, queued at the subscribers and
/// competing with the shop's own calls on the silos. cure=true keeps the subscribers and restores the shop's own delivery:
/// batched per window, a few deliveries in flight.
/// </summary>
public sealed class AsyncCallbackStormScenario : Scenario
{
    public const string Name = "async-callback-storm";

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "concurrency",
        Description: "Every order event fans out to many subscribers of the order feed, each called for each event, all at once: the calls multiply by " +
                     "subscribers × events, queue at the subscribers' grains and take the silos' scheduler from the checkouts.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.Int("subscribers", 200, "Subscribers of the order feed while it is on (the shop's own: Shop:OrderFeedSubscribers, 8).", min: 1, max: 2000),
            ParameterSpec.Bool("cure", false, "The shop's own delivery for the same subscribers: one batch per subscriber every Shop:OrderFeedWindow, Shop:OrderFeedConcurrency in flight."),
        ],
        Signature: "lab.order_feed.deliveries / lab.order_feed.events (the fan-out) equals the subscribers; lab.order_feed.calls per event equals it too, " +
                   "and lab.order_feed.in_flight (calls in flight when one starts) climbs to hundreds, with lab.order_feed.lag and checkout latency behind it. " +
                   "With the cure the fan-out is the same, but calls per event fall to a fraction of one and no more than Shop:OrderFeedConcurrency are in flight.",
        Cure: "Batch the events per subscriber and bound the fan-out (a few deliveries in flight), so the calls grow with subscribers, not with subscribers × events.",
        Runbook: new Runbook(
            Break: "lab scenario enable async-callback-storm --set subscribers=200, then lab load --mix checkout=100",
            Hint: "Nothing fails, yet checkouts slow down and the silos are busy. What calls do the silos make that no customer asked for, and how many per order?",
            Verify: "lab.order_feed.calls{delivery=per-event} grows by about 5 × subscribers per order; the subscriber grain calls are tagged lab.scenario=async-callback-storm; " +
                    "the lab.order_feed.in_flight histogram's upper buckets fill.",
            Restore: "lab scenario change async-callback-storm --set cure=true (same fan-out, calls batched and bounded) or lab scenario disable async-callback-storm."))
    {
        Seams =
        [
            new SeamUse(ShopSeams.OrderFeedSubscribers.Name, "many subscribers (the parameter)", CureRestores: false),
            new SeamUse(ShopSeams.OrderFeedDelivery.Name, "every event to every subscriber at once", CureRestores: true),
        ],
    };

    // Tags (and counts) each call a subscriber receives; the fan-out itself is the seams'.
    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation) && ctx.GrainInterface == nameof(IOrderSubscriberGrain);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        seams.Set(ShopSeams.OrderFeedSubscribers, (int)activation.GetInt("subscribers"), everywhere: true);
        if (!activation.GetBool("cure"))
        {
            seams.Set(ShopSeams.OrderFeedDelivery, FeedDelivery.PerEvent, everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var fanOut = new SignatureFigure("fan-out", "", "lab.order_feed.deliveries / lab.order_feed.events, silos",
                m => SignatureFigure.Ratio(m.Delta("silo", "lab_order_feed_deliveries_total"), m.Delta("silo", "lab_order_feed_events_total")), LowerIsBetter: false);
            var callsPerEvent = new SignatureFigure("calls per event", "", "lab.order_feed.calls / lab.order_feed.events, silos",
                m => SignatureFigure.Ratio(m.Delta("silo", "lab_order_feed_calls_total"), m.Delta("silo", "lab_order_feed_events_total")));
            var inFlight = new SignatureFigure("calls in flight", "", "mean of lab.order_feed.in_flight (in flight when a call starts), silos",
                m => SignatureFigure.Ratio(m.Delta("silo", "lab_order_feed_in_flight_sum"), m.Delta("silo", "lab_order_feed_in_flight_count")));
            var lag = new SignatureFigure("feed lag", "ms", "mean of lab.order_feed.lag, silos", m => m.MeanMs("silo", "lab_order_feed_lag_seconds"));
            return new ExperimentSpec(Name, [fanOut, callsPerEvent, inFlight, lag],
                [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.Below(inFlight, 16)])
            {
                Mix = "checkout=100",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
