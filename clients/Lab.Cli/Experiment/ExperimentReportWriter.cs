using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Lab.Load.Reporting;
using ScottPlot;
using Spectre.Console;

namespace Lab.Cli.Experiment;

/// <summary>The experiment's report as console tables, experiment.json, experiment.md and a self-contained experiment.html.</summary>
public static class ExperimentReportWriter
{
    public const string Json = "experiment.json";
    public const string Markdown = "experiment.md";
    public const string Html = "experiment.html";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The side-by-side table: one row per figure, one column per phase.</summary>
    public static IReadOnlyList<(string Label, IReadOnlyList<string> Cells)> Rows(ExperimentReport report)
    {
        var rows = new List<(string, IReadOnlyList<string>)>();
        void Row(string label, Func<ExperimentPhaseReport, string> cell) => rows.Add((label, report.Phases.Select(cell).ToList()));

        Row("scenario", p => p.Parameters is null ? "off" : p.Parameters.Count == 0 ? "on (defaults)" : string.Join(", ", p.Parameters.Select(kv => $"{kv.Key}={kv.Value}")));
        Row("requests", p => ReportFormat.Count(p.Requests.Count));
        Row("throughput (req/s)", p => ReportFormat.Rate(p.Requests.Rate));
        Row("error rate", p => ReportFormat.Percent(p.Requests.ErrorRate));
        Row("errors", p => ReportFormat.Errors(p.Requests));
        Row("p50 (ms)", p => ReportFormat.Ms(p.Requests.LatencyMs?.P50));
        Row("p99 (ms)", p => ReportFormat.Ms(p.Requests.LatencyMs?.P99));
        Row("max (ms)", p => ReportFormat.Ms(p.Requests.LatencyMs?.Max));
        foreach (var figure in report.Figures)
        {
            Row(figure.Unit is "" or "×" or "%" ? figure.Name : $"{figure.Name} ({figure.Unit})",
                p => p.Figures.GetValueOrDefault(figure.Name) is { } v ? Figure(v, figure.Unit) : "-");
        }

        Row("new invariant violations", p => p.NewViolations.Count == 0 ? "0" : $"{p.NewViolations.Count} ({string.Join(", ", p.NewViolations.GroupBy(v => v.Invariant).Select(g => $"{g.Key} ×{g.Count()}"))})");
        Row("scenario acted (injections)", p => p.Verdict?.Injections is { } injections ? ReportFormat.Count((long)injections) : "-");
        Row("steady state", p => p.Verdict?.Outcome ?? "-");
        return rows;
    }

    /// <summary>The hypothesis, and each phase's verdict with the probes that deviated.</summary>
    public static IEnumerable<string> VerdictLines(ExperimentReport report)
    {
        if (report.Hypothesis.Count > 0)
        {
            yield return $"hypothesis (steady state): {string.Join(", ", report.Hypothesis)}";
        }

        foreach (var phase in report.Phases.Where(p => p.Verdict is not null))
        {
            yield return $"{phase.Name}: {phase.Verdict}";
        }
    }

    public static void WriteConsole(ExperimentReport report, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]Experiment {Markup.Escape(report.Scenario)}[/] ([grey]{ReportFormat.Rate(report.Rate)} journeys/s, {report.PhaseSeconds:0.#} s per phase, mix {Markup.Escape(report.Mix)}[/])");
        table.AddColumn("");
        foreach (var phase in report.Phases)
        {
            table.AddColumn(new TableColumn($"[bold]{Markup.Escape(phase.Name)}[/]").RightAligned());
        }

        foreach (var (label, cells) in Rows(report))
        {
            table.AddRow([Markup.Escape(label), .. cells.Select(Markup.Escape)]);
        }

        console.Write(table);
        foreach (var line in VerdictLines(report))
        {
            console.MarkupLineInterpolated($"{line}");
        }

        foreach (var figure in report.Figures)
        {
            console.MarkupLineInterpolated($"[grey]{figure.Name}: {figure.Source}[/]");
        }

        foreach (var phase in report.Phases.Where(p => p.TypicalFailures.Count > 0))
        {
            var failure = phase.TypicalFailures[0];
            var link = report.TraceLinks.AspireFor(failure.TraceId) ?? failure.TraceId;
            console.MarkupLineInterpolated($"[grey]{phase.Name}: a failed {failure.Journey}/{failure.Step} ({failure.Status}): {link}[/]");
        }

        foreach (var warning in report.Warnings)
        {
            console.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
        }
    }

    public static string WriteMarkdown(ExperimentReport report)
    {
        var md = new StringBuilder();
        md.AppendLine(Inv, $"# Experiment: {report.Scenario}");
        md.AppendLine();
        md.AppendLine(Inv, $"{report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC · target {report.Target} · open model {ReportFormat.Rate(report.Rate)} journeys/s · {report.PhaseSeconds:0.#} s per phase · mix {report.Mix} · seed {report.Seed}");
        md.AppendLine();
        md.AppendLine("| | " + string.Join(" | ", report.Phases.Select(p => p.Name)) + " |");
        md.AppendLine("|---|" + string.Concat(report.Phases.Select(_ => "---:|")));
        foreach (var (label, cells) in Rows(report))
        {
            md.AppendLine($"| {Cell(label)} | {string.Join(" | ", cells.Select(Cell))} |");
        }

        md.AppendLine();
        foreach (var line in VerdictLines(report))
        {
            md.AppendLine($"- {line}");
        }


        md.AppendLine();
        md.AppendLine("## Figures");
        foreach (var figure in report.Figures)
        {
            md.AppendLine($"- **{figure.Name}**: {figure.Source}");
        }

        md.AppendLine();
        md.AppendLine("## Typical failures");
        foreach (var phase in report.Phases)
        {
            foreach (var f in phase.TypicalFailures)
            {
                md.AppendLine($"- {phase.Name}: {f.Journey}/{f.Step} {f.Method} {f.Path} → {f.Status} {f.ErrorKind} · trace `{f.TraceId}`" +
                              (report.TraceLinks.AspireFor(f.TraceId) is { } link ? $" ([Aspire]({link}))" : ""));
            }
        }

        foreach (var phase in report.Phases.Where(p => p.NewViolations.Count > 0))
        {
            md.AppendLine();
            md.AppendLine($"## Invariant violations after {phase.Name}");
            foreach (var v in phase.NewViolations.Take(20))
            {
                md.AppendLine($"- {v.Invariant} `{v.Id}`: {Cell(v.Detail)}");
            }
        }

        foreach (var warning in report.Warnings)
        {
            md.AppendLine();
            md.AppendLine($"> warning: {warning}");
        }

        return md.ToString();
    }

    public static string WriteHtml(ExperimentReport report)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.AppendLine($"<title>Experiment: {E(report.Scenario)}</title>");
        html.AppendLine(HtmlReportWriter.Style);
        html.AppendLine("</head><body>");
        html.AppendLine($"<h1>Experiment: {E(report.Scenario)}</h1>");
        html.AppendLine(string.Create(Inv, $"<p>{report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC · target {E(report.Target)} · open model {ReportFormat.Rate(report.Rate)} journeys/s · {report.PhaseSeconds:0.#} s per phase · mix {E(report.Mix)} · seed {report.Seed}</p>"));
        html.AppendLine("<table><tr><th class=\"l\"></th>" + string.Concat(report.Phases.Select(p => $"<th>{E(p.Name)}</th>")) + "</tr>");
        foreach (var (label, cells) in Rows(report))
        {
            html.AppendLine($"<tr><td class=\"l\">{E(label)}</td>{string.Concat(cells.Select(c => $"<td>{E(c)}</td>"))}</tr>");
        }

        html.AppendLine("</table><ul>");
        foreach (var figure in report.Figures)
        {
            html.AppendLine($"<li><b>{E(figure.Name)}</b>: {E(figure.Source)}</li>");
        }

        html.AppendLine("</ul>");
        html.AppendLine("<h2>Latency over time</h2><div class=\"chart\">" + LatencyChart(report) + "</div>");
        html.AppendLine("<h2>Throughput and errors over time</h2><div class=\"chart\">" + ThroughputChart(report) + "</div>");
        foreach (var figure in report.Figures)
        {
            html.AppendLine($"<h2>{E(figure.Name)} by phase</h2><div class=\"chart\">{FigureChart(report, figure)}</div>");
        }

        html.AppendLine("<h2>Typical failures</h2><table><tr><th class=\"l\">phase</th><th class=\"l\">request</th><th>status</th><th class=\"l\">kind</th><th class=\"l\">trace</th></tr>");
        foreach (var phase in report.Phases)
        {
            foreach (var f in phase.TypicalFailures)
            {
                var trace = report.TraceLinks.AspireFor(f.TraceId) is { } link ? $"<a href=\"{E(link)}\">{f.TraceId}</a>" : f.TraceId;
                html.AppendLine($"<tr><td class=\"l\">{E(phase.Name)}</td><td class=\"l\">{E($"{f.Journey}/{f.Step} {f.Method} {f.Path}")}</td><td>{f.Status}</td><td class=\"l\">{E(f.ErrorKind ?? "")}</td><td class=\"l\"><code>{trace}</code></td></tr>");
            }
        }

        html.AppendLine("</table>");
        foreach (var warning in report.Warnings)
        {
            html.AppendLine($"<div class=\"warn\">{E(warning)}</div>");
        }

        html.AppendLine("</body></html>");
        return html.ToString();
    }

    /// <summary>Writes experiment.json/.md/.html and each phase's full load report under phase-N-NAME/.</summary>
    /// <summary>experiment.json's document: the shape scripts read (also what <c>lab experiment --output json</c> prints).</summary>
    public static string ToJson(ExperimentReport report) => JsonSerializer.Serialize(report, JsonReportWriter.Options);

    public static async Task<IReadOnlyList<string>> WriteAllAsync(ExperimentReport report, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        foreach (var (name, content) in new[] { (Json, ToJson(report)), (Markdown, WriteMarkdown(report)), (Html, WriteHtml(report)) })
        {
            var path = Path.Combine(directory, name);
            await File.WriteAllTextAsync(path, content, cancellationToken);
            written.Add(path);
        }

        foreach (var phase in report.Phases.Where(p => p.Load is not null))
        {
            var folder = Path.Combine(directory, $"phase-{phase.Index}-{phase.Name.Replace('+', '-')}");
            await ReportFiles.WriteAllAsync(phase.Load!, folder, cancellationToken);
            written.Add(folder);
        }

        return written;
    }

    private static string LatencyChart(ExperimentReport report)
    {
        var plot = new Plot();
        Line(plot, report, p => p.P50Ms, "p50");
        Line(plot, report, p => p.P99Ms, "p99");
        PhaseMarks(plot, report);
        plot.XLabel("seconds since the experiment started");
        plot.YLabel("latency (ms)");
        plot.ShowLegend(Alignment.UpperLeft);
        return HtmlReportWriter.InlineSvg(plot);
    }

    private static string ThroughputChart(ExperimentReport report)
    {
        var plot = new Plot();
        Line(plot, report, p => p.RequestRate, "requests/s");
        Line(plot, report, p => p.RequestRate * p.ErrorRate, "failed requests/s");
        PhaseMarks(plot, report);
        plot.XLabel("seconds since the experiment started");
        plot.YLabel("per second");
        plot.ShowLegend(Alignment.UpperLeft);
        return HtmlReportWriter.InlineSvg(plot);
    }

    private static string FigureChart(ExperimentReport report, FigureReport figure)
    {
        var plot = new Plot();
        var bars = report.Phases
            .Select((p, i) => new Bar { Position = i, Value = p.Figures.GetValueOrDefault(figure.Name) ?? 0, Label = Figure(p.Figures.GetValueOrDefault(figure.Name), figure.Unit) })
            .ToArray();
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. report.Phases.Select((_, i) => (double)i)], [.. report.Phases.Select(p => p.Name)]);
        plot.YLabel(figure.Unit is "" ? figure.Name : $"{figure.Name} ({figure.Unit})");
        plot.Axes.Margins(bottom: 0);
        return HtmlReportWriter.InlineSvg(plot);
    }

    private static void Line(Plot plot, ExperimentReport report, Func<TimePointReport, double?> value, string label)
    {
        var points = report.Phases.SelectMany(p => p.TimeSeries).Where(p => value(p) is { } v && double.IsFinite(v)).ToList();
        if (points.Count == 0)
        {
            return;
        }

        var scatter = plot.Add.Scatter(points.Select(p => p.Second).ToArray(), points.Select(p => value(p)!.Value).ToArray());
        scatter.LegendText = label;
        scatter.LineWidth = 2;
        scatter.MarkerSize = points.Count > 60 ? 0 : 4;
    }

    private static void PhaseMarks(Plot plot, ExperimentReport report)
    {
        foreach (var phase in report.Phases)
        {
            var line = plot.Add.VerticalLine(phase.StartSeconds);
            line.LinePattern = LinePattern.Dashed;
            line.LabelText = phase.Name;
        }
    }

    private static string Figure(double? value, string unit) => value switch
    {
        null => "-",
        { } v when unit == "%" => v.ToString("0.#", Inv) + "%",
        { } v when unit == "×" => v.ToString("0.##", Inv) + "×",
        { } v => v.ToString(Math.Abs(v) >= 100 || v == Math.Round(v) ? "0" : "0.##", Inv),
    };

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
