using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.ServiceDefaults;

namespace Lab.Tests.Support;

/// <summary>
/// Records the shop's own spans (ActivitySource "Lab"), database call counts (lab.db.calls by db.operation) and
/// failed checkouts (lab.orders.failed by reason) in this process: the in-process cluster's silos run here, so their telemetry is visible to the test.
/// A test's own calls made inside <see cref="Trace"/> are told apart from everything else the cluster does by their trace id
/// (<see cref="InTrace"/>): the grain calls carry it (Orleans' activity propagation), and so every span below them.
/// </summary>
public sealed class TelemetryCapture : IDisposable
{
    /// <summary>The tests' own spans: the root of a trace a test starts around its calls.</summary>
    public static readonly ActivitySource TestSource = new("Lab.Tests");

    // Orleans opens a span for each grain call, whose context the next call and the silo's own spans continue.
    private static readonly string[] Sources = [LabTelemetry.SourceName, TestSource.Name, "Microsoft.Orleans.Application"];

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
            ShouldListenTo = source => Sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = OnStarted,
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

    /// <summary>
    /// Starts a trace of the test's own (Activity.Current until disposed): every span the calls made meanwhile cause, in the
    /// client and in the silos, has its trace id.
    /// </summary>
    public static Activity Trace(string name) =>
        TestSource.StartActivity(name, ActivityKind.Client) ?? throw new InvalidOperationException("No listener samples the tests' spans.");

    /// <summary>Completes when a span that <paramref name="match"/> accepts starts (e.g. a database call begins, for a test that must act while it runs).</summary>
    public Task<Activity> StartOfAsync(Func<Activity, bool> match)
    {
        var started = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
        _starting.Enqueue((match, started));
        return started.Task;
    }

    private readonly ConcurrentQueue<(Func<Activity, bool> Match, TaskCompletionSource<Activity> Started)> _starting = new();

    private void OnStarted(Activity activity)
    {
        foreach (var (match, started) in _starting)
        {
            if (!started.Task.IsCompleted && match(activity))
            {
                started.TrySetResult(activity);
            }
        }
    }

    /// <summary>The stopped spans of one trace: what the test's own calls caused, and nothing else the cluster did meanwhile.</summary>
    public IReadOnlyList<Activity> InTrace(ActivityTraceId traceId) => [.. _stopped.Where(a => a.TraceId == traceId)];

    /// <summary>Database calls of <paramref name="operation"/> in one trace (its db spans).</summary>
    public int DbCalls(ActivityTraceId traceId, string operation) =>
        InTrace(traceId).Count(a => (a.GetTagItem("lab.db.operation") as string) == operation);

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
