namespace Lab.Load.Engine;

/// <summary>A live snapshot, published about once a second while a run is going.</summary>
/// <param name="Elapsed">Time since the first planned arrival.</param>
/// <param name="Duration">Planned length of the run.</param>
/// <param name="Phase">Name of the current phase (timeline marks split the run).</param>
/// <param name="TargetRate">Planned journeys per second now (open model); null in the closed model.</param>
/// <param name="JourneyRate">Journeys started per second over the last interval.</param>
/// <param name="RequestRate">Requests completed per second over the last interval.</param>
/// <param name="ErrorRate">Failed requests / requests over the last interval (0..1).</param>
/// <param name="P50Ms">Request latency p50 over the last few seconds.</param>
/// <param name="P99Ms">Request latency p99 over the last few seconds.</param>
/// <param name="InFlight">Journeys running now.</param>
/// <param name="Queued">Open model: arrivals due but waiting for a free slot.</param>
/// <param name="Dropped">Open model: arrivals dropped so far because the queue was full.</param>
/// <param name="Late">Journeys so far that started later than the late-start threshold.</param>
/// <param name="Requests">Requests completed so far.</param>
/// <param name="Errors">Failed requests so far.</param>
/// <param name="ActiveScenarios">Scenarios the control API reports active (empty when it cannot be asked).</param>
public sealed record LoadProgress(
    TimeSpan Elapsed,
    TimeSpan Duration,
    string Phase,
    double? TargetRate,
    double JourneyRate,
    double RequestRate,
    double ErrorRate,
    double? P50Ms,
    double? P99Ms,
    long InFlight,
    long Queued,
    long Dropped,
    long Late,
    long Requests,
    long Errors,
    IReadOnlyList<string> ActiveScenarios);
