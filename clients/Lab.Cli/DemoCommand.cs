using System.CommandLine;
using Lab.Cli.Experiment;
using Lab.Cli.Launch;
using Lab.Load;
using Lab.Load.Plan;
using Spectre.Console;

namespace Lab.Cli;

/// <summary>
/// <c>lab demo</c>: the lab's story in under two minutes. Start the lab, let payments fail while the shop retries at
/// three layers (retry-storm), then switch the cure on, and show the phases side by side with the trace of one
/// amplified checkout.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var topology = new TopologyOptions();
        var phase = new Option<string>("--phase") { Description = "Length of each of the three phases", DefaultValueFactory = _ => "10s" };
        var rate = new Option<string>("--rate") { Description = "Journeys per second", DefaultValueFactory = _ => "10/s" };
        var exit = new Option<bool>("--exit") { Description = "Stop the lab when the demo is done instead of keeping it up" };
        var command = new Command("demo", "Start the lab and tell the retry-storm story: baseline, payments failing under naive retries, then the cure, side by side.");
        topology.AddTo(command);
        command.Options.Add(phase);
        command.Options.Add(rate);
        command.Options.Add(exit);
        command.SetAction(async (result, cancellationToken) =>
        {
            ExperimentOptions options;
            try
            {
                options = new ExperimentOptions
                {
                    Scenario = "retry-storm",
                    Phase = LoadSyntax.ParseDuration(result.GetValue(phase)!, "--phase"),
                    Rate = LoadSyntax.ParseRate(result.GetValue(rate)!, "--rate"),
                };
            }
            catch (LoadException ex)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
                return 2;
            }

            return await LabSession.RunAsync(topology.Read(result), (lab, token) => RunAsync(lab, options, token),
                waitForStop: !result.GetValue(exit), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(RunningLab lab, ExperimentOptions options, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLine("[bold]The retry-storm story.[/] Payments starts failing. The storefront retries the checkout, the order grain " +
                               "retries the charge, the payments client retries the HTTP call: 3 × 3 × 3 requests per checkout hit a " +
                               "service that is already down. Then the cure: one retrying layer with jittered backoff and a retry budget.");
        AnsiConsole.MarkupLineInterpolated($"[grey]Three phases of {options.Phase.TotalSeconds:0} s at {options.Rate:0.#} journeys/s: baseline, fault, fault+cure.[/]");
        var (exitCode, report) = await ExperimentCommand.RunOnAsync(lab, options, output: null, cancellationToken);
        if (report?.Phase("fault") is not { } fault)
        {
            return exitCode == 0 ? 1 : exitCode;
        }

        var amplification = fault.Figures.GetValueOrDefault("amplification");
        var checkout = fault.TypicalFailures.FirstOrDefault(f => f.Step == "checkout");
        if (checkout is not null)
        {
            var link = report.TraceLinks.AspireFor(checkout.TraceId);
            AnsiConsole.MarkupLineInterpolated(
                $"[bold]One amplified checkout[/] ({checkout.Status} after {checkout.LatencyMs:0} ms; about {amplification:0.#} requests reached payments for each checkout in this phase):");
            AnsiConsole.MarkupLineInterpolated($"  {link ?? $"trace id {checkout.TraceId}"}");
            AnsiConsole.MarkupLine("[grey]  In the trace: the storefront's attempts, each order-grain PlaceAsync with its charge attempts, each with its HTTP client spans and payments' 503s.[/]");
        }

        AnsiConsole.MarkupLine("[grey]Next: `lab experiment NAME` runs any scenario the same way; `lab scenario list` shows them all.[/]");
        return exitCode;
    }
}
