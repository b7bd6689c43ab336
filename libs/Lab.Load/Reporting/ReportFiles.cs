namespace Lab.Load.Reporting;

/// <summary>Writes every file form of a report into one folder.</summary>
public static class ReportFiles
{
    public const string Json = "report.json";
    public const string Markdown = "report.md";
    public const string Html = "report.html";
    public const string Hgrm = "latency.hgrm";

    /// <summary>Writes report.json, report.md, report.html, latency.hgrm (all requests) and latency-JOURNEY.hgrm (whole journeys).</summary>
    /// <returns>The paths written.</returns>
    public static async Task<IReadOnlyList<string>> WriteAllAsync(LoadReport report, string directory, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();

        async Task Text(string name, string content)
        {
            var path = Path.Combine(directory, name);
            await File.WriteAllTextAsync(path, content, cancellationToken);
            written.Add(path);
        }

        await Text(Json, JsonReportWriter.Write(report));
        await Text(Markdown, MarkdownReportWriter.Write(report));
        await Text(Html, HtmlReportWriter.Write(report));
        foreach (var (name, histogram) in report.Histograms)
        {
            await Text(name == "all" ? Hgrm : $"latency-{name}.hgrm", HgrmWriter.Write(histogram));
        }

        return written;
    }
}
