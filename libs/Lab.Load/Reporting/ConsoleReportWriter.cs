using Spectre.Console;
using static Lab.Load.Reporting.ReportFormat;

namespace Lab.Load.Reporting;

/// <summary>The end-of-run report on the terminal (Spectre.Console tables; plain text when redirected).</summary>
public static class ConsoleReportWriter
{
    public static void Write(LoadReport report, IAnsiConsole console)
    {
        var latency = report.Requests.LatencyMs;
        var s = report.Schedule;
        console.WriteLine();
        console.MarkupLine($"[bold]Load report[/] {Markup.Escape(report.Target)}: {Markup.Escape(Model(report))}, mix {Markup.Escape(report.Mix)}, {Seconds(report.ElapsedSeconds)}{(report.Interrupted ? " [yellow](interrupted)[/]" : "")}");
        console.MarkupLine(
            $"  requests {Count(report.Requests.Count)} at {Rate(report.Requests.Rate)}/s, errors {Count(report.Requests.Errors)} ({Percent(report.Requests.ErrorRate)}); " +
            $"latency ms p50 {Ms(latency?.P50)} p90 {Ms(latency?.P90)} p99 {Ms(latency?.P99)} p99.9 {Ms(latency?.P999)} max {Ms(latency?.Max)}");
        console.MarkupLine(
            $"  journeys started {Count(s.Started)} ({Rate(s.AchievedRate)}/s{(s.TargetRate is { } target ? $" of {Rate(target)}/s planned" : "")}), " +
            $"late {Count(s.Late)}, dropped {Count(s.Dropped)}, unstarted {Count(s.Unstarted)}; start lag p99 {Ms(s.StartLagMs?.P99)} ms");

        console.Write(JourneyTable("Journeys and steps", report.Journeys));
        if (report.Phases.Count > 1)
        {
            var phases = new Table().Title("Phases").AddColumns("phase", "span", "requests", "rate/s", "errors", "p50", "p90", "p99", "p99.9", "max");
            foreach (var p in report.Phases)
            {
                var l = p.Requests.LatencyMs;
                phases.AddRow(Markup.Escape(p.Name), $"{Seconds(p.StartSeconds)}–{Seconds(p.EndSeconds)}", Count(p.Requests.Count), Rate(p.Requests.Rate), Percent(p.Requests.ErrorRate), Ms(l?.P50), Ms(l?.P90), Ms(l?.P99), Ms(l?.P999), Ms(l?.Max));
            }

            console.Write(phases);
        }

        if (report.Timeline.Count > 0)
        {
            var timeline = new Table().Title("Timeline").AddColumns("at", "action", "scenario", "result");
            foreach (var e in report.Timeline)
            {
                timeline.AddRow(Seconds(e.AtSeconds), e.Action, Markup.Escape(e.Scenario), e.Ok ? "[green]ok[/]" : $"[red]{Markup.Escape(e.Error ?? "failed")}[/]");
            }

            console.Write(timeline);
        }

        RequestTable(console, "Slowest requests", report.Slowest, report.TraceLinks);
        RequestTable(console, "Failed requests", report.Failures, report.TraceLinks);

        foreach (var w in report.Warnings)
        {
            console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w)}");
        }

        foreach (var t in report.Thresholds)
        {
            console.MarkupLine(t.Passed
                ? $"[green]✓ threshold {Markup.Escape(t.Expression)}[/] ({Markup.Escape(t.Scope)}: {Markup.Escape(t.ActualText)})"
                : $"[red]✗ threshold {Markup.Escape(t.Expression)} failed[/] ({Markup.Escape(t.Scope)}: {Markup.Escape(t.ActualText)})");
        }
    }

    private static Table JourneyTable(string title, IReadOnlyList<JourneyReport> journeys)
    {
        var table = new Table().Title(title).AddColumns("journey / step", "count", "rate/s", "errors", "error kinds", "p50", "p90", "p99", "p99.9", "max");
        foreach (var column in table.Columns.Skip(1))
        {
            column.RightAligned();
        }

        table.Columns[4].LeftAligned();
        foreach (var (name, isStep, stats) in Rows(journeys))
        {
            var l = stats.LatencyMs;
            table.AddRow(
                isStep ? $"  {Markup.Escape(name)}" : $"[bold]{Markup.Escape(name)}[/]",
                Count(stats.Count),
                Rate(stats.Rate),
                stats.Errors > 0 ? $"[red]{Percent(stats.ErrorRate)}[/]" : Percent(stats.ErrorRate),
                Markup.Escape(Errors(stats)),
                Ms(l?.P50),
                Ms(l?.P90),
                Ms(l?.P99),
                Ms(l?.P999),
                Ms(l?.Max));
        }

        table.Caption("latency in ms; journey rows from the planned start to the last response");
        return table;
    }

    private static void RequestTable(IAnsiConsole console, string title, IReadOnlyList<RequestRecordReport> records, TraceLinksReport links)
    {
        if (records.Count == 0)
        {
            return;
        }

        var table = new Table().Title(title).AddColumns("at", "request", "status", "ms", "error", "trace id");
        foreach (var r in records)
        {
            table.AddRow(
                Seconds(r.AtSeconds),
                Markup.Escape($"{r.Journey}/{r.Step} {r.Method} {r.Path}"),
                r.Status == 0 ? "-" : r.Status.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Ms(r.LatencyMs),
                Markup.Escape(r.ErrorKind is null ? "-" : $"{r.ErrorKind}: {r.Message}"),
                r.AspireUrl is not null ? $"[link={Markup.Escape(r.AspireUrl)}]{r.TraceId}[/]" : r.TraceId);
        }

        console.Write(table);
        var formats = new[] { links.Aspire is null ? null : $"Aspire {links.Aspire}", links.Jaeger is null ? null : $"Jaeger {links.Jaeger}" }.OfType<string>().ToList();
        if (formats.Count > 0)
        {
            console.MarkupLine($"  [grey]open a trace: {Markup.Escape(string.Join(" · ", formats))}[/]");
        }
    }
}
