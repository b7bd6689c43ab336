using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lab.ServiceDefaults;

/// <summary>The lab's own ActivitySource and Meter, and the instruments every process shares.</summary>
public static class LabTelemetry
{
    public const string SourceName = "Lab";
    public const string MeterName = "Lab";

    public static readonly ActivitySource Source = new(SourceName);
    public static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> OrdersPlaced =
        Meter.CreateCounter<long>("lab.orders.placed", "{order}", "Orders that reached Confirmed.");

    public static readonly Counter<long> OrdersFailed =
        Meter.CreateCounter<long>("lab.orders.failed", "{order}", "Orders cancelled by the saga, by reason.");

    public static readonly Histogram<double> CheckoutDuration =
        Meter.CreateHistogram<double>("lab.checkout.duration", "s", "Time from order placement to its final state.");

    public static readonly Counter<long> DbCalls =
        Meter.CreateCounter<long>("lab.db.calls", "{call}", "Database calls, by operation and by the HTTP route that caused them.");

    public static readonly Histogram<double> DbCallDuration =
        Meter.CreateHistogram<double>("lab.db.call.duration", "s", "Duration of a database call including waiting for a connection.");

    /// <summary>Baggage key the storefront sets so work deeper down knows which route caused it.</summary>
    public const string RouteBaggageKey = "lab.route";

    /// <summary>Baggage key the load client sets to mark synthetic traffic.</summary>
    public const string SyntheticBaggageKey = "lab.synthetic";
}
