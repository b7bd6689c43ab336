using System.CommandLine;
using System.Text.Json;
using Lab.Cli.Launch;
using Lab.Cli.Verify;
using Spectre.Console;

namespace Lab.Cli;

/// <summary><c>lab verify</c>: checks the shop's invariants against the databases of a run. Exit 0 clean, 1 violations, 2 unreadable.</summary>
public static class VerifyCommand
{
    private static readonly JsonSerializerOptions JsonOutput = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "The lab's data directory (holds data/shop.db and data/payments.db).", DefaultValueFactory = _ => ".lab" };
        var stuckAfter = new Option<TimeSpan>("--stuck-after") { Description = "An order not final and untouched for longer than this is stuck.", DefaultValueFactory = _ => TimeSpan.FromMinutes(2) };
        var postgres = new Option<string?>("--postgres")
        {
            Description = $"Check a lab on PostgreSQL: the shop's connection string (default \"{LabPostgres.DefaultConnectionString}\"); payments' database is its sibling",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "table (for people) or json: {\"clean\": bool, \"violations\": [{\"invariant\", \"id\", \"detail\"}]}, or {\"error\"} when a database cannot be read.",
            DefaultValueFactory = _ => "table",
        };
        output.AcceptOnlyFromAmong("table", "json");
        var command = new Command("verify", "Check stock conservation, charges, stuck orders and the projection against the databases.") { dataDir, stuckAfter, postgres, output };
        command.SetAction(parse =>
        {
            var json = parse.GetValue(output) == "json";
            return parse.GetResult(postgres) is null
                ? Run(parse.GetValue(dataDir)!, parse.GetValue(stuckAfter), AnsiConsole.Console, json)
                : RunPostgres(parse.GetValue(postgres) ?? LabPostgres.DefaultConnectionString, null, parse.GetValue(stuckAfter), AnsiConsole.Console, json);
        });
        return command;
    }

    /// <summary>Checks the SQLite databases under <paramref name="dataDirectory"/>/data.</summary>
    public static int Run(string dataDirectory, TimeSpan stuckAfter, IAnsiConsole console, bool json = false)
    {
        var data = Path.Combine(dataDirectory, "data");
        return Report(() => ShopVerifier.Verify(Path.Combine(data, "shop.db"), Path.Combine(data, "payments.db"), stuckAfter, DateTimeOffset.UtcNow), console, json);
    }

    /// <summary>Checks a lab on PostgreSQL, given the shop database's connection string (payments: its sibling unless given).</summary>
    public static int RunPostgres(string shopConnectionString, string? paymentsConnectionString, TimeSpan stuckAfter, IAnsiConsole console, bool json = false) =>
        Report(() => ShopVerifier.VerifyPostgres(shopConnectionString,
            paymentsConnectionString ?? LabPostgres.PaymentsConnectionString(shopConnectionString), stuckAfter, DateTimeOffset.UtcNow), console, json);

    private static int Report(Func<IReadOnlyList<Violation>> verify, IAnsiConsole console, bool json)
    {
        IReadOnlyList<Violation> violations;
        try
        {
            violations = verify();
        }
        catch (VerifyDatabaseException ex)
        {
            if (json)
            {
                console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(new { error = ex.Message }, JsonOutput));
            }
            else
            {
                console.MarkupLineInterpolated($"[red]{ex.Message}[/]");
            }

            return 2;
        }

        if (json)
        {
            console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(new { clean = violations.Count == 0, violations }, JsonOutput));
            return violations.Count == 0 ? 0 : 1;
        }

        if (violations.Count == 0)
        {
            console.MarkupLine("[green]All invariants hold.[/]");
            return 0;
        }

        var table = new Table().AddColumns("invariant", "id", "detail");
        foreach (var v in violations)
        {
            table.AddRow(Markup.Escape(v.Invariant), Markup.Escape(v.Id), Markup.Escape(v.Detail));
        }

        console.Write(table);
        console.MarkupLineInterpolated($"[red]{violations.Count} violation(s).[/]");
        return 1;
    }
}
