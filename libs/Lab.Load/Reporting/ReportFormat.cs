using System.Globalization;
using Lab.Load.Engine;

namespace Lab.Load.Reporting;

/// <summary>Number formats shared by the console, Markdown and HTML writers.</summary>
public static class ReportFormat
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Ms(double? ms) => ms switch
    {
        null => "-",
        < 1 => ms.Value.ToString("0.###", Inv),
        < 100 => ms.Value.ToString("0.##", Inv),
        _ => ms.Value.ToString("0.#", Inv),
    };

    public static string Rate(double perSecond) => perSecond.ToString(perSecond < 10 ? "0.##" : "0.#", Inv);

    public static string Percent(double fraction) => (fraction * 100).ToString("0.##", Inv) + "%";

    public static string Count(long n) => n.ToString("N0", Inv);

    public static string Seconds(double s) => s.ToString("0.#", Inv) + "s";

    /// <summary>"409×3, timeout×1": statuses first, then kinds other than http-status.</summary>
    public static string Errors(StatsReport stats)
    {
        var parts = stats.ErrorsByStatus.Select(kv => $"{kv.Key}×{kv.Value}")
            .Concat(stats.ErrorsByKind.Where(kv => kv.Key != ErrorKind.HttpStatus.ToName()).Select(kv => $"{kv.Key}×{kv.Value}"));
        var text = string.Join(", ", parts);
        return text.Length == 0 ? "-" : text;
    }

    public static string Model(LoadReport report) => report.Model.Kind == "open"
        ? report.Model.StartRate == report.Model.EndRate
            ? $"open, {Rate(report.Model.StartRate ?? 0)}/s"
            : $"open, ramp {Rate(report.Model.StartRate ?? 0)}/s → {Rate(report.Model.EndRate ?? 0)}/s"
        : $"closed, {report.Model.Users} users, think {Ms(report.Model.ThinkMs)} ms";

    /// <summary>Rows of a journey table: the journey as a whole, then each step.</summary>
    public static IEnumerable<(string Name, bool IsStep, StatsReport Stats)> Rows(IReadOnlyList<JourneyReport> journeys) =>
        journeys.Where(j => j.Journey.Count > 0 || j.Requests.Count > 0)
            .SelectMany(j => new[] { (j.Name, false, j.Journey) }
                .Concat(j.Steps.Where(s => s.Stats.Count > 0).Select(s => ($"{j.Name}/{s.Name}", true, s.Stats))));
}
