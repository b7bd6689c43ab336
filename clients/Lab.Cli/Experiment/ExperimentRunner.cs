using System.Net;
using System.Text.Json;
using Lab.Cli.Launch;
using Lab.Cli.Verify;
using Lab.Load;
using Lab.Load.Cli;
using Lab.Load.Control;
using Lab.Load.Engine;
using Lab.Load.Journeys;
using Lab.Load.Plan;
using Lab.Load.Reporting;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.Scenarios.Cli;

namespace Lab.Cli.Experiment;

/// <summary>What to run: the scenario, the load, the length of each phase, and where the lab is.</summary>
public sealed record ExperimentOptions
{
    public required string Scenario { get; init; }

    /// <summary>Journeys per second in every phase; null = the scenario's own (<see cref="ExperimentSpec.Rate"/>), else <see cref="DefaultRate"/>.</summary>
    public double? Rate { get; init; }

    public const double DefaultRate = 20;

    public TimeSpan Phase { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A mix ("checkout=70,browse=30") or preset; null = the scenario's own.</summary>
    public string? Mix { get; init; }

    /// <summary>Fault parameters that override the experiment's defaults.</summary>
    public IReadOnlyDictionary<string, string> Set { get; init; } = new Dictionary<string, string>();

    /// <summary>Run the fault+cure phase when the scenario has a cure switch.</summary>
    public bool WithCure { get; init; } = true;

    public int Seed { get; init; } = 1;

    /// <summary>Load run before the baseline and discarded (JIT, connections, caches).</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>Where the lab's processes answer: the storefront (shop and control API) and every process's /metrics.</summary>
/// <param name="DataDirectory">The lab's data directory (data/shop.db, data/payments.db), for the invariant checks.</param>
/// <param name="Keys">The SKUs and customers the lab was seeded with, which the journeys draw from.</param>
/// <param name="Postgres">The shop's PostgreSQL connection string when the lab runs on PostgreSQL, else null (SQLite files).</param>
public sealed record ExperimentLab(Uri Storefront, IReadOnlyDictionary<string, Uri> Services, string ControlToken, string DataDirectory, string? AspireUrl,
    WorkloadKeys Keys, string? Postgres = null);

/// <summary>Thrown for a scenario the lab does not know, or a control call that fails.</summary>
public sealed class ExperimentException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Runs baseline, fault and fault+cure phases one after another under the same open-model load, and measures each
/// from the load client's report and from the lab's own metrics scraped at the phase's start and end.
/// </summary>
public static class ExperimentRunner
{
    /// <summary>Orders untouched this long after a phase's load has drained count as stuck.</summary>
    private static readonly TimeSpan StuckAfter = TimeSpan.FromSeconds(2);

    private const string CurePhase = "fault+cure";

    private static readonly Lazy<ScenarioRegistry> Catalog = new(ScenarioCatalog.CreateRegistry);

    /// <summary>How the catalog says to run <paramref name="scenario"/>, or an error naming the scenarios it knows.</summary>
    public static ExperimentSpec SpecOf(string scenario) =>
        Catalog.Value.Find(scenario)?.Experiment
        ?? throw new ExperimentException($"Unknown scenario '{scenario}'. `lab scenario list` shows the catalog: {string.Join(", ", Catalog.Value.All.Select(s => s.Meta.Name))}.");

    public static async Task<ExperimentReport> RunAsync(ExperimentOptions options, ExperimentLab lab, Action<string> status,
        CancellationToken cancellationToken)
    {
        // Scrapes and applied-version reads bound themselves (a starved or frozen process may take their whole bound); the
        // client's timeout bounds the control API's calls, which a starved storefront answers late but answers.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null })
        {
            BaseAddress = lab.Storefront, Timeout = TimeSpan.FromMinutes(2),
        };
        var api = new LabApiClient(http, lab.ControlToken, "lab-experiment");

        var parameters = await ReadParameterNamesAsync(api, options.Scenario, cancellationToken);
        var unknown = options.Set.Keys.Where(key => !parameters.Contains(key)).ToList();
        if (unknown.Count > 0)
        {
            throw new ExperimentException($"Unknown parameter(s) of {options.Scenario}: {string.Join(", ", unknown)}. Parameters: {string.Join(", ", parameters)}.");
        }

        var definition = SpecOf(options.Scenario);
        options = options with { Rate = options.Rate ?? definition.Rate ?? ExperimentOptions.DefaultRate };
        var mix = ParseMix(options.Mix ?? definition.Mix);
        var fault = new Dictionary<string, string>(definition.Fault);
        foreach (var (key, value) in options.Set)
        {
            fault[key] = value;
        }

        var phases = new List<(string Name, IReadOnlyDictionary<string, string>? Parameters)> { ("baseline", null), ("fault", fault) };
        if (options.WithCure && definition.Cure is not null)
        {
            phases.Add((CurePhase, new Dictionary<string, string>(fault.Concat(definition.Cure.Where(c => !options.Set.ContainsKey(c.Key))))));
        }

        var started = DateTimeOffset.UtcNow;
        var results = new List<ExperimentPhaseReport>();
        var warnings = new List<string>();
        await SwitchAsync(api, http, lab, options.Scenario, null, options, warnings, cancellationToken);
        if (options.WarmUp > TimeSpan.Zero)
        {
            status("warming up");
            await LoadRunner.RunAsync(PlanOf(options, lab, mix, options.WarmUp, options.Seed - 1), cancellationToken: cancellationToken);
        }

        try
        {
            // Each phase's window starts where the previous one ended, so work that lands between phases (the switch,
            // a background refund or recovery) is counted in one of them rather than in none.
            var before = await LabMetrics.ScrapeAsync(lab.Services, http, cancellationToken);
            warnings.AddRange(before.Missing.Select(service => $"{service}'s /metrics did not answer before the first phase; its counters are left out of it"));
            var violationsBefore = Verify(lab, warnings);
            PhaseMeasurements? baseline = null;
            for (var index = 0; index < phases.Count; index++)
            {
                var (name, phaseParameters) = phases[index];
                status($"phase {index + 1}/{phases.Count}: {name}");
                await SwitchAsync(api, http, lab, options.Scenario, phaseParameters, options, warnings, cancellationToken, definition.Target);
                var startSeconds = (DateTimeOffset.UtcNow - started).TotalSeconds;
                var plan = PlanOf(options, lab, mix, options.Phase, options.Seed + index);
                using var control = new HttpScenarioControl(lab.Storefront, lab.ControlToken);
                var load = await LoadRunner.RunAsync(plan, new LoadRunOptions { ScenarioControl = control },
                    new Progress<LoadProgress>(p => status($"phase {index + 1}/{phases.Count}: {name} · {LiveProgressView.Line(p)}")), cancellationToken);
                // Let the last responses reach the exporters' counters, and give a stuck order time to count as stuck.
                await Task.Delay(StuckAfter + TimeSpan.FromSeconds(1) + definition.Settle, cancellationToken);
                var after = await LabMetrics.ScrapeAsync(lab.Services, http, cancellationToken);
                var violationsAfter = Verify(lab, warnings);
                var newViolations = NewViolations(violationsBefore, violationsAfter);
                var measurements = new PhaseMeasurements(before, after, FiguresOf(load)) { NewViolations = violationsAfter is null ? null : newViolations.Count };
                warnings.AddRange(ProcessWarnings(name, measurements));
                baseline ??= measurements;
                results.Add(PhaseReportOf(index, name, phaseParameters, startSeconds, (DateTimeOffset.UtcNow - started).TotalSeconds,
                    definition, measurements, baseline, load, newViolations));
                warnings.AddRange(load.Warnings.Select(w => $"{name}: {w}"));
                (before, violationsBefore) = (after, violationsAfter);
            }
        }
        finally
        {
            await SwitchAsync(api, http, lab, options.Scenario, null, options, warnings, CancellationToken.None);
        }

        return new ExperimentReport
        {
            Scenario = options.Scenario,
            StartedAt = started,
            Target = lab.Storefront.ToString(),
            Rate = options.Rate ?? ExperimentOptions.DefaultRate,
            PhaseSeconds = options.Phase.TotalSeconds,
            Mix = mix.ToString(),
            Seed = options.Seed,
            Figures = [.. definition.Figures.Select(f => new FigureReport(f.Name, f.Unit, f.Source, f.LowerIsBetter))],
            Hypothesis = [.. definition.SteadyState.Select(p => p.Expression)],
            Phases = results,
            TraceLinks = TraceLinksReport.For(lab.AspireUrl, null),
            Warnings = warnings,
        };
    }

    /// <summary>What the phase's figures leave out or count differently: processes that did not answer, or were restarted.</summary>
    private static IEnumerable<string> ProcessWarnings(string phase, PhaseMeasurements measurements)
    {
        // A process missing from the scrape before the phase was reported with the phase before (or at the start).
        foreach (var service in measurements.After.Missing)
        {
            yield return $"{phase}: {service}'s /metrics did not answer within {LabMetrics.UnansweredBound.TotalSeconds:0} s (frozen, or being " +
                         "restarted); its counters are left out of this phase's figures";
        }

        foreach (var service in measurements.Restarted)
        {
            yield return $"{phase}: {service} was restarted during the phase; its counters count from its restart";
        }
    }

    private static LoadPlan PlanOf(ExperimentOptions options, ExperimentLab lab, JourneyMix mix, TimeSpan duration, int seed) => new()
    {
        Target = lab.Storefront,
        Model = OpenModel.Constant(options.Rate ?? ExperimentOptions.DefaultRate),
        Duration = duration,
        Mix = mix,
        Seed = seed,
        Keys = lab.Keys,
        ControlToken = lab.ControlToken,
        AspireUrl = lab.AspireUrl,
        JaegerUrl = null,
        ResetScenariosAtEnd = false,
        DrainTimeout = TimeSpan.FromSeconds(15),
    };

    private static LoadFigures FiguresOf(LoadReport load) =>
        new(load.Requests.Count, load.Requests.Errors, load.Requests.LatencyMs?.P99, load.Requests.LatencyMs?.P50)
        {
            FailedJourneys = load.Journeys.ToDictionary(j => j.Name, j => j.Journey.Errors),
        };

    /// <summary>
    /// Held or deviated: every probe of the steady state against the baseline. A phase with the scenario on also counts its
    /// injections and seam regressions; the fault phase with none is "no effect", so a scenario that does nothing says so
    /// (with the cure there may rightly be none left: n-plus-one-query's cure restores the one seam it regresses).
    /// </summary>
    internal static PhaseVerdict Judge(ExperimentSpec spec, bool faultOn, bool cured, PhaseMeasurements phase, PhaseMeasurements baseline)
    {
        var probes = spec.SteadyState.Select(p => p.Check(phase, ReferenceEquals(phase, baseline) ? null : baseline)).ToList();
        if (phase.Load.Requests == 0)
        {
            // Not one answer in the phase (every journey still waiting at its end): the probes above have nothing to judge.
            probes.Add(new ProbeResult("requests answered>0", 0, 0, false));
        }
        double? injections = faultOn ? phase.Injections(spec.Scenario) : null;
        var outcome = faultOn && !cured && injections <= 0
            ? PhaseVerdict.NoEffect
            : probes.All(p => p.Held) ? PhaseVerdict.Held : PhaseVerdict.Deviated;
        return new PhaseVerdict(outcome, probes.Select(p => new ProbeReport(p.Probe, Round(p.Value), double.IsFinite(p.Limit) ? Round(p.Limit) : null, p.Held)).ToList(),
            injections);
    }

    private static ExperimentPhaseReport PhaseReportOf(int index, string name, IReadOnlyDictionary<string, string>? parameters,
        double startSeconds, double endSeconds, ExperimentSpec definition, PhaseMeasurements measurements, PhaseMeasurements baseline,
        LoadReport phaseLoad, IReadOnlyList<Violation> newViolations)
    {
        var load = phaseLoad;
        var failures = load.Failures
            .GroupBy(f => (f.Step, f.Status, f.ErrorKind))
            .Select(g => g.First())
            .Take(5)
            .ToList();
        return new ExperimentPhaseReport(
            index + 1,
            name,
            parameters,
            startSeconds,
            endSeconds,
            load.Requests,
            load.Schedule,
            load.Journeys.Select(j => new JourneySummary(j.Name, j.Journey.Count, j.Journey.ErrorRate, j.Journey.LatencyMs)).ToList(),
            definition.Figures.ToDictionary(f => f.Name, f => Round(f.Measure(measurements))),
            failures,
            newViolations.Select(v => new ViolationReport(v.Invariant, v.Id, v.Detail)).ToList(),
            load.TimeSeries.Select(p => p with { Second = p.Second + startSeconds }).ToList())
        {
            Load = load,
            Verdict = Judge(definition, parameters is not null, cured: name == CurePhase, measurements, baseline),
        };
    }

    private static double? Round(double? value) => value is { } v && double.IsFinite(v) ? Math.Round(v, 3) : null;

    private static IReadOnlyList<Violation> NewViolations(IReadOnlyList<Violation>? before, IReadOnlyList<Violation>? after)
    {
        if (after is null)
        {
            return [];
        }

        var known = (before ?? []).Select(v => (v.Invariant, v.Id)).ToHashSet();
        return after.Where(v => !known.Contains((v.Invariant, v.Id))).ToList();
    }

    private static IReadOnlyList<Violation>? Verify(ExperimentLab lab, List<string> warnings)
    {
        try
        {
            var data = Path.Combine(lab.DataDirectory, "data");
            return lab.Postgres is { } shop
                ? ShopVerifier.VerifyPostgres(shop, LabPostgres.PaymentsConnectionString(shop), StuckAfter, DateTimeOffset.UtcNow)
                : ShopVerifier.Verify(Path.Combine(data, "shop.db"), Path.Combine(data, "payments.db"), StuckAfter, DateTimeOffset.UtcNow);
        }
        catch (VerifyDatabaseException ex)
        {
            warnings.Add($"invariants not checked: {ex.Message}");
            return null;
        }
    }

    private static JourneyMix ParseMix(string text) =>
        text.Contains('=', StringComparison.Ordinal) ? JourneyMix.Parse(text, JourneyCatalog.Shop.Names) : JourneyMix.Preset(text);

    private static async Task<HashSet<string>> ReadParameterNamesAsync(LabApiClient api, string scenario, CancellationToken cancellationToken)
    {
        ScenarioStatus status;
        try
        {
            status = (await ControlAsync(api, $"read {scenario}", a => a.GetAsync(scenario, cancellationToken)))!;
        }
        catch (ExperimentException ex) when (ex.InnerException is LabApiException { Status: (int)HttpStatusCode.NotFound })
        {
            throw new ExperimentException($"Unknown scenario '{scenario}'. `lab scenario list` shows the catalog.", ex);
        }

        return status.Meta.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Enables the scenario with <paramref name="parameters"/> (or disables it when null) and waits until every process applies it.</summary>
    private static async Task SwitchAsync(LabApiClient api, HttpClient http, ExperimentLab lab, string scenario, IReadOnlyDictionary<string, string>? parameters,
        ExperimentOptions options, List<string> warnings, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? target = null)
    {
        var ttl = LoadSyntax.FormatDuration(options.Phase * 3 + TimeSpan.FromMinutes(5));
        var result = parameters is null
            ? await ControlAsync(api, $"disable {scenario}", a => a.DisableAsync(scenario, cancellationToken), notActiveIsFine: true)
            : await ControlAsync(api, $"enable {scenario}", a => a.EnableAsync(scenario, parameters, target is { Count: > 0 } ? target : null, ttl, options.Seed, cancellationToken));
        if (result is not null)
        {
            await WaitAppliedAsync(http, lab, result.Version, warnings, cancellationToken);
        }
    }

    /// <summary>One control API call, its failures as <see cref="ExperimentException"/>; null when disabling what was not active.</summary>
    private static async Task<T?> ControlAsync<T>(LabApiClient api, string what, Func<LabApiClient, Task<T>> call, bool notActiveIsFine = false)
        where T : class
    {
        try
        {
            return await call(api);
        }
        catch (LabApiException ex) when (notActiveIsFine && ex.Status == (int)HttpStatusCode.Conflict)
        {
            return null;
        }
        catch (LabApiException ex)
        {
            var errors = string.Join("; ", ex.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));
            throw new ExperimentException($"{what}: {ex.Status} {ex.Title}: {ex.Detail} {errors}".TrimEnd(), ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException { InnerException: TimeoutException })
        {
            throw new ExperimentException($"The lab's control API is unreachable: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Waits until every process reports <paramref name="version"/> applied. A process that does not answer (frozen, or being
    /// restarted: it applies the current set before it serves again) or does not apply it in time (a process fault may keep
    /// its control plane away) is named in the warnings, and the experiment goes on.
    /// </summary>
    private static async Task WaitAppliedAsync(HttpClient http, ExperimentLab lab, long version, List<string> warnings, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + LabMetrics.UnansweredBound;
        foreach (var (service, url) in lab.Services)
        {
            while (true)
            {
                if (await LabMetrics.GetUntilAnsweredAsync(http, new Uri(url, RuntimeStatus.Path), deadline, cancellationToken) is not { } text)
                {
                    warnings.Add($"{service} did not answer while scenario set version {version} was applied (frozen or restarting); " +
                                 "it applies the current set when it is back");
                    break;
                }

                using var document = JsonDocument.Parse(text);
                if (document.RootElement.GetProperty("version").GetInt64() >= version)
                {
                    break;
                }

                if (DateTimeOffset.UtcNow > deadline)
                {
                    warnings.Add($"{service} had not applied scenario set version {version} after {LabMetrics.UnansweredBound.TotalSeconds:0} s; " +
                                 "its part of the phase may not reflect the switch");
                    break;
                }

                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
