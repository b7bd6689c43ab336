using System.Globalization;
using System.Text;

namespace Lab.TestRuns;

/// <summary>
/// The soak's table: every test of every run of the suite (one folder per run, one per store inside it), how often it failed
/// and its slowest time; then the slowest test classes, and each failure's first message.
/// </summary>
public static class SoakReport
{
    public static string Write(string soakDirectory, TimeSpan classLimit)
    {
        var runs = Directory.EnumerateDirectories(soakDirectory).Order(StringComparer.Ordinal).ToList();
        var rows = new List<(string Run, string Store, TestResult Result)>();
        foreach (var run in runs)
        {
            foreach (var store in Directory.EnumerateDirectories(run).Order(StringComparer.Ordinal))
            {
                rows.AddRange(TestRun.ReadAll(store).SelectMany(r => r.Results).Select(result => (Path.GetFileName(run), Path.GetFileName(store), result)));
            }
        }

        var text = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        text.AppendLine(culture, $"{runs.Count} runs in {soakDirectory}");
        text.AppendLine("failed/runs  slowest  store     test");
        var byTest = rows.GroupBy(r => (r.Store, r.Result.FullName))
            .Select(g => (g.Key.Store, g.Key.FullName,
                Runs: g.Select(r => r.Run).Distinct().Count(),
                FailedRuns: g.Where(r => r.Result.Failed).Select(r => r.Run).Distinct().Count(),
                Slowest: g.Max(r => r.Result.Duration)))
            .OrderByDescending(t => t.FailedRuns).ThenByDescending(t => t.Slowest).ToList();
        foreach (var test in byTest)
        {
            text.AppendLine(culture, $"{test.FailedRuns,6}/{test.Runs,-5} {test.Slowest.TotalSeconds,6:0.0}s  {test.Store,-9} {test.FullName}");
        }

        var classes = rows.GroupBy(r => (r.Run, r.Store, r.Result.ClassName))
            .Select(g => (g.Key.Store, g.Key.ClassName, Time: g.Aggregate(TimeSpan.Zero, (sum, r) => sum + r.Result.Duration)))
            .GroupBy(c => (c.Store, c.ClassName))
            .Select(g => (g.Key.Store, g.Key.ClassName, Slowest: g.Max(c => c.Time)))
            .OrderByDescending(c => c.Slowest).ToList();
        text.AppendLine();
        text.AppendLine(culture, $"test classes, slowest run of each ({classes.Count(c => c.Slowest > classLimit)} over {classLimit.TotalSeconds:0} s):");
        foreach (var testClass in classes.Take(25))
        {
            text.AppendLine(culture, $"{testClass.Slowest.TotalSeconds,7:0.0}s  {testClass.Store,-9} {testClass.ClassName}");
        }

        var perRun = rows.GroupBy(r => (r.Run, r.Store))
            .Select(g => (g.Key.Run, g.Key.Store, Passed: g.Count(r => r.Result.Passed), Failed: g.Count(r => r.Result.Failed)))
            .OrderBy(r => r.Run, StringComparer.Ordinal).ThenBy(r => r.Store, StringComparer.Ordinal);
        text.AppendLine();
        text.AppendLine("runs:");
        foreach (var run in perRun)
        {
            text.AppendLine(culture, $"{run.Run}  {run.Store,-9} {run.Passed} passed, {run.Failed} failed");
        }

        var failures = rows.Where(r => r.Result.Failed).ToList();
        text.AppendLine();
        text.AppendLine(culture, $"failures: {failures.Count}");
        foreach (var failure in failures)
        {
            text.AppendLine(culture, $"{failure.Run} {failure.Store}: {failure.Result.DisplayName}: {failure.Result.FirstLine}");
        }

        return text.ToString();
    }
}
