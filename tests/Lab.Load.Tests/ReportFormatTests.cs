using System.Text.Json;
using Lab.Load.Reporting;

namespace Lab.Load.Tests;

[Collection("load runs")]
public sealed class ReportFormatTests(ReportFixture fixture) : IClassFixture<ReportFixture>
{
    private readonly LoadReport _report = fixture.Report;

    private static string[] Names(JsonElement e) => e.EnumerateObject().Select(p => p.Name).ToArray();

    [Fact]
    public void Json_schema_is_stable()
    {
        using var doc = JsonDocument.Parse(JsonReportWriter.Write(_report));
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(
            ["schemaVersion", "tool", "startedAt", "target", "model", "mix", "seed", "plannedSeconds", "elapsedSeconds", "interrupted",
             "requests", "schedule", "journeys", "phases", "timeline", "timeSeries", "slowest", "failures", "thresholds", "passed", "traceLinks", "warnings"],
            Names(root));
        Assert.Equal(["kind", "startRate", "endRate", "users", "thinkMs", "maxInFlight"], Names(root.GetProperty("model")));

        string[] stats = ["count", "rate", "errors", "errorRate", "latencyMs", "errorsByStatus", "errorsByKind"];
        string[] latency = ["p50", "p90", "p95", "p99", "p999", "max", "mean"];
        var requests = root.GetProperty("requests");
        Assert.Equal(stats, Names(requests));
        Assert.Equal(latency, Names(requests.GetProperty("latencyMs")));
        Assert.True(requests.GetProperty("errorsByStatus").GetProperty("500").GetInt64() > 0);
        Assert.True(requests.GetProperty("errorsByKind").GetProperty("http-status").GetInt64() > 0);

        Assert.Equal(
            ["planned", "started", "dropped", "unstarted", "late", "lateThresholdMs", "cancelled", "startLagMs", "targetRate", "achievedRate"],
            Names(root.GetProperty("schedule")));

        var journey = root.GetProperty("journeys")[0];
        Assert.Equal(["name", "journey", "requests", "steps"], Names(journey));
        Assert.Equal(stats, Names(journey.GetProperty("journey")));
        Assert.Equal(["name", "stats"], Names(journey.GetProperty("steps")[0]));

        var phases = root.GetProperty("phases");
        Assert.Equal(2, phases.GetArrayLength());
        Assert.Equal(["index", "name", "startSeconds", "endSeconds", "requests", "schedule", "journeys"], Names(phases[0]));

        Assert.Equal(["atSeconds", "appliedSeconds", "action", "scenario", "parameters", "ok", "error"], Names(root.GetProperty("timeline")[0]));
        Assert.Equal(
            ["second", "requestRate", "errorRate", "journeyRate", "targetRate", "p50Ms", "p90Ms", "p99Ms", "maxMs", "journeyP99Ms"],
            Names(root.GetProperty("timeSeries")[0]));

        string[] record = ["journey", "step", "method", "path", "status", "errorKind", "message", "latencyMs", "atSeconds", "phase", "traceId", "aspireUrl", "jaegerUrl"];
        Assert.Equal(record, Names(root.GetProperty("slowest")[0]));
        Assert.Equal(record, Names(root.GetProperty("failures")[0]));
        Assert.Equal(["expression", "scope", "actual", "actualText", "passed"], Names(root.GetProperty("thresholds")[0]));
        Assert.Equal(["aspire", "jaeger"], Names(root.GetProperty("traceLinks")));
        Assert.False(root.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void Json_round_trips_into_the_report_type()
    {
        var back = JsonSerializer.Deserialize<LoadReport>(JsonReportWriter.Write(_report), JsonReportWriter.Options)!;
        Assert.Equal(_report.Requests.Count, back.Requests.Count);
        Assert.Equal(_report.Phases.Count, back.Phases.Count);
        Assert.Equal(_report.Slowest[0].TraceId, back.Slowest[0].TraceId);
    }

    [Fact]
    public void Markdown_has_the_tables_and_trace_links()
    {
        var md = MarkdownReportWriter.Write(_report);
        Assert.StartsWith("# Load report: http://127.0.0.1:", md);
        Assert.Contains("| journey / step | count | rate/s | errors | error kinds | p50 | p90 | p99 | p99.9 | max |", md);
        Assert.Contains("| **get** |", md);
        Assert.Contains("## Phases", md);
        Assert.Contains("enable slow-db (delay=5ms)", md);
        Assert.Contains("## Thresholds", md);
        Assert.Contains("| `errors<1%` | all requests |", md);
        Assert.Contains("**FAIL**", md);
        Assert.Contains("## Slowest requests", md);
        Assert.Contains("## Failed requests", md);
        Assert.Contains($"[{_report.Slowest[0].TraceId}](http://127.0.0.1:18888/traces/detail/{_report.Slowest[0].TraceId})", md);
        Assert.Contains("500×", md);
    }

    [Fact]
    public void Hgrm_is_the_standard_percentile_distribution_in_milliseconds()
    {
        var text = HgrmWriter.Write(_report.Histograms["all"]);
        var lines = text.Split('\n');
        Assert.Contains("Value", lines[0]);
        Assert.Contains("Percentile", lines[0]);
        Assert.Contains("TotalCount", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("#[Mean"));
        Assert.Contains(lines, l => l.StartsWith("#[Max"));
        var total = lines.Single(l => l.Contains("Total count"));
        Assert.EndsWith($"{_report.Requests.Count}]", total.TrimEnd());

        // The first row at or above the 50th percentile agrees with the report's p50 (both in ms).
        var rows = lines.Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(c => c.Length >= 3 && !c[0].StartsWith('#'))
            .Select(c => (Value: double.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture), Percentile: double.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        var p50 = rows.First(r => r.Percentile >= 0.5).Value;
        Assert.InRange(p50, _report.Requests.LatencyMs!.P50 * 0.99, _report.Requests.LatencyMs.P50 * 1.01 + 0.01);
    }

    [Fact]
    public void Html_is_self_contained_with_svg_charts()
    {
        var html = HtmlReportWriter.Write(_report);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.Contains("id=\"latency-chart\"><svg", html);
        Assert.Contains("id=\"throughput-chart\"><svg", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("src=\"http", html);
        Assert.Contains(_report.Failures[0].TraceId, html);
    }

    [Fact]
    public async Task All_files_are_written()
    {
        var dir = Path.Combine(Path.GetTempPath(), "lab-load-" + Guid.NewGuid().ToString("n"));
        try
        {
            var files = await ReportFiles.WriteAllAsync(_report, dir);
            Assert.Equal(["latency-get.hgrm", "latency.hgrm", "report.html", "report.json", "report.md"], files.Select(Path.GetFileName).Order());
            Assert.All(files, f => Assert.True(new FileInfo(f).Length > 100));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
