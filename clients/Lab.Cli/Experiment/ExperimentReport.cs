using System.Text.Json.Serialization;
using Lab.Load.Reporting;

namespace Lab.Cli.Experiment;

/// <summary>
/// The result of one experiment, serialised as experiment.json (schema version 1, camelCase; fields are only ever
/// added within a version). Times are seconds from the start of the experiment, latencies milliseconds, error
/// rates fractions.
/// </summary>
public sealed record ExperimentReport
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public string Tool { get; init; } = "lab-experiment";

    public required string Scenario { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required string Target { get; init; }

    /// <summary>Journeys per second, the same in every phase (open model).</summary>
    public required double Rate { get; init; }

    public required double PhaseSeconds { get; init; }

    public required string Mix { get; init; }

    public required int Seed { get; init; }

    /// <summary>The steady state the experiment hypothesises: each phase is held to these probes (see <see cref="ExperimentPhaseReport.Verdict"/>).</summary>
    public IReadOnlyList<string> Hypothesis { get; init; } = [];

    /// <summary>The signature figures every phase reports, in order.</summary>
    public required IReadOnlyList<FigureReport> Figures { get; init; }

    public required IReadOnlyList<ExperimentPhaseReport> Phases { get; init; }

    public required TraceLinksReport TraceLinks { get; init; }

    public required IReadOnlyList<string> Warnings { get; init; }

    public ExperimentPhaseReport? Phase(string name) => Phases.FirstOrDefault(p => p.Name == name);
}

/// <param name="Source">Where the figure comes from (metric and filter), so a reader can check it.</param>
public sealed record FigureReport(string Name, string Unit, string Source, bool LowerIsBetter);

/// <param name="Parameters">The scenario's parameters in this phase; null = the scenario is off (baseline).</param>
/// <param name="Requests">All requests of the phase, as the load client measured them.</param>
/// <param name="Figures">Signature figure name to value; null when it could not be computed (e.g. nothing to divide by).</param>
/// <param name="TypicalFailures">One failed request per kind of failure (step, status, error kind), with its trace id.</param>
/// <param name="NewViolations">Invariant violations `lab verify` finds after the phase that it did not find before it.</param>
public sealed record ExperimentPhaseReport(
    int Index,
    string Name,
    IReadOnlyDictionary<string, string>? Parameters,
    double StartSeconds,
    double EndSeconds,
    StatsReport Requests,
    ScheduleReport Schedule,
    IReadOnlyList<JourneySummary> Journeys,
    IReadOnlyDictionary<string, double?> Figures,
    IReadOnlyList<RequestRecordReport> TypicalFailures,
    IReadOnlyList<ViolationReport> NewViolations,
    IReadOnlyList<TimePointReport> TimeSeries)
{
    /// <summary>The phase's full load report (written next to the experiment's as phase-N-NAME/).</summary>
    [JsonIgnore]
    public LoadReport? Load { get; init; }

    /// <summary>Whether the steady state held in this phase, which probe deviated, and whether the scenario acted at all.</summary>
    public PhaseVerdict? Verdict { get; init; }
}

/// <param name="Outcome"><see cref="Held"/>, <see cref="Deviated"/>, or <see cref="NoEffect"/> (the fault phase's scenario never acted).</param>
/// <param name="Injections">Injections and seam regressions of the scenario in the phase; null at baseline.</param>
public sealed record PhaseVerdict(string Outcome, IReadOnlyList<ProbeReport> Probes, double? Injections)
{
    public const string Held = "held";
    public const string Deviated = "deviated";
    public const string NoEffect = "no effect";

    /// <summary>The probes that did not hold.</summary>
    public IEnumerable<ProbeReport> Deviations => Probes.Where(p => !p.Held);

    public override string ToString() => Outcome switch
    {
        Deviated => $"deviated: {string.Join(", ", Deviations.Select(d => d.ToString()))}",
        NoEffect => "no effect: the scenario was on and never acted (0 injections)",
        _ => Held,
    };
}

/// <param name="Limit">The bound the value was held to; null when there was nothing to compare with.</param>
public sealed record ProbeReport(string Probe, double? Value, double? Limit, bool Held)
{
    public override string ToString() => $"{Probe} ({(Value is { } v ? v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) : "n/a")}{(Limit is { } l ? $" vs {l.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}" : "")})";
}

public sealed record JourneySummary(string Name, long Count, double ErrorRate, LatencyReport? LatencyMs);

public sealed record ViolationReport(string Invariant, string Id, string Detail);
