using System.Globalization;
using System.Text;

namespace Lab.Scenarios;

/// <summary>
/// The catalog's documentation (docs/scenarios.md), written from the scenarios' own metas and experiment specs, so it
/// cannot drift from the code: every scenario's category, hook points, seams, parameters, signature, cure and runbook.
/// </summary>
public static class ScenarioDocs
{
    public static string Render(ScenarioRegistry registry, IReadOnlyList<Seam> seams)
    {
        var md = new StringBuilder();
        md.AppendLine("# Scenario catalog");
        md.AppendLine();
        md.AppendLine("Written by `lab scenario docs` from the scenarios' code; a test fails when this file differs from what the code says.");
        md.AppendLine("Every scenario injects at one or more hook points and may regress one of the shop's seams (a policy the shop resolves");
        md.AppendLine("per call) to a naive variant; `cure=true`, where a scenario has it, keeps the fault and restores the shop's own policy.");
        md.AppendLine("With nothing active the shop runs its own policies: the idle shop is the cured shop.");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"{registry.All.Count} scenarios in {registry.All.Select(s => s.Meta.Category).Distinct().Count()} categories.");
        md.AppendLine();
        md.AppendLine("| scenario | category | hook points | seams it regresses | cure |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var scenario in Ordered(registry))
        {
            var meta = scenario.Meta;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| [{meta.Name}](#{meta.Name}) | {meta.Category} | {string.Join(", ", meta.Targets)} | {(meta.Seams.Count == 0 ? "-" : string.Join(", ", meta.Seams.Select(s => s.Seam)))} | {(meta.FindParameter("cure") is null ? "-" : "`cure=true`")} |");
        }

        md.AppendLine();
        md.AppendLine("## The shop's seams");
        md.AppendLine();
        md.AppendLine("| seam | what it decides, and the shop's own variant | regressed by |");
        md.AppendLine("|---|---|---|");
        foreach (var seam in seams.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            var users = registry.All.Where(s => s.Meta.Seams.Any(u => u.Seam == seam.Name)).Select(s => s.Meta.Name).ToList();
            md.AppendLine(CultureInfo.InvariantCulture, $"| `{seam.Name}` | {Cell(seam.Description)} | {(users.Count == 0 ? "-" : string.Join(", ", users))} |");
        }

        foreach (var category in Ordered(registry).GroupBy(s => s.Meta.Category))
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"## {char.ToUpperInvariant(category.Key[0])}{category.Key[1..]}");
            foreach (var scenario in category)
            {
                Describe(md, scenario, seams);
            }
        }

        return md.ToString().ReplaceLineEndings("\n");
    }

    private static IEnumerable<Scenario> Ordered(ScenarioRegistry registry) =>
        registry.All.OrderBy(s => s.Meta.Category, StringComparer.Ordinal).ThenBy(s => s.Meta.Name, StringComparer.Ordinal);

    private static void Describe(StringBuilder md, Scenario scenario, IReadOnlyList<Seam> seams)
    {
        var meta = scenario.Meta;
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"### {meta.Name}");
        md.AppendLine();
        md.AppendLine(meta.Description);
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- **Injects at:** {string.Join(", ", meta.Targets)}");
        if (meta.Seams.Count == 0)
        {
            md.AppendLine("- **Seams:** none (it acts at hook points only)");
        }
        else
        {
            foreach (var use in meta.Seams)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"- **Regresses** `{use.Seam}` to: {use.Variant}; {(use.CureRestores ? "`cure=true` restores the shop's own" : "part of the fault, kept by any cure")}");
            }
        }

        md.AppendLine(meta.TouchesStore(seams)
            ? "- **Store:** it touches the database (a repository hook, a seam bound to the store, or workers on the database): tested on SQLite and PostgreSQL"
            : "- **Store:** nothing it does depends on the database: tested once, on SQLite");
        md.AppendLine(CultureInfo.InvariantCulture, $"- **Signature:** {meta.Signature}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- **Cure:** {meta.Cure ?? "none"}");
        var experiment = scenario.Experiment;
        md.AppendLine(CultureInfo.InvariantCulture,
            $"- **Experiment** (`lab experiment {meta.Name}`): figures {string.Join(", ", experiment.Figures.Select(f => $"{f.Name}{(f.Unit.Length > 0 ? $" ({f.Unit})" : "")}"))}; steady state {string.Join(", ", experiment.SteadyState.Select(p => $"`{p.Expression}`"))}; load `{experiment.Mix}`{(experiment.Rate is { } rate ? $" at {rate.ToString(System.Globalization.CultureInfo.InvariantCulture)} journeys/s" : "")}{(experiment.Target.Count == 0 ? "" : $"; target `{string.Join(",", experiment.Target.Select(t => $"{t.Key}={t.Value}"))}`")}{(experiment.Cure is null ? "" : "; a cure phase")}");
        if (meta.Parameters.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("| parameter | type | default | range | description |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var p in meta.Parameters)
            {
                var range = p.AllowedValues is { Count: > 0 } allowed
                    ? string.Join(" \\| ", allowed)
                    : p.Min is null && p.Max is null ? "" : $"{p.Min ?? ""} .. {p.Max ?? ""}";
                var unit = p.Unit is null or "duration" or "%" or "bytes" ? "" : $" {p.Unit}";
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| `{p.Name}` | {p.Type.ToString().ToLowerInvariant()} | `{p.Default}`{unit} | {range} | {Cell(p.Description)} |");
            }
        }

        md.AppendLine();
        md.AppendLine("Runbook:");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Break: `{meta.Runbook.Break}`");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Hint: {meta.Runbook.Hint}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Verify: {meta.Runbook.Verify}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Restore: {meta.Runbook.Restore}");
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
}
