using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Lab.Storefront.ControlPanel;

/// <summary>The summary of one load report (report.json of <c>lab load</c>) as the panel lists it.</summary>
/// <param name="Id">The report's folder under the reports directory ("-" for a report written in the directory itself).</param>
public sealed record LoadReportSummary(
    string Id,
    DateTimeOffset StartedAt,
    string Target,
    string Model,
    string Mix,
    double Seconds,
    long Requests,
    double Rate,
    long Errors,
    double ErrorRate,
    double? P50,
    double? P99,
    bool Passed,
    bool HasHtml);

/// <summary>
/// Reads the reports <c>lab load</c> wrote under <see cref="ControlPanelOptions.ReportsDirectory"/>: report.json in
/// the directory itself and in each folder directly below it. Only folder names are taken from requests, and only
/// names of folders that exist there, so nothing outside the directory can be read.
/// </summary>
public sealed partial class LoadReports(IOptions<ControlPanelOptions> options, ILogger<LoadReports> logger)
{
    public const string RootId = "-";
    private const string JsonFile = "report.json";
    private const string HtmlFile = "report.html";

    public string? Directory => options.Value.ReportsDirectory is { Length: > 0 } d ? Path.GetFullPath(d) : null;

    public IReadOnlyList<LoadReportSummary> List()
    {
        if (Directory is not { } root || !System.IO.Directory.Exists(root))
        {
            return [];
        }

        var folders = new List<(string Id, string Path)> { (RootId, root) };
        folders.AddRange(new DirectoryInfo(root).EnumerateDirectories()
            .Where(d => SafeId().IsMatch(d.Name))
            .Select(d => (d.Name, d.FullName)));

        var reports = new List<LoadReportSummary>();
        foreach (var (id, path) in folders)
        {
            var json = Path.Combine(path, JsonFile);
            if (File.Exists(json) && Read(id, json, File.Exists(Path.Combine(path, HtmlFile))) is { } summary)
            {
                reports.Add(summary);
            }
        }

        return reports.OrderByDescending(r => r.StartedAt).Take(options.Value.MaxReports).ToArray();
    }

    /// <summary>The path of a report's HTML form, or null when there is no such report.</summary>
    public string? HtmlPath(string id)
    {
        if (Directory is not { } root || (id != RootId && !SafeId().IsMatch(id)))
        {
            return null;
        }

        var path = Path.Combine(id == RootId ? root : Path.Combine(root, id), HtmlFile);
        return File.Exists(path) ? path : null;
    }

    private LoadReportSummary? Read(string id, string path, bool hasHtml)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream);
            var r = document.RootElement;
            var requests = r.GetProperty("requests");
            var latency = requests.TryGetProperty("latencyMs", out var l) && l.ValueKind == JsonValueKind.Object ? l : (JsonElement?)null;
            var model = r.GetProperty("model");
            var kind = model.GetProperty("kind").GetString() ?? "?";
            var modelText = kind == "closed"
                ? $"closed, {Number(model, "users"):0} users"
                : $"open, {Number(model, "startRate"):0.#}/s" + (Number(model, "endRate") is { } end && end != Number(model, "startRate") ? $" → {end:0.#}/s" : "");
            var passed = !r.TryGetProperty("thresholds", out var thresholds)
                         || thresholds.EnumerateArray().All(t => t.GetProperty("passed").GetBoolean());
            return new LoadReportSummary(
                id,
                r.GetProperty("startedAt").GetDateTimeOffset(),
                r.GetProperty("target").GetString() ?? "",
                modelText,
                r.TryGetProperty("mix", out var mix) ? mix.GetString() ?? "" : "",
                r.GetProperty("elapsedSeconds").GetDouble(),
                requests.GetProperty("count").GetInt64(),
                requests.GetProperty("rate").GetDouble(),
                requests.GetProperty("errors").GetInt64(),
                requests.GetProperty("errorRate").GetDouble(),
                latency is { } p ? Number(p, "p50") : null,
                latency is { } q ? Number(q, "p99") : null,
                passed,
                hasHtml);
        }
        catch (Exception ex) when (ex is JsonException or IOException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // A report being written, or from another tool: leave it out of the list rather than fail the page.
            logger.LogDebug(ex, "Skipping unreadable load report {Path}", path);
            return null;
        }
    }

    private static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex SafeId();
}
