using System.CommandLine;
using Lab.Scenarios.Catalog;
using Spectre.Console;

namespace Lab.Cli;

/// <summary>
/// <c>lab scenario docs</c>: writes docs/scenarios.md from the catalog's code (every scenario's category, hook points,
/// seams, parameters, signature, cure, experiment and runbook). With --check it only compares, for CI and reviews.
/// Exit codes: 0 written or up to date, 1 the file differs (--check), 2 it cannot be written.
/// </summary>
public static class ScenarioDocsCommand
{
    public const string DefaultPath = "docs/scenarios.md";

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Where to write the catalog", DefaultValueFactory = _ => DefaultPath };
        var check = new Option<bool>("--check") { Description = "Do not write: exit 1 when the file differs from what the code says" };
        var command = new Command("docs", "Write the scenario catalog (docs/scenarios.md) from the scenarios' code.");
        command.Options.Add(output);
        command.Options.Add(check);
        command.SetAction(result =>
        {
            var path = result.GetValue(output)!;
            var text = ScenarioCatalog.RenderDocs();
            if (result.GetValue(check))
            {
                var current = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : null;
                if (current == text)
                {
                    AnsiConsole.MarkupLineInterpolated($"{path} is up to date.");
                    return 0;
                }

                AnsiConsole.MarkupLineInterpolated($"[red]{path} {(current is null ? "is missing" : "differs from the catalog's code")}[/]: run `lab scenario docs` and commit it.");
                return 1;
            }

            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                File.WriteAllText(path, text);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] cannot write {path}: {ex.Message}");
                return 2;
            }

            AnsiConsole.MarkupLineInterpolated($"wrote {path} ({text.Length:N0} characters)");
            return 0;
        });
        return command;
    }
}
