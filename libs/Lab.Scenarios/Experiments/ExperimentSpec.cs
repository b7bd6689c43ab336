using System.Globalization;

namespace Lab.Scenarios;

/// <summary>
/// How <c>lab experiment</c> runs a scenario, declared by the scenario itself (<see cref="Scenario.Experiment"/>): the
/// load that exposes it, its fault and cure settings, the figures that show its signature, and the steady state the
/// experiment hypothesises (what should hold at baseline and with the cure, and deviate under the fault).
/// </summary>
/// <param name="Scenario">The scenario's name.</param>
/// <param name="Figures">The signature figures every phase reports, in order.</param>
/// <param name="SteadyState">The hypothesis: the probes each phase is judged by.</param>
public sealed record ExperimentSpec(string Scenario, IReadOnlyList<SignatureFigure> Figures, IReadOnlyList<SteadyStateProbe> SteadyState)
{
    private static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();

    /// <summary>A journey mix ("checkout=70,browse=30") or a preset name.</summary>
    public string Mix { get; init; } = "default";

    /// <summary>Journeys per second that expose the scenario, when the runner's default is too little; --rate overrides it.</summary>
    public double? Rate { get; init; }

    /// <summary>Parameters of the fault phase (the scenario's defaults fill the rest).</summary>
    public IReadOnlyDictionary<string, string> Fault { get; init; } = None;

    /// <summary>The target of the fault and cure phases (e.g. service=silo-1); empty = wherever the scenario acts.</summary>
    public IReadOnlyDictionary<string, string> Target { get; init; } = None;

    /// <summary>Parameters added for the cure phase; null when the scenario has no cure.</summary>
    public IReadOnlyDictionary<string, string>? Cure { get; init; }

    /// <summary>Lab settings the experiment needs (e.g. a shorter grain response timeout), as environment variables.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = None;

    /// <summary>Extra wait after a phase before it is measured, for effects that arrive late (a delayed event).</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.Zero;

    /// <summary>The parameters that switch a scenario's cure on.</summary>
    public static IReadOnlyDictionary<string, string> CureOn { get; } = new Dictionary<string, string> { ["cure"] = "true" };

    /// <summary>
    /// What any scenario gets unless it declares more: its injections per request as the figure (the verdict counts them
    /// too, as the proof that it acted), next to the latency and errors every report shows, and the steady state <c>p99&lt;500ms, errors&lt;1%</c>. A scenario with a
    /// "cure" parameter gets a cure phase.
    /// </summary>
    public static ExperimentSpec Default(Scenario scenario)
    {
        var name = scenario.Meta.Name;
        return new ExperimentSpec(name, [SignatureFigure.InjectionsPerRequest(name)],
            [SteadyStateProbe.P99Below(TimeSpan.FromMilliseconds(500)), SteadyStateProbe.ErrorsBelow(0.01)])
        {
            Cure = scenario.Meta.FindParameter("cure") is not null ? CureOn : null,
        };
    }
}

/// <summary>A figure that shows a scenario's signature, computed from one phase's measurements.</summary>
/// <param name="Source">Where it comes from (metric and filter), so a reader can check it.</param>
/// <param name="LowerIsBetter">True when the cure should bring the figure down.</param>
public sealed record SignatureFigure(string Name, string Unit, string Source, Func<PhaseMeasurements, double?> Measure, bool LowerIsBetter = true)
{
    /// <summary>The share of requests that failed, as the load client saw them.</summary>
    public static SignatureFigure ErrorShare { get; } = new("errors", "%", "failed requests / all requests (load client)",
        m => m.Load.Requests > 0 ? 100.0 * m.Load.Errors / m.Load.Requests : null);

    /// <summary>Injections and seam regressions of <paramref name="scenario"/> per request the load client completed.</summary>
    public static SignatureFigure InjectionsPerRequest(string scenario) => new("injections per request", "",
        $"({LabMetricNames.Injections} + {LabMetricNames.SeamRegressions}){{scenario={scenario}}} / requests the load client completed",
        m => Ratio(m.Injections(scenario), m.Load.Requests));

    /// <summary><paramref name="numerator"/> / <paramref name="denominator"/>, or null with nothing to divide by.</summary>
    public static double? Ratio(double numerator, double denominator) => denominator > 0 ? numerator / denominator : null;

    /// <summary>100 × <paramref name="part"/> / <paramref name="whole"/>, or null with nothing to divide by.</summary>
    public static double? Percent(double part, double whole) => whole > 0 ? 100 * part / whole : null;
}

/// <summary>What the load client measured in one phase.</summary>
public sealed record LoadFigures(long Requests, long Errors, double? P99Ms, double? P50Ms = null)
{
    /// <summary>Failed journeys by name, as the load client judged them (a bad answer or a check of the journey's own).</summary>
    public IReadOnlyDictionary<string, long> FailedJourneys { get; init; } = new Dictionary<string, long>();

    /// <summary>How often the journey failed in the phase (0 when it never did, or never ran).</summary>
    public long Failed(string journey) => FailedJourneys.GetValueOrDefault(journey);
}

/// <summary>What one phase measured: every process's metrics before and after it, and the load client's figures.</summary>
public sealed record PhaseMeasurements(LabMetrics Before, LabMetrics After, LoadFigures Load)
{
    /// <summary>Invariant violations `lab verify` found after the phase and not before it; null when it could not read the databases.</summary>
    public int? NewViolations { get; init; }

    /// <summary>
    /// How much a counter grew during the phase, summed over the services whose name starts with the prefix ("" = all). A
    /// process restarted during the phase counts from zero (its counters began again); one that did not answer either
    /// scrape is left out (the experiment warns of both).
    /// </summary>
    public double Delta(string servicePrefix, string metric, params (string Key, string Value)[] labels) =>
        After.ByService.Where(s => s.Key.StartsWith(servicePrefix, StringComparison.Ordinal) && Before.ByService.ContainsKey(s.Key))
            .Sum(s => s.Value.Sum(metric, labels) - (Restarted.Contains(s.Key) ? 0 : Before.ByService[s.Key].Sum(metric, labels)));

    /// <summary>The services whose process was restarted during the phase (its start time changed between the scrapes).</summary>
    public IReadOnlyList<string> Restarted => field ??= After.RestartedSince(Before);

    /// <summary>Requests the service answered on one route (all status codes unless one is given).</summary>
    public double Requests(string service, string method, string route, string? status = null) =>
        status is null
            ? Delta(service, LabMetricNames.HttpRequests, ("http_request_method", method), ("http_route", route))
            : Delta(service, LabMetricNames.HttpRequests, ("http_request_method", method), ("http_route", route), ("http_response_status_code", status));

    /// <summary>Mean duration in milliseconds of the requests the service answered on one route, or null without any.</summary>
    public double? MeanMs(string service, string method, string route) =>
        SignatureFigure.Ratio(
            1000 * Delta(service, "http_server_request_duration_seconds_sum", ("http_request_method", method), ("http_route", route)),
            Delta(service, LabMetricNames.HttpRequests, ("http_request_method", method), ("http_route", route)));

    /// <summary>Mean in milliseconds of a histogram measured in seconds (its _sum over its _count), or null without samples.</summary>
    public double? MeanMs(string servicePrefix, string histogram) =>
        SignatureFigure.Ratio(1000 * Delta(servicePrefix, histogram + "_sum"), Delta(servicePrefix, histogram + "_count"));

    /// <summary>Injections plus seam regressions of the scenario during the phase, in every process.</summary>
    public double Injections(string scenario) =>
        Delta("", LabMetricNames.Injections, ("scenario", scenario)) + Delta("", LabMetricNames.SeamRegressions, ("scenario", scenario));
}

/// <summary>The Prometheus names of the metrics experiments read.</summary>
public static class LabMetricNames
{
    public const string HttpRequests = "http_server_request_duration_seconds_count";
    public const string Injections = "lab_scenario_injections_total";
    public const string SeamRegressions = "lab_scenario_seam_regressions_total";
    public const string DbCalls = "lab_db_calls_total";
    public const string ProcessStartTime = "lab_process_start_time_seconds";
}

/// <summary>One probe of an experiment's steady state, judged for a phase against the baseline phase.</summary>
/// <param name="Expression">How the probe reads, e.g. "p99&lt;500ms" or "amplification at baseline".</param>
public sealed record SteadyStateProbe(string Expression, Func<PhaseMeasurements, PhaseMeasurements?, ProbeResult> Check)
{
    public static SteadyStateProbe P99Below(TimeSpan limit)
    {
        var expression = $"p99<{limit.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
        return new(expression, (phase, _) =>
            new ProbeResult(expression, phase.Load.P99Ms, limit.TotalMilliseconds, phase.Load.P99Ms is not { } p99 || p99 < limit.TotalMilliseconds));
    }

    public static SteadyStateProbe ErrorsBelow(double share)
    {
        var expression = $"errors<{(share * 100).ToString("0.##", CultureInfo.InvariantCulture)}%";
        return new(expression, (phase, _) =>
        {
            var errors = SignatureFigure.ErrorShare.Measure(phase);
            return new ProbeResult(expression, errors, share * 100, errors is not { } e || e < share * 100);
        });
    }

    /// <summary>The figure stays below <paramref name="limit"/>, in its own unit. Held when it cannot be computed.</summary>
    public static SteadyStateProbe Below(SignatureFigure figure, double limit)
    {
        var expression = $"{figure.Name}<{limit.ToString(CultureInfo.InvariantCulture)}{figure.Unit}";
        return new(expression, (phase, _) => new ProbeResult(expression, figure.Measure(phase), limit, figure.Measure(phase) is not { } v || v < limit));
    }

    /// <summary>No invariant violation appeared during the phase (lost updates, stock that does not add up, charges without orders).</summary>
    public static SteadyStateProbe NoNewViolations()
    {
        const string expression = "no new invariant violations";
        return new(expression, (phase, _) => new ProbeResult(expression, phase.NewViolations, 0, phase.NewViolations is not > 0));
    }

    /// <summary>
    /// The figure stays within <paramref name="tolerance"/> (a share) of its baseline value, plus <paramref name="slack"/>
    /// in its own unit (so that a baseline of 0 allows a little noise). Held when it cannot be computed.
    /// </summary>
    public static SteadyStateProbe AtBaseline(SignatureFigure figure, double tolerance = 0.5, double slack = 1)
    {
        var expression = $"{figure.Name} at baseline";
        return new(expression, (phase, baseline) =>
        {
            var value = figure.Measure(phase);
            var reference = baseline is null ? null : figure.Measure(baseline);
            if (value is not { } v || reference is not { } b)
            {
                return new ProbeResult(expression, value, double.NaN, true);
            }

            var limit = figure.LowerIsBetter ? (b * (1 + tolerance)) + slack : (b * (1 - tolerance)) - slack;
            return new ProbeResult(expression, v, limit, figure.LowerIsBetter ? v <= limit : v >= limit);
        });
    }
}

/// <summary>A probe's value in one phase, the limit it was held to, and whether it held.</summary>
public sealed record ProbeResult(string Probe, double? Value, double Limit, bool Held);
