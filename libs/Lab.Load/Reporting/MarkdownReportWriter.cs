using System.Text;
using static Lab.Load.Reporting.ReportFormat;

namespace Lab.Load.Reporting;

/// <summary>report.md: the report as Markdown tables, for pull requests, wikis and READMEs.</summary>
public static class MarkdownReportWriter
{
    public static string Write(LoadReport report)
    {
        var md = new StringBuilder();
        md.AppendLine($"# Load report: {report.Target}");
        md.AppendLine();
        md.AppendLine($"- Started: {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, {Seconds(report.ElapsedSeconds)} of {Seconds(report.PlannedSeconds)}{(report.Interrupted ? " (interrupted)" : "")}");
        md.AppendLine($"- Model: {Model(report)}; mix {report.Mix}; seed {report.Seed}");
        md.AppendLine($"- Requests: {Count(report.Requests.Count)} at {Rate(report.Requests.Rate)}/s, errors {Count(report.Requests.Errors)} ({Percent(report.Requests.ErrorRate)})");
        var latency = report.Requests.LatencyMs;
        md.AppendLine($"- Latency (ms): p50 {Ms(latency?.P50)}, p90 {Ms(latency?.P90)}, p99 {Ms(latency?.P99)}, p99.9 {Ms(latency?.P999)}, max {Ms(latency?.Max)}");
        var s = report.Schedule;
        md.AppendLine($"- Schedule: {Count(s.Started)} journeys started ({Rate(s.AchievedRate)}/s{(s.TargetRate is { } target ? $" of {Rate(target)}/s planned" : "")}), {Count(s.Late)} late, {Count(s.Dropped)} dropped, {Count(s.Unstarted)} unstarted");
        md.AppendLine();

        if (report.Warnings.Count > 0)
        {
            md.AppendLine("## Warnings");
            md.AppendLine();
            foreach (var w in report.Warnings)
            {
                md.AppendLine($"- {Escape(w)}");
            }

            md.AppendLine();
        }

        if (report.Thresholds.Count > 0)
        {
            md.AppendLine("## Thresholds");
            md.AppendLine();
            md.AppendLine("| threshold | scope | actual | result |");
            md.AppendLine("|---|---|---:|---|");
            foreach (var t in report.Thresholds)
            {
                md.AppendLine($"| `{t.Expression}` | {t.Scope} | {t.ActualText} | {(t.Passed ? "pass" : "**FAIL**")} |");
            }

            md.AppendLine();
        }

        md.AppendLine("## Journeys and steps");
        md.AppendLine();
        JourneyTable(md, report.Journeys);

        if (report.Phases.Count > 1)
        {
            md.AppendLine("## Phases");
            md.AppendLine();
            md.AppendLine("| phase | span | requests | rate/s | errors | p50 | p90 | p99 | p99.9 | max |");
            md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var p in report.Phases)
            {
                var l = p.Requests.LatencyMs;
                md.AppendLine($"| {Escape(p.Name)} | {Seconds(p.StartSeconds)}–{Seconds(p.EndSeconds)} | {Count(p.Requests.Count)} | {Rate(p.Requests.Rate)} | {Percent(p.Requests.ErrorRate)} | {Ms(l?.P50)} | {Ms(l?.P90)} | {Ms(l?.P99)} | {Ms(l?.P999)} | {Ms(l?.Max)} |");
            }

            md.AppendLine();
            foreach (var p in report.Phases)
            {
                md.AppendLine($"### Phase {p.Index}: {Escape(p.Name)}");
                md.AppendLine();
                JourneyTable(md, p.Journeys);
            }
        }

        if (report.Timeline.Count > 0)
        {
            md.AppendLine("## Timeline");
            md.AppendLine();
            md.AppendLine("| at | applied | action | scenario | parameters | result |");
            md.AppendLine("|---:|---:|---|---|---|---|");
            foreach (var e in report.Timeline)
            {
                md.AppendLine($"| {Seconds(e.AtSeconds)} | {(e.AppliedSeconds is { } a ? Seconds(a) : "-")} | {e.Action} | {e.Scenario} | {Escape(string.Join(", ", e.Parameters.Select(kv => $"{kv.Key}={kv.Value}")))} | {(e.Ok ? "ok" : Escape(e.Error ?? "failed"))} |");
            }

            md.AppendLine();
        }

        RequestTable(md, "Slowest requests", report.Slowest);
        RequestTable(md, "Failed requests", report.Failures);
        if (report.TraceLinks.Aspire is not null || report.TraceLinks.Jaeger is not null)
        {
            md.AppendLine($"Trace links: Aspire `{report.TraceLinks.Aspire}`, Jaeger `{report.TraceLinks.Jaeger}`.");
            md.AppendLine();
        }

        return md.ToString();
    }

    private static void JourneyTable(StringBuilder md, IReadOnlyList<JourneyReport> journeys)
    {
        md.AppendLine("| journey / step | count | rate/s | errors | error kinds | p50 | p90 | p99 | p99.9 | max |");
        md.AppendLine("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|");
        foreach (var (name, isStep, stats) in Rows(journeys))
        {
            var l = stats.LatencyMs;
            var label = isStep ? $"&nbsp;&nbsp;{name}" : $"**{name}**";
            md.AppendLine($"| {label} | {Count(stats.Count)} | {Rate(stats.Rate)} | {Percent(stats.ErrorRate)} | {Errors(stats)} | {Ms(l?.P50)} | {Ms(l?.P90)} | {Ms(l?.P99)} | {Ms(l?.P999)} | {Ms(l?.Max)} |");
        }

        md.AppendLine();
        md.AppendLine("Latencies in ms. A journey row is the whole journey from its planned start; step rows are single requests.");
        md.AppendLine();
    }

    private static void RequestTable(StringBuilder md, string title, IReadOnlyList<RequestRecordReport> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        md.AppendLine($"## {title}");
        md.AppendLine();
        md.AppendLine("| at | phase | request | status | latency ms | error | trace |");
        md.AppendLine("|---:|---|---|---:|---:|---|---|");
        foreach (var r in records)
        {
            var trace = r.AspireUrl is not null ? $"[{r.TraceId}]({r.AspireUrl})" : $"`{r.TraceId}`";
            if (r.JaegerUrl is not null)
            {
                trace += $" ([jaeger]({r.JaegerUrl}))";
            }

            var error = r.ErrorKind is null ? "-" : Escape($"{r.ErrorKind}: {r.Message}");
            md.AppendLine($"| {Seconds(r.AtSeconds)} | {Escape(r.Phase)} | {r.Journey}/{r.Step} `{r.Method} {Escape(r.Path)}` | {r.Status} | {Ms(r.LatencyMs)} | {error} | {trace} |");
        }

        md.AppendLine();
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
