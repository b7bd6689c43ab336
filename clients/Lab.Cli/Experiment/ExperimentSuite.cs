using System.Globalization;
using System.Text;
using System.Text.Json;
using Lab.Cli.Launch;
using Lab.Load;
using Lab.Load.Reporting;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Spectre.Console;

namespace Lab.Cli.Experiment;

/// <summary>One scenario's experiment as <c>lab experiment --all</c> sums it up: each phase's verdict, and what went wrong.</summary>
/// <param name="Verdicts">Phase name to its steady-state outcome (held, deviated, no effect).</param>
/// <param name="NewViolations">Invariant violations the phases left (a fault may leave some on purpose).</param>
/// <param name="CureViolations">Those the fault+cure phase left: a cure that breaks an invariant fails the run.</param>
/// <param name="AsHypothesised">Baseline held, the fault deviated, and the cure (where there is one) held.</param>
/// <param name="Error">Why the experiment could not run; null when it ran.</param>
/// <param name="Report">The directory of its full report.</param>
public sealed record SuiteEntry(
    string Scenario,
    IReadOnlyDictionary<string, string> Verdicts,
    IReadOnlyList<string> Deviations,
    int NewViolations,
    int CureViolations,
    bool AsHypothesised,
    double Seconds,
    string? Error,
    string? Report);

/// <summary>The summary of <c>lab experiment --all</c>, written as summary.json and summary.md beside the reports.</summary>
public sealed record SuiteReport(DateTimeOffset StartedAt, double PhaseSeconds, double Seconds, IReadOnlyList<SuiteEntry> Scenarios)
{
    public int Ran => Scenarios.Count(s => s.Error is null);

    public int AsHypothesised => Scenarios.Count(s => s.AsHypothesised);

    /// <summary>Experiments that could not run, or whose cure broke an invariant.</summary>
    public int Failed => Scenarios.Count(s => s.Error is not null || s.CureViolations > 0);
}

/// <summary>
/// <c>lab experiment --all</c>: every scenario's experiment in turn, with short phases, on as few labs as their settings allow
/// (one per distinct set of lab settings the experiments ask for), and one summary of the verdicts: the lab's outer loop.
/// </summary>
public static class ExperimentSuite
{
    public const string Json = "summary.json";
    public const string Markdown = "summary.md";

    /// <summary>The catalog's scenarios grouped by the lab settings their experiments need, the default lab's first.</summary>
    public static IReadOnlyList<(IReadOnlyDictionary<string, string> Settings, IReadOnlyList<string> Scenarios)> Plan(IEnumerable<string>? only = null)
    {
        var registry = ScenarioCatalog.CreateRegistry();
        var names = only?.ToHashSet(StringComparer.Ordinal);
        return registry.All
            .Where(s => names is null || names.Contains(s.Meta.Name))
            .OrderBy(s => s.Meta.Category, StringComparer.Ordinal).ThenBy(s => s.Meta.Name, StringComparer.Ordinal)
            .GroupBy(s => string.Join(";", s.Experiment.Settings.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")))
            .OrderBy(g => g.Key.Length)
            .Select(g => ((IReadOnlyDictionary<string, string>)g.First().Experiment.Settings, (IReadOnlyList<string>)[.. g.Select(s => s.Meta.Name)]))
            .ToList();
    }

    public static async Task<int> RunAsync(LabTopology topology, ExperimentOptions template, string directory, bool json, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var entries = new List<SuiteEntry>();
        var plan = Plan();
        var total = plan.Sum(g => g.Scenarios.Count);
        Directory.CreateDirectory(directory);
        foreach (var (settings, scenarios) in plan)
        {
            var lab = ExperimentCommand.WithSettings(topology, settings);
            var exitCode = await LabSession.RunAsync(lab, async (running, token) =>
            {
                foreach (var scenario in scenarios)
                {
                    entries.Add(await RunOneAsync(running, template with { Scenario = scenario }, directory, $"{entries.Count + 1}/{total}", token));
                }

                return 0;
            }, waitForStop: false, cancellationToken);
            if (exitCode is 130)
            {
                return 130;
            }

            // A lab that could not start leaves its scenarios unrun: say so rather than skip them.
            foreach (var scenario in scenarios.Where(s => entries.All(e => e.Scenario != s)))
            {
                entries.Add(new SuiteEntry(scenario, new Dictionary<string, string>(), [], 0, 0, false, 0, $"the lab for its settings did not start (exit code {exitCode})", null));
            }
        }

        var report = new SuiteReport(started, template.Phase.TotalSeconds, clock.Elapsed.TotalSeconds, entries);
        await File.WriteAllTextAsync(Path.Combine(directory, Json), JsonSerializer.Serialize(report, JsonReportWriter.Options), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, Markdown), WriteMarkdown(report), cancellationToken);
        if (json)
        {
            JsonOutput.Document(JsonSerializer.Serialize(report, JsonReportWriter.Options));
        }

        WriteConsole(report, AnsiConsole.Console);
        AnsiConsole.MarkupLineInterpolated($"summary: {Path.Combine(directory, Markdown)} (and {Json}; one report per scenario beside them)");
        return report.Failed > 0 ? 1 : 0;
    }

    private static async Task<SuiteEntry> RunOneAsync(RunningLab lab, ExperimentOptions options, string directory, string progress, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        AnsiConsole.MarkupLineInterpolated($"[bold]{progress} {options.Scenario}[/]");
        try
        {
            var report = await ExperimentRunner.RunAsync(options, ExperimentCommand.LabOf(lab), _ => { }, cancellationToken);
            var reportDirectory = Path.Combine(directory, options.Scenario);
            await ExperimentReportWriter.WriteAllAsync(report, reportDirectory, cancellationToken);
            var entry = Summarise(report, clock.Elapsed.TotalSeconds, reportDirectory);
            AnsiConsole.MarkupLineInterpolated($"  {string.Join(" → ", entry.Verdicts.Select(v => $"{v.Key} {v.Value}"))}{(entry.AsHypothesised ? "" : " [yellow](not as hypothesised)[/]")}");
            return entry;
        }
        catch (Exception ex) when (ex is ExperimentException or LoadException or HttpRequestException or IOException)
        {
            AnsiConsole.MarkupLineInterpolated($"  [red]error:[/] {ex.Message}");
            return new SuiteEntry(options.Scenario, new Dictionary<string, string>(), [], 0, 0, false, clock.Elapsed.TotalSeconds, ex.Message, null);
        }
    }

    public static SuiteEntry Summarise(ExperimentReport report, double seconds, string? directory)
    {
        var verdicts = report.Phases.Where(p => p.Verdict is not null).ToDictionary(p => p.Name, p => p.Verdict!.Outcome);
        var deviations = report.Phases.Where(p => p.Verdict is not null)
            .SelectMany(p => p.Verdict!.Deviations.Select(d => $"{p.Name}: {d}")).ToList();
        var asHypothesised = verdicts.GetValueOrDefault("baseline") == PhaseVerdict.Held
                             && verdicts.GetValueOrDefault("fault") == PhaseVerdict.Deviated
                             && verdicts.GetValueOrDefault("fault+cure", PhaseVerdict.Held) == PhaseVerdict.Held;
        return new SuiteEntry(report.Scenario, verdicts, deviations, report.Phases.Sum(p => p.NewViolations.Count),
            report.Phase("fault+cure")?.NewViolations.Count ?? 0, asHypothesised, seconds, null, directory);
    }

    public static void WriteConsole(SuiteReport report, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]lab experiment --all[/] ([grey]{report.Scenarios.Count} scenarios, {report.PhaseSeconds:0.#} s per phase, {report.Seconds / 60:0.0} min[/])");
        foreach (var column in new[] { "scenario", "baseline", "fault", "fault+cure", "new violations", "as hypothesised" })
        {
            table.AddColumn(column);
        }

        foreach (var entry in report.Scenarios)
        {
            table.AddRow(
                Markup.Escape(entry.Scenario),
                Markup.Escape(entry.Verdicts.GetValueOrDefault("baseline") ?? "-"),
                Markup.Escape(entry.Error is null ? entry.Verdicts.GetValueOrDefault("fault") ?? "-" : $"error: {entry.Error}"),
                Markup.Escape(entry.Verdicts.GetValueOrDefault("fault+cure") ?? "-"),
                entry.NewViolations.ToString(CultureInfo.InvariantCulture),
                entry.AsHypothesised ? "yes" : "[yellow]no[/]");
        }

        console.Write(table);
        console.MarkupLineInterpolated($"{report.Ran} of {report.Scenarios.Count} ran; {report.AsHypothesised} as hypothesised (baseline held, fault deviated, cure held)");
    }

    public static string WriteMarkdown(SuiteReport report)
    {
        var md = new StringBuilder();
        md.AppendLine("# lab experiment --all");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"{report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC · {report.Scenarios.Count} scenarios · {report.PhaseSeconds:0.#} s per phase · {report.Seconds / 60:0.0} min · " +
            $"{report.Ran} ran, {report.AsHypothesised} as hypothesised (baseline held, fault deviated, cure held)");
        md.AppendLine();
        md.AppendLine("| scenario | baseline | fault | fault+cure | new violations | as hypothesised | deviations |");
        md.AppendLine("|---|---|---|---|---:|---|---|");
        foreach (var entry in report.Scenarios)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {(entry.Report is null ? entry.Scenario : $"[{entry.Scenario}]({entry.Scenario}/{ExperimentReportWriter.Markdown})")} | {entry.Verdicts.GetValueOrDefault("baseline") ?? "-"} | " +
                $"{(entry.Error is null ? entry.Verdicts.GetValueOrDefault("fault") ?? "-" : $"error: {entry.Error.Replace("|", "\\|", StringComparison.Ordinal)}")} | " +
                $"{entry.Verdicts.GetValueOrDefault("fault+cure") ?? "-"} | {entry.NewViolations} | {(entry.AsHypothesised ? "yes" : "no")} | " +
                $"{string.Join("; ", entry.Deviations).Replace("|", "\\|", StringComparison.Ordinal)} |");
        }

        return md.ToString();
    }
}
