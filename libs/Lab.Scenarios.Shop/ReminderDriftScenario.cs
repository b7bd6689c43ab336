using Lab.Contracts;
using Lab.Shop;
using Polly;

namespace Lab.Scenarios.Shop;

/// <summary>
/// Timers fire late under load. A grain timer runs as a turn of its grain, so it waits behind every call queued in front
/// of it: here each call to one SKU's inventory grain holds its turn a while (a slow dependency awaited inside the turn),
/// and with callers queueing the reservation sweep ticks seconds late. With the reservation-expiry seam's naive variant
/// only the sweep releases expired reservations, so their units stay held as long as the sweep is late, and checkouts
/// are refused for stock that is free. cure=true restores the shop's own: every call releases what has expired, so a
/// late tick holds nothing (the timer is as late as before).
/// </summary>
public sealed class ReminderDriftScenario : Scenario
{
    public const string Name = "reminder-drift";

    private static readonly ResiliencePipeline Hold = ScenarioChaos.Latency(invocation => invocation.Activation.GetDuration("hold"));

    public override ScenarioMeta Meta { get; } = new(
        Name: Name,
        Category: "actor-system",
        Description: "Each call to the inventory grain of 'sku' holds its turn 'hold' longer (awaited, inside the turn), so callers queue and the " +
                     "grain's reservation-sweep timer, which runs as a turn too, waits behind them. The reservation-expiry seam's naive variant leaves " +
                     "expired reservations to that sweep alone.",
        Targets: [HookPoint.GrainIncoming],
        Parameters:
        [
            ParameterSpec.String("sku", "SKU-00001", "The SKU whose inventory grain gets the slow calls (SKU-00001 is the best seller)."),
            ParameterSpec.Duration("hold", "200ms", "How much longer each call to it holds the grain's turn.", min: "1ms", max: "10s"),
            ParameterSpec.Bool("cure", false, "The shop's own: every call that reserves, releases or commits first frees what has expired, tolerant of a late sweep."),
        ],
        Signature: "lab.timer.drift{timer=reservation-sweep} grows with the grain's queue (about hold × the calls waiting) while the same timer on " +
                   "other SKUs stays on time; lab.inventory.reservation_overstay follows it: expired reservations keep their units seconds past their " +
                   "expiry, and a reservation that needs those units is refused (OutOfStock) meanwhile. With the cure the overstay drops to the " +
                   "next call's arrival; the drift stays (the fault is kept).",
        Cure: "Treat timer and reminder ticks as late and possibly repeated: compute from the time it is, not from the tick; do the work where it " +
              "matters too (check expiry on use), and keep handlers idempotent.",
        Runbook: new Runbook(
            Break: "lab scenario enable reminder-drift --set sku=SKU-00001 --set hold=200ms while lab load --mix checkout=100 runs",
            Hint: "The best seller shows out of stock now and then although nothing sold it out. What should have put its reserved units back, and when did it run?",
            Verify: "lab.timer.drift for reservation-sweep rises to seconds (its p99 on the dashboard); lab.inventory.reservation_overstay follows; " +
                    "the inventory grain's log shows reservations 'expired' seconds after their expiry.",
            Restore: "lab scenario change reminder-drift --set cure=true (expiry checked on every call: nothing overstays) or disable it."))
    {
        Seams = [new SeamUse(ShopSeams.ReservationExpiry.Name, "the sweep timer alone releases expired reservations", CureRestores: true)],
    };

    public override bool IsApplicable(HookContext ctx, ScenarioActivation activation) =>
        base.IsApplicable(ctx, activation)
        && ctx.GrainInterface == nameof(IInventoryGrain)
        && string.Equals(ctx.GrainKey, activation.GetString("sku"), StringComparison.OrdinalIgnoreCase);

    public override ValueTask ApplyAsync(HookContext ctx, ScenarioActivation activation, CancellationToken ct) =>
        ScenarioChaos.RunAsync(Hold, ctx, activation, ct);

    public override void Regress(ScenarioActivation activation, SeamRegressions seams)
    {
        if (!activation.GetBool("cure"))
        {
            var sku = activation.GetString("sku");
            seams.Set(ShopSeams.ReservationExpiry, ReservationExpiry.SweepOnly,
                appliesTo: subject => string.Equals(subject, sku, StringComparison.OrdinalIgnoreCase), everywhere: true);
        }
    }

    public override ExperimentSpec Experiment
    {
        get
        {
            var drift = new SignatureFigure("sweep drift mean", "ms", "lab.timer.drift{timer=reservation-sweep}, silos", m => m.MeanMs("silo", "lab_timer_drift_seconds"));
            var overstay = new SignatureFigure("reservation overstay mean", "ms", "lab.inventory.reservation_overstay, silos",
                m => m.MeanMs("silo", "lab_inventory_reservation_overstay_seconds"));
            return new ExperimentSpec(Name, [drift, overstay], [SteadyStateProbe.ErrorsBelow(0.01), SteadyStateProbe.P99Below(TimeSpan.FromSeconds(1))])
            {
                Mix = "checkout=100",
                Cure = ExperimentSpec.CureOn,
            };
        }
    }
}
