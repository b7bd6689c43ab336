using System.Text.Json.Serialization;
using HdrHistogram;

namespace Lab.Load.Reporting;

/// <summary>
/// The result of a run, serialised as report.json. The shape is versioned by <see cref="SchemaVersion"/>:
/// fields may be added within a version, never renamed or removed. Latencies are in milliseconds, rates per
/// second, error rates fractions (0..1), times in seconds from the start of the run.
/// </summary>
public sealed record LoadReport
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public string Tool { get; init; } = "lab-load";

    public required DateTimeOffset StartedAt { get; init; }

    public required string Target { get; init; }

    public required ModelReport Model { get; init; }

    public required string Mix { get; init; }

    public required int Seed { get; init; }

    public required double PlannedSeconds { get; init; }

    /// <summary>Seconds during which journeys were started; rates are per this span.</summary>
    public required double ElapsedSeconds { get; init; }

    /// <summary>True when the run was stopped before its planned end.</summary>
    public bool Interrupted { get; init; }

    /// <summary>All requests of all journeys.</summary>
    public required StatsReport Requests { get; init; }

    public required ScheduleReport Schedule { get; init; }

    public required IReadOnlyList<JourneyReport> Journeys { get; init; }

    /// <summary>The run split at each timeline mark; one phase when there are no marks.</summary>
    public required IReadOnlyList<PhaseReport> Phases { get; init; }

    public required IReadOnlyList<TimelineEventReport> Timeline { get; init; }

    public required IReadOnlyList<TimePointReport> TimeSeries { get; init; }

    public required IReadOnlyList<RequestRecordReport> Slowest { get; init; }

    public required IReadOnlyList<RequestRecordReport> Failures { get; init; }

    public required IReadOnlyList<ThresholdResultReport> Thresholds { get; init; }

    /// <summary>True when every threshold held.</summary>
    public bool Passed => Thresholds.All(t => t.Passed);

    public required TraceLinksReport TraceLinks { get; init; }

    /// <summary>Things the reader should know to trust the figures (dropped arrivals, failed timeline marks...).</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>Latency histograms in Stopwatch ticks: "all" (every request) and one per journey (whole journeys).</summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, HistogramBase> Histograms { get; init; } = new Dictionary<string, HistogramBase>();
}

/// <param name="Kind">"open" or "closed".</param>
/// <param name="StartRate">Open model: journeys per second at the start.</param>
/// <param name="EndRate">Open model: journeys per second at the end (equal to the start for a constant rate).</param>
/// <param name="Users">Closed model: virtual users.</param>
/// <param name="ThinkMs">Closed model: think time between journeys.</param>
/// <param name="MaxInFlight">Most journeys at once (open) or users (closed); also the connection limit.</param>
public sealed record ModelReport(string Kind, double? StartRate, double? EndRate, int? Users, double? ThinkMs, int MaxInFlight);

public sealed record LatencyReport(double P50, double P90, double P95, double P99, double P999, double Max, double Mean);

/// <param name="Count">Completed (requests, or journeys for a journey's own figures).</param>
/// <param name="Rate">Per second of the run (or of the phase).</param>
/// <param name="Errors">Failed among <paramref name="Count"/>.</param>
/// <param name="ErrorRate">Errors / Count.</param>
/// <param name="LatencyMs">Null when nothing completed.</param>
/// <param name="ErrorsByStatus">HTTP status code (as text) to count.</param>
/// <param name="ErrorsByKind">Error kind (http-status, timeout, connection-refused, connection, protocol, invalid-response, client) to count.</param>
public sealed record StatsReport(
    long Count,
    double Rate,
    long Errors,
    double ErrorRate,
    LatencyReport? LatencyMs,
    IReadOnlyDictionary<string, long> ErrorsByStatus,
    IReadOnlyDictionary<string, long> ErrorsByKind);

/// <param name="Name">Journey name.</param>
/// <param name="Journey">Whole journeys: latency from the planned start to the last response.</param>
/// <param name="Requests">All requests of this journey.</param>
/// <param name="Steps">Each step's requests.</param>
public sealed record JourneyReport(string Name, StatsReport Journey, StatsReport Requests, IReadOnlyList<StepReport> Steps);

public sealed record StepReport(string Name, StatsReport Stats);

/// <param name="Planned">Open model: arrivals planned in the run.</param>
/// <param name="Started">Journeys started.</param>
/// <param name="Dropped">Open model: arrivals dropped because the queue of waiting arrivals was full.</param>
/// <param name="Unstarted">Open model: arrivals still queued when the run ended.</param>
/// <param name="Late">Journeys started more than <paramref name="LateThresholdMs"/> after their planned time.</param>
/// <param name="Cancelled">Journeys cut off at the end of the run (not counted anywhere else).</param>
/// <param name="StartLagMs">How late journeys started relative to plan.</param>
/// <param name="TargetRate">Open model: mean planned journeys per second.</param>
/// <param name="AchievedRate">Journeys started per second.</param>
public sealed record ScheduleReport(
    long? Planned,
    long Started,
    long Dropped,
    long Unstarted,
    long Late,
    double LateThresholdMs,
    long Cancelled,
    LatencyReport? StartLagMs,
    double? TargetRate,
    double AchievedRate);

public sealed record PhaseReport(
    int Index,
    string Name,
    double StartSeconds,
    double EndSeconds,
    StatsReport Requests,
    ScheduleReport Schedule,
    IReadOnlyList<JourneyReport> Journeys);

/// <param name="AtSeconds">Planned offset.</param>
/// <param name="AppliedSeconds">When the control API call returned; null if it was not made.</param>
/// <param name="Action">"enable" or "disable" (or "reset" for the clean-up at the end).</param>
public sealed record TimelineEventReport(
    double AtSeconds,
    double? AppliedSeconds,
    string Action,
    string Scenario,
    IReadOnlyDictionary<string, string> Parameters,
    bool Ok,
    string? Error);

/// <summary>One harvest interval (about a second). Latencies are of requests completed in it.</summary>
public sealed record TimePointReport(
    double Second,
    double RequestRate,
    double ErrorRate,
    double JourneyRate,
    double? TargetRate,
    double? P50Ms,
    double? P90Ms,
    double? P99Ms,
    double? MaxMs,
    IReadOnlyDictionary<string, double> JourneyP99Ms);

/// <param name="Journey">Journey name.</param>
/// <param name="Step">Step name; for a failure of a journey as a whole, the journey name.</param>
/// <param name="Status">HTTP status; 0 when there was no response.</param>
/// <param name="ErrorKind">Null for a success.</param>
/// <param name="AtSeconds">When the request (or journey) was started, from the run start.</param>
/// <param name="TraceId">W3C trace id (32 hex digits) of the journey.</param>
public sealed record RequestRecordReport(
    string Journey,
    string Step,
    string Method,
    string Path,
    int Status,
    string? ErrorKind,
    string? Message,
    double LatencyMs,
    double AtSeconds,
    string Phase,
    string TraceId,
    string? AspireUrl,
    string? JaegerUrl);

/// <param name="Actual">Null when the scope had no data (which fails the threshold).</param>
public sealed record ThresholdResultReport(string Expression, string Scope, double? Actual, string ActualText, bool Passed);

/// <summary>Link templates with "{traceId}" to be replaced.</summary>
public sealed record TraceLinksReport(string? Aspire, string? Jaeger)
{
    public static TraceLinksReport For(string? aspireUrl, string? jaegerUrl) => new(
        string.IsNullOrWhiteSpace(aspireUrl) ? null : $"{aspireUrl.TrimEnd('/')}/traces/detail/{{traceId}}",
        string.IsNullOrWhiteSpace(jaegerUrl) ? null : $"{jaegerUrl.TrimEnd('/')}/trace/{{traceId}}");

    public string? AspireFor(string traceId) => Aspire?.Replace("{traceId}", traceId, StringComparison.Ordinal);

    public string? JaegerFor(string traceId) => Jaeger?.Replace("{traceId}", traceId, StringComparison.Ordinal);
}
