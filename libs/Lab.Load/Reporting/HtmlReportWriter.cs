using System.Net;
using System.Text;
using ScottPlot;
using static Lab.Load.Reporting.ReportFormat;

namespace Lab.Load.Reporting;

/// <summary>
/// report.html: one self-contained page (inline CSS, charts as inline SVG drawn by ScottPlot), so it can be
/// attached to a ticket or opened offline.
/// </summary>
public static class HtmlReportWriter
{
    private const int ChartWidth = 960;
    private const int ChartHeight = 320;

    /// <summary>The stylesheet of the lab's self-contained HTML reports (load and experiment reports share it).</summary>
    public const string Style = """
        <style>
          body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
          h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
          table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
          th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
          th { background: #f3f3f3; } td.l, th.l { text-align: left; }
          tr.step td:first-child { padding-left: 1.6em; color: #555; }
          .warn { background: #fff4e0; border-left: 4px solid #e69500; padding: 0.5em 1em; margin: 0.3em 0; }
          .fail { color: #b00020; font-weight: bold; } .pass { color: #1b7f3b; }
          .chart { margin: 0.5em 0; } .chart svg { max-width: 100%; height: auto; }
          code { font-size: 0.9em; }
        </style>
        """;

    public static string Write(LoadReport report)
    {
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html>");
        html.AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.AppendLine($"<title>Load report: {E(report.Target)}</title>");
        html.AppendLine(Style);
        html.AppendLine("</head><body>");
        html.AppendLine($"<h1>Load report: {E(report.Target)}</h1>");
        var latency = report.Requests.LatencyMs;
        var s = report.Schedule;
        html.AppendLine("<table>");
        Row(html, "started", $"{report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC");
        Row(html, "duration", $"{Seconds(report.ElapsedSeconds)} of {Seconds(report.PlannedSeconds)}{(report.Interrupted ? " (interrupted)" : "")}");
        Row(html, "model", $"{Model(report)}; mix {report.Mix}; seed {report.Seed}");
        Row(html, "requests", $"{Count(report.Requests.Count)} at {Rate(report.Requests.Rate)}/s; errors {Count(report.Requests.Errors)} ({Percent(report.Requests.ErrorRate)})");
        Row(html, "latency (ms)", $"p50 {Ms(latency?.P50)} · p90 {Ms(latency?.P90)} · p99 {Ms(latency?.P99)} · p99.9 {Ms(latency?.P999)} · max {Ms(latency?.Max)}");
        Row(html, "schedule", $"{Count(s.Started)} journeys started ({Rate(s.AchievedRate)}/s{(s.TargetRate is { } target ? $" of {Rate(target)}/s planned" : "")}); {Count(s.Late)} late, {Count(s.Dropped)} dropped, {Count(s.Unstarted)} unstarted");
        html.AppendLine("</table>");

        foreach (var w in report.Warnings)
        {
            html.AppendLine($"<div class=\"warn\">{E(w)}</div>");
        }

        if (report.Thresholds.Count > 0)
        {
            html.AppendLine("<h2>Thresholds</h2><table><tr><th class=\"l\">threshold</th><th class=\"l\">scope</th><th>actual</th><th class=\"l\">result</th></tr>");
            foreach (var t in report.Thresholds)
            {
                html.AppendLine($"<tr><td class=\"l\"><code>{E(t.Expression)}</code></td><td class=\"l\">{E(t.Scope)}</td><td>{E(t.ActualText)}</td><td class=\"l {(t.Passed ? "pass" : "fail")}\">{(t.Passed ? "pass" : "FAIL")}</td></tr>");
            }

            html.AppendLine("</table>");
        }

        html.AppendLine("<h2>Latency over time</h2>");
        html.AppendLine($"<div class=\"chart\" id=\"latency-chart\">{LatencyChart(report)}</div>");
        html.AppendLine("<h2>Throughput</h2>");
        html.AppendLine($"<div class=\"chart\" id=\"throughput-chart\">{ThroughputChart(report)}</div>");

        html.AppendLine("<h2>Journeys and steps</h2>");
        JourneyTable(html, report.Journeys);

        if (report.Phases.Count > 1)
        {
            html.AppendLine("<h2>Phases</h2>");
            foreach (var p in report.Phases)
            {
                html.AppendLine($"<h3>Phase {p.Index}: {E(p.Name)} ({Seconds(p.StartSeconds)}–{Seconds(p.EndSeconds)})</h3>");
                JourneyTable(html, p.Journeys);
            }
        }

        if (report.Timeline.Count > 0)
        {
            html.AppendLine("<h2>Timeline</h2><table><tr><th>at</th><th>applied</th><th class=\"l\">action</th><th class=\"l\">scenario</th><th class=\"l\">parameters</th><th class=\"l\">result</th></tr>");
            foreach (var e in report.Timeline)
            {
                html.AppendLine($"<tr><td>{Seconds(e.AtSeconds)}</td><td>{(e.AppliedSeconds is { } a ? Seconds(a) : "-")}</td><td class=\"l\">{E(e.Action)}</td><td class=\"l\">{E(e.Scenario)}</td><td class=\"l\">{E(string.Join(", ", e.Parameters.Select(kv => $"{kv.Key}={kv.Value}")))}</td><td class=\"l\">{(e.Ok ? "ok" : E(e.Error ?? "failed"))}</td></tr>");
            }

            html.AppendLine("</table>");
        }

        RequestTable(html, "Slowest requests", report.Slowest);
        RequestTable(html, "Failed requests", report.Failures);
        html.AppendLine("</body></html>");
        return html.ToString();
    }

    /// <summary>Per-second request latency (p50, p99, max) and each journey's p99, with the timeline marks.</summary>
    public static string LatencyChart(LoadReport report)
    {
        var plot = new Plot();
        var points = report.TimeSeries;
        AddLine(plot, points, p => p.P50Ms, "requests p50");
        AddLine(plot, points, p => p.P99Ms, "requests p99");
        AddLine(plot, points, p => p.MaxMs, "requests max");
        foreach (var journey in report.Journeys.Select(j => j.Name))
        {
            AddLine(plot, points, p => p.JourneyP99Ms.TryGetValue(journey, out var v) ? v : null, $"{journey} journey p99");
        }

        Marks(plot, report);
        plot.XLabel("seconds");
        plot.YLabel("latency (ms)");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperLeft);
        return InlineSvg(plot);
    }

    /// <summary>Requests per second (all and failed) and planned journeys per second.</summary>
    public static string ThroughputChart(LoadReport report)
    {
        var plot = new Plot();
        var points = report.TimeSeries;
        AddLine(plot, points, p => p.RequestRate, "requests/s");
        AddLine(plot, points, p => p.RequestRate * p.ErrorRate, "failed requests/s");
        AddLine(plot, points, p => p.JourneyRate, "journeys started/s");
        if (points.Any(p => p.TargetRate is not null))
        {
            AddLine(plot, points, p => p.TargetRate, "journeys planned/s");
        }

        Marks(plot, report);
        plot.XLabel("seconds");
        plot.YLabel("per second");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperLeft);
        return InlineSvg(plot);
    }

    /// <summary>The SVG without its XML declaration, which is not allowed inside an HTML document.</summary>
    public static string InlineSvg(Plot plot)
    {
        var svg = plot.GetSvgXml(ChartWidth, ChartHeight);
        var start = svg.IndexOf("<svg", StringComparison.Ordinal);
        return start > 0 ? svg[start..] : svg;
    }

    private static void AddLine(Plot plot, IReadOnlyList<TimePointReport> points, Func<TimePointReport, double?> value, string label)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        foreach (var p in points)
        {
            if (value(p) is { } y && double.IsFinite(y))
            {
                xs.Add(p.Second);
                ys.Add(y);
            }
        }

        if (xs.Count == 0)
        {
            return;
        }

        var scatter = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
        scatter.LegendText = label;
        scatter.LineWidth = 2;
        scatter.MarkerSize = xs.Count > 60 ? 0 : 4;
    }

    private static void Marks(Plot plot, LoadReport report)
    {
        foreach (var mark in report.Timeline.Where(t => t.Ok && t.Action != "reset"))
        {
            var line = plot.Add.VerticalLine(mark.AtSeconds);
            line.LinePattern = LinePattern.Dashed;
            line.LabelText = $"{mark.Action} {mark.Scenario}";
        }
    }

    private static void JourneyTable(StringBuilder html, IReadOnlyList<JourneyReport> journeys)
    {
        html.AppendLine("<table><tr><th class=\"l\">journey / step</th><th>count</th><th>rate/s</th><th>errors</th><th class=\"l\">error kinds</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
        foreach (var (name, isStep, stats) in Rows(journeys))
        {
            var l = stats.LatencyMs;
            html.AppendLine($"<tr{(isStep ? " class=\"step\"" : "")}><td class=\"l\">{(isStep ? E(name) : $"<b>{E(name)}</b>")}</td><td>{Count(stats.Count)}</td><td>{Rate(stats.Rate)}</td><td>{Percent(stats.ErrorRate)}</td><td class=\"l\">{E(Errors(stats))}</td><td>{Ms(l?.P50)}</td><td>{Ms(l?.P90)}</td><td>{Ms(l?.P99)}</td><td>{Ms(l?.P999)}</td><td>{Ms(l?.Max)}</td></tr>");
        }

        html.AppendLine("</table><p><small>Latencies in ms. A journey row is the whole journey from its planned start; step rows are single requests.</small></p>");
    }

    private static void RequestTable(StringBuilder html, string title, IReadOnlyList<RequestRecordReport> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        html.AppendLine($"<h2>{E(title)}</h2><table><tr><th>at</th><th class=\"l\">phase</th><th class=\"l\">request</th><th>status</th><th>latency ms</th><th class=\"l\">error</th><th class=\"l\">trace</th></tr>");
        foreach (var r in records)
        {
            var trace = r.AspireUrl is not null ? $"<a href=\"{E(r.AspireUrl)}\"><code>{E(r.TraceId)}</code></a>" : $"<code>{E(r.TraceId)}</code>";
            if (r.JaegerUrl is not null)
            {
                trace += $" (<a href=\"{E(r.JaegerUrl)}\">jaeger</a>)";
            }

            var error = r.ErrorKind is null ? "-" : E($"{r.ErrorKind}: {r.Message}");
            html.AppendLine($"<tr><td>{Seconds(r.AtSeconds)}</td><td class=\"l\">{E(r.Phase)}</td><td class=\"l\">{E(r.Journey)}/{E(r.Step)} <code>{E(r.Method)} {E(r.Path)}</code></td><td>{r.Status}</td><td>{Ms(r.LatencyMs)}</td><td class=\"l\">{error}</td><td class=\"l\">{trace}</td></tr>");
        }

        html.AppendLine("</table>");
    }

    private static void Row(StringBuilder html, string name, string value) =>
        html.AppendLine($"<tr><th class=\"l\">{E(name)}</th><td class=\"l\">{E(value)}</td></tr>");

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
