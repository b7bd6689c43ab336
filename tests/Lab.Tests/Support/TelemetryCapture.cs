using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.ServiceDefaults;

namespace Lab.Tests.Support;

/// <summary>
/// Records the shop's own spans (ActivitySource "Lab"), database call counts (lab.db.calls by db.operation) and
/// failed checkouts (lab.orders.failed by reason) in this process: the in-process cluster's silos run here, so their telemetry is visible to the test.
/// </summary>
public sealed class TelemetryCapture : IDisposable
{
    private readonly ActivityListener _spans;
    private readonly MeterListener _meters;
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ConcurrentDictionary<string, long> _dbCalls = new();
    private readonly ConcurrentDictionary<string, long> _ordersFailed = new();
    private long _poolWaiting;
    private long _repriced;

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
                if (instrument.Meter.Name == LabTelemetry.MeterName && instrument.Name is "lab.db.calls" or "lab.db.pool.waiting" or "lab.orders.failed" or "lab.checkout.repriced_lines")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "lab.db.pool.waiting")
            {
                Interlocked.Exchange(ref _poolWaiting, value);
                return;
            }

            if (instrument.Name == "lab.checkout.repriced_lines")
            {
                Interlocked.Add(ref _repriced, value);
                return;
            }

            var (byTag, counts) = instrument.Name == "lab.orders.failed" ? ("reason", _ordersFailed) : ("db.operation", _dbCalls);
            foreach (var tag in tags)
            {
                if (tag.Key == byTag && tag.Value is string key)
                {
                    counts.AddOrUpdate(key, value, (_, v) => v + value);
                }
            }
        });
        _meters.Start();
    }

    /// <summary>Database calls of <paramref name="operation"/> counted so far.</summary>
    public long DbCalls(string operation) => _dbCalls.TryGetValue(operation, out var n) ? n : 0;

    /// <summary>Checkouts counted as failed with <paramref name="reason"/> so far.</summary>
    public long OrdersFailed(string reason) => _ordersFailed.TryGetValue(reason, out var n) ? n : 0;

    /// <summary>Cart lines checkouts repriced so far (lab.checkout.repriced_lines).</summary>
    public long Repriced => Interlocked.Read(ref _repriced);

    /// <summary>Reads the lab.db.pool.waiting gauge now: callers queued for a database connection in this process.</summary>
    public long SamplePoolWaiting()
    {
        _meters.RecordObservableInstruments();
        return Interlocked.Read(ref _poolWaiting);
    }

    /// <summary>Stopped db spans of <paramref name="operation"/> (tag lab.db.operation).</summary>
    public IReadOnlyList<Activity> DbSpans(string operation) =>
        [.. _stopped.Where(a => (a.GetTagItem("lab.db.operation") as string) == operation)];

    /// <summary>Every stopped span so far.</summary>
    public IReadOnlyList<Activity> Spans => [.. _stopped];

    public void Clear()
    {
        _stopped.Clear();
        _dbCalls.Clear();
        _ordersFailed.Clear();
        Interlocked.Exchange(ref _repriced, 0);
    }

    public void Dispose()
    {
        _spans.Dispose();
        _meters.Dispose();
    }
}
