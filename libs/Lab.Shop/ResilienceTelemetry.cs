using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Lab.Shop;

/// <summary>The shop's resilience as metrics and span tags: retries by layer, hedged reads, and work finished after its caller's deadline.</summary>
public static class ResilienceTelemetry
{
    public const string MeterName = "Lab.Shop.Resilience";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Retries = Meter.CreateCounter<long>(
        "lab.retries", unit: "{retry}", description: "Retries made by the shop, by layer (storefront, grain, client).");

    private static readonly Counter<long> Orphaned = Meter.CreateCounter<long>(
        "lab.work.orphaned", unit: "{operation}", description: "Work finished after its caller's deadline had passed, by layer.");

    private static readonly Counter<long> Hedges = Meter.CreateCounter<long>(
        "lab.hedges", unit: "{attempt}", description: "Hedged attempts started because the first was slow to answer, by operation.");

    public static void Hedged(string operation) => Hedges.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public static void Retried(string layer) => Retries.Add(1, new KeyValuePair<string, object?>("layer", layer));

    /// <summary>Counts work that finished after <paramref name="deadline"/> and tags the current span with it.</summary>
    public static void FinishedAt(DateTimeOffset? deadline, DateTimeOffset now, string layer)
    {
        if (deadline is not { } d || now <= d)
        {
            return;
        }

        Orphaned.Add(1, new KeyValuePair<string, object?>("layer", layer));
        Activity.Current?.SetTag("lab.orphaned", layer);
        Activity.Current?.AddEvent(new ActivityEvent("lab.orphaned", tags: new ActivityTagsCollection
        {
            ["layer"] = layer,
            ["lab.after_deadline_ms"] = (now - d).TotalMilliseconds,
        }));
    }
}
