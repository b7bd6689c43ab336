using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.ServiceDefaults;

namespace Lab.Tests.Support;

/// <summary>
/// Records the shop's own spans (ActivitySource "Lab") and database call counts (lab.db.calls by db.operation)
/// in this process: the in-process cluster's silos run here, so their telemetry is visible to the test.
/// </summary>
public sealed class TelemetryCapture : IDisposable
{
    private readonly ActivityListener _spans;
    private readonly MeterListener _meters;
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ConcurrentDictionary<string, long> _dbCalls = new();

    public TelemetryCapture()
    {
        _spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LabTelemetry.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_spans);

        _meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LabTelemetry.MeterName && instrument.Name == "lab.db.calls")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meters.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "db.operation" && tag.Value is string operation)
                {
                    _dbCalls.AddOrUpdate(operation, value, (_, v) => v + value);
                }
            }
        });
        _meters.Start();
    }

    /// <summary>Database calls of <paramref name="operation"/> counted so far.</summary>
    public long DbCalls(string operation) => _dbCalls.TryGetValue(operation, out var n) ? n : 0;

    /// <summary>Stopped db spans of <paramref name="operation"/> (tag lab.db.operation).</summary>
    public IReadOnlyList<Activity> DbSpans(string operation) =>
        [.. _stopped.Where(a => (a.GetTagItem("lab.db.operation") as string) == operation)];

    /// <summary>Every stopped span so far.</summary>
    public IReadOnlyList<Activity> Spans => [.. _stopped];

    public void Clear()
    {
        _stopped.Clear();
        _dbCalls.Clear();
    }

    public void Dispose()
    {
        _spans.Dispose();
        _meters.Dispose();
    }
}
