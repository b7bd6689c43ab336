using System.Diagnostics.Metrics;
using Lab.ServiceDefaults;

namespace Lab.Grains;

/// <summary>How the shop's timers keep time: how late their ticks run, and what lateness costs (units held past their expiry).</summary>
public static class ShopTimers
{
    public static readonly Histogram<double> Drift = LabTelemetry.Meter.CreateHistogram("lab.timer.drift", "s",
        "How late a grain timer's tick with work to do ran after it was due (it waits behind the calls queued in its grain), by timer.", advice: LabTelemetry.SecondsAdvice);

    public static readonly Histogram<double> ReservationOverstay = LabTelemetry.Meter.CreateHistogram("lab.inventory.reservation_overstay", "s",
        "How long an expired reservation still held its units before it was released, by who released it (the sweep timer, a call, the recovery sweep).", advice: LabTelemetry.SecondsAdvice);
}
