using Lab.Load.Journeys;

namespace Lab.Load.Plan;

/// <summary>Everything one load run needs. Build it with <see cref="LoadPlanBuilder"/> or directly.</summary>
public sealed record LoadPlan
{
    public required Uri Target { get; init; }

    public required LoadModel Model { get; init; }

    public required TimeSpan Duration { get; init; }

    public JourneyMix Mix { get; init; } = JourneyMix.Default;

    public IReadOnlyList<TimelineMark> Timeline { get; init; } = [];

    /// <summary>Runs the same load this long first and discards it, so JIT and connection set-up do not show in the figures.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.Zero;

    public IReadOnlyList<Threshold> Thresholds { get; init; } = [];

    public int Seed { get; init; } = 1;

    /// <summary>Most journeys running at once in the open model; also the connection limit.</summary>
    public int MaxInFlight { get; init; } = 256;

    /// <summary>Arrivals waiting for a free slot before new ones are dropped (and counted as dropped).</summary>
    public int MaxQueuedArrivals { get; init; } = 10_000;

    /// <summary>A journey that starts this much after its intended time counts as a late start.</summary>
    public TimeSpan LateStartThreshold { get; init; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long in-flight journeys may finish after the duration ends before they are cancelled.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public int SlowestCount { get; init; } = 10;

    public int MaxFailuresKept { get; init; } = 50;

    public WorkloadKeys Keys { get; init; } = new();

    public CheckoutPolling Polling { get; init; } = new();

    public string? ControlToken { get; init; }

    public string? AspireUrl { get; init; } = "http://127.0.0.1:18888";

    public string? JaegerUrl { get; init; } = "http://127.0.0.1:16686";

    /// <summary>Disable, at the end of the run, scenarios the timeline enabled and did not disable.</summary>
    public bool ResetScenariosAtEnd { get; init; } = true;

    public TransportKind Transport { get; init; } = TransportKind.Auto;

    /// <summary>Checks that something listens at the target before starting.</summary>
    public bool CheckTargetFirst { get; init; } = true;
}

/// <summary>Which HTTP client sends the requests.</summary>
public enum TransportKind
{
    /// <summary>Raw sockets for http://, HttpClient for https://.</summary>
    Auto,

    /// <summary>HTTP/1.1 straight over sockets, one keep-alive connection per worker (http:// only).</summary>
    Raw,

    /// <summary>.NET's SocketsHttpHandler.</summary>
    HttpClient,
}

/// <summary>How requests arrive.</summary>
public abstract record LoadModel
{
    private protected LoadModel()
    {
    }
}

/// <summary>
/// Open model: journeys start at planned times whatever the system does (like real users); a ramp goes
/// linearly from <paramref name="StartRate"/> to <paramref name="EndRate"/> journeys per second.
/// </summary>
public sealed record OpenModel(double StartRate, double EndRate) : LoadModel
{
    public static OpenModel Constant(double rate) => new(rate, rate);

    public bool IsRamp => StartRate != EndRate;

    public double RateAt(double seconds, double durationSeconds) =>
        durationSeconds <= 0 ? StartRate : StartRate + ((EndRate - StartRate) * Math.Clamp(seconds / durationSeconds, 0, 1));
}

/// <summary>Closed model: <paramref name="Users"/> virtual users, each running journeys back to back with a think time.</summary>
public sealed record ClosedModel(int Users, TimeSpan ThinkTime) : LoadModel;

public enum TimelineAction
{
    Enable,
    Disable,
}

/// <summary>A scenario switched on or off at an offset into the run; each mark starts a new report phase.</summary>
public sealed record TimelineMark(TimeSpan At, TimelineAction Action, string Scenario, IReadOnlyDictionary<string, string> Parameters)
{
    public string Describe() =>
        Parameters.Count == 0
            ? $"{Action.ToString().ToLowerInvariant()} {Scenario}"
            : $"{Action.ToString().ToLowerInvariant()} {Scenario} ({string.Join(", ", Parameters.Select(p => $"{p.Key}={p.Value}"))})";
}

/// <summary>Key spaces the journeys draw from, with the same Zipf skew as the seeded shop data.</summary>
public sealed record WorkloadKeys
{
    public int SkuCount { get; init; } = 2000;

    public int CustomerCount { get; init; } = 5000;

    public double SkuSkew { get; init; } = 1.0;

    public double CustomerSkew { get; init; } = 1.0;
}

/// <summary>How the checkout journey waits for its order to become final.</summary>
public sealed record CheckoutPolling
{
    public TimeSpan Interval { get; init; } = TimeSpan.FromMilliseconds(100);

    public int MaxPolls { get; init; } = 50;
}
