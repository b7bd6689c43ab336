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
        Meter.CreateCounter<long>("lab.orders.failed", "{order}", "Checkouts that did not confirm, by reason: the saga's failure, or the type of the exception a step threw.");

    /// <summary>
    /// Bucket bounds in seconds, from 1 ms to 30 s: the SDK's default bounds (0, 5, 10, 25... meant for milliseconds)
    /// would put every call of a seconds histogram in its first buckets and make p50/p99 meaningless.
    /// </summary>
    public static readonly IReadOnlyList<double> SecondsBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30];

    /// <summary>Histogram advice with <see cref="SecondsBuckets"/>, for every lab histogram measured in seconds.</summary>
    public static InstrumentAdvice<double> SecondsAdvice => new() { HistogramBucketBoundaries = SecondsBuckets };

    public static readonly Histogram<double> CheckoutDuration =
        Meter.CreateHistogram("lab.checkout.duration", "s", "Time from order placement to its final state (outcome confirmed or cancelled), or to the saga step that threw (outcome error).", advice: SecondsAdvice);

    public static readonly Counter<long> CacheStaleServed =
        Meter.CreateCounter<long>("lab.cache.stale_served", "{read}", "Product reads answered from the product grain's old entry because loading it again failed (stale-if-error).");

    public static readonly Counter<long> CheckoutRepriced =
        Meter.CreateCounter<long>("lab.checkout.repriced_lines", "{line}", "Cart lines a checkout priced at the product's current price because the price had changed since they were added.");

    public static readonly Counter<long> WriteConflicts =
        Meter.CreateCounter<long>("lab.db.write_conflicts", "{write}", "Version-checked writes that found the row changed since it was read (optimistic concurrency), by operation.");

    public static readonly Counter<long> DbCalls =
        Meter.CreateCounter<long>("lab.db.calls", "{call}", "Database calls, by operation and by the HTTP route that caused them.");

    public static readonly Histogram<double> DbCallDuration =
        Meter.CreateHistogram("lab.db.call.duration", "s", "Duration of a database call including waiting for a connection.", advice: SecondsAdvice);

    /// <summary>The span tag lab.db.lock_wait_ms as a metric, so lock waits show on a dashboard, not only in traces.</summary>
    public static readonly Histogram<double> DbLockWait =
        Meter.CreateHistogram("lab.db.lock_wait.duration", "s", "Time a write transaction waited to begin (the database's write lock).", advice: SecondsAdvice);

    /// <summary>The process's open file descriptors (files and sockets), from /proc/self/fd; none where there is no /proc.</summary>
    public static readonly ObservableGauge<int> OpenFileDescriptors =
        Meter.CreateObservableGauge("lab.process.open_fds", CountOpenFileDescriptors, "{file}",
            "Files and sockets this process holds open (/proc/self/fd); compare with its limit (/proc/self/limits, Max open files).");

    /// <summary>
    /// When this process started (Unix seconds; Prometheus's process_start_time_seconds), so a reader of two scrapes tells a
    /// restarted process, whose counters began again at zero, from one whose counters went on.
    /// </summary>
    public static readonly ObservableGauge<double> ProcessStartTime =
        Meter.CreateObservableGauge("lab.process.start_time", () => StartedAtUnixSeconds, "s", "When this process started, in seconds since 1970 (UTC).");

    private static readonly double StartedAtUnixSeconds =
        new DateTimeOffset(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;

    private static IEnumerable<Measurement<int>> CountOpenFileDescriptors()
    {
        if (!Directory.Exists("/proc/self/fd"))
        {
            yield break;
        }

        yield return new Measurement<int>(Directory.EnumerateFileSystemEntries("/proc/self/fd").Count());
    }

    /// <summary>Baggage key the storefront sets so work deeper down knows which route caused it.</summary>
    public const string RouteBaggageKey = "lab.route";

    /// <summary>Baggage key the load client sets to mark synthetic traffic.</summary>
    public const string SyntheticBaggageKey = "lab.synthetic";
}
