using System.CommandLine;
using System.Globalization;
using Lab.Cli.Experiment;
using Lab.Cli.Launch;
using Lab.Load;
using Lab.Load.Plan;
using Lab.Scenarios;
using Spectre.Console;

namespace Lab.Cli;

/// <summary>
/// <c>lab experiment NAME</c>: starts the embedded lab, runs baseline, fault and fault+cure phases under the same
/// open-model load, and writes one report that puts the phases side by side.
/// <c>lab experiment --all</c> runs every scenario's experiment in turn with short phases and writes one summary of the verdicts.
/// Exit codes: 0 done, 1 the cure phase broke an invariant (or, with --all, an experiment could not run), 2 usage error or the
/// lab could not start, 130 interrupted.
/// </summary>
public static class ExperimentCommand
{
    public static Command Create()
    {
        var topology = new TopologyOptions();
        var name = new Argument<string?>("scenario") { Description = "The scenario to study (lab scenario list shows them all)", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = $"Every scenario's experiment in turn (phases of {SuitePhase.TotalSeconds:0} s unless --phase says otherwise), and one summary of the verdicts" };
        var rate = new Option<string?>("--rate") { Description = "Journeys per second in every phase (open model) [default: the rate the scenario's experiment names, else 20/s]" };
        var phase = new Option<string>("--phase") { Description = "Length of each phase (default 30s; 6s with --all)", DefaultValueFactory = _ => "30s" };
        var mix = new Option<string?>("--mix") { Description = "Journey mix (checkout=70,browse=30) or preset; default: the one that exposes the scenario" };
        var set = new Option<string[]>("--set") { Description = "A fault parameter, key=value (repeatable)", AllowMultipleArgumentsPerToken = false };
        var noCure = new Option<bool>("--no-cure") { Description = "Skip the fault+cure phase" };
        var seed = new Option<int>("--seed") { Description = "Seed of the load and of the scenario's random choices", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "Directory for the report (default: DATA_DIR/experiments/NAME-TIME; with --all, DATA_DIR/experiments/all-TIME)" };
        var format = new Option<string>("--output", "-o")
        {
            Description = "table (for people) or json: experiment.json's document on stdout and nothing else (progress and the lab's messages go to stderr), or {\"error\"}; --out still writes the files.",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "json");
        var command = new Command("experiment", "Run a scenario as an experiment: baseline, fault and fault+cure phases under the same load, side by side.");
        command.Arguments.Add(name);
        foreach (var option in new Option[] { all, rate, phase, mix, set, noCure, seed, output, format })
        {
            command.Options.Add(option);
        }

        topology.AddTo(command);
        command.Validators.Add(result =>
        {
            var named = result.GetValue(name) is not null;
            if (result.GetValue(all) == named)
            {
                result.AddError(named ? "Give a scenario or --all, not both." : "Name the scenario to study (lab scenario list shows them all), or give --all to run every one.");
            }
            else if (!named && (result.GetResult(set) is { Implicit: false } || result.GetResult(mix) is not null))
            {
                result.AddError("--set and --mix are one scenario's: with --all each experiment runs with its own parameters and mix.");
            }
        });
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(format) == "json")
            {
                using var json = JsonOutput.Begin();
                var exitCode = await RunCommandAsync(result, cancellationToken);
                json.End(exitCode);
                return exitCode;
            }

            return await RunCommandAsync(result, cancellationToken);
        });
        return command;

        async Task<int> RunCommandAsync(ParseResult result, CancellationToken cancellationToken)
        {
            var suite = result.GetValue(all);
            ExperimentOptions options;
            try
            {
                options = new ExperimentOptions
                {
                    Scenario = result.GetValue(name) ?? "",
                    Rate = result.GetValue(rate) is { } text ? LoadSyntax.ParseRate(text, "--rate") : null,
                    Phase = suite && result.GetResult(phase) is null or { Implicit: true } ? SuitePhase : LoadSyntax.ParseDuration(result.GetValue(phase)!, "--phase"),
                    Mix = result.GetValue(mix),
                    Set = (result.GetValue(set) ?? []).Select(text => LoadSyntax.ParseKeyValue(text)).ToDictionary(),
                    WithCure = !result.GetValue(noCure),
                    Seed = result.GetValue(seed),
                };
                Validate(options);
            }
            catch (Exception ex) when (ex is LoadException or ArgumentException)
            {
                return JsonOutput.Error(ex.Message);
            }

            if (suite)
            {
                var lab = topology.Read(result);
                var directory = result.GetValue(output) ?? Path.Combine(lab.DataDirectory, "experiments", $"all-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}");
                return await ExperimentSuite.RunAsync(lab, options, directory, result.GetValue(format) == "json", cancellationToken);
            }

            ExperimentSpec spec;
            try
            {
                spec = ExperimentRunner.SpecOf(options.Scenario);
            }
            catch (ExperimentException ex)
            {
                return JsonOutput.Error(ex.Message);
            }

            var single = WithSettings(topology.Read(result), spec.Settings);
            return await LabSession.RunAsync(single, (running, token) => RunAsync(running, options, result.GetValue(output), token),
                waitForStop: false, cancellationToken);
        }
    }

    /// <summary>The length of each phase with --all: short, so the whole catalog runs in well under an hour.</summary>
    public static readonly TimeSpan SuitePhase = TimeSpan.FromSeconds(6);

    /// <summary>Runs the experiment on a running lab, prints and writes the report. Used by <c>lab demo</c> too.</summary>
    public static async Task<(int ExitCode, ExperimentReport? Report)> RunOnAsync(RunningLab lab, ExperimentOptions options, string? output,
        CancellationToken cancellationToken)
    {
        ExperimentReport report;
        try
        {
            report = Console.IsOutputRedirected
                ? await ExperimentRunner.RunAsync(options, LabOf(lab), PlainStatus(), cancellationToken)
                : await AnsiConsole.Status().StartAsync($"Experiment {options.Scenario}...", context =>
                    ExperimentRunner.RunAsync(options, LabOf(lab), message => context.Status(Markup.Escape(message)), cancellationToken));
        }
        catch (Exception ex) when (ex is ExperimentException or LoadException)
        {
            return (JsonOutput.Error(ex.Message), null);
        }

        ExperimentReportWriter.WriteConsole(report, AnsiConsole.Console);
        var directory = output ?? Path.Combine(lab.DataDirectory, "experiments", $"{options.Scenario}-{report.StartedAt:yyyyMMdd-HHmmss}");
        await ExperimentReportWriter.WriteAllAsync(report, directory, cancellationToken);
        JsonOutput.Document(ExperimentReportWriter.ToJson(report));
        AnsiConsole.MarkupLineInterpolated($"report: {Path.Combine(directory, ExperimentReportWriter.Html)} (and {ExperimentReportWriter.Json}, {ExperimentReportWriter.Markdown}, one load report per phase)");

        if (report.Phase("fault+cure") is { NewViolations.Count: > 0 } cured)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]The cure phase broke {cured.NewViolations.Count} invariant(s); see the report.[/]");
            return (1, report);
        }

        return (0, report);
    }

    /// <summary>For logs and CI: each phase's start, and its progress every 5 s, instead of a live display.</summary>
    private static Action<string> PlainStatus()
    {
        var lastProgress = System.Diagnostics.Stopwatch.StartNew();
        string? lastPhase = null;
        return message =>
        {
            var phase = message.Split(" · ")[0];
            if (phase != lastPhase || lastProgress.Elapsed >= TimeSpan.FromSeconds(5))
            {
                lastPhase = phase;
                lastProgress.Restart();
                Console.WriteLine(message);
            }
        };
    }

    private static async Task<int> RunAsync(RunningLab lab, ExperimentOptions options, string? output, CancellationToken cancellationToken) =>
        (await RunOnAsync(lab, options, output, cancellationToken)).ExitCode;

    public static ExperimentLab LabOf(RunningLab lab)
    {
        var services = new Dictionary<string, Uri>
        {
            ["storefront"] = new(lab.Topology.StorefrontUrl),
            ["payments"] = new(lab.Topology.PaymentsUrl),
        };
        for (var silo = 1; silo <= lab.Topology.Silos; silo++)
        {
            services[$"silo-{silo}"] = new Uri(lab.Topology.SiloUrl(silo));
        }

        // The journeys must draw from the keys the lab was seeded with (a smaller seed is set through Seed__* settings).
        var keys = new WorkloadKeys();
        if (lab.Topology.Settings.TryGetValue("Seed__Products", out var products) && int.TryParse(products, CultureInfo.InvariantCulture, out var skuCount))
        {
            keys = keys with { SkuCount = skuCount };
        }

        if (lab.Topology.Settings.TryGetValue("Seed__Customers", out var customers) && int.TryParse(customers, CultureInfo.InvariantCulture, out var customerCount))
        {
            keys = keys with { CustomerCount = customerCount };
        }

        return new ExperimentLab(new Uri(lab.Topology.StorefrontUrl), services, lab.ControlToken, lab.DataDirectory, lab.TelemetryViewerUrl, keys, lab.Topology.Postgres);
    }

    public static LabTopology WithSettings(LabTopology topology, IReadOnlyDictionary<string, string> settings) =>
        settings.Count == 0 ? topology : topology with { Settings = new Dictionary<string, string>(topology.Settings.Concat(settings)) };

    private static void Validate(ExperimentOptions options)
    {
        if (options.Rate is <= 0 or > 2000)
        {
            throw new ArgumentException("--rate must be between 0 and 2000 journeys per second.");
        }

        if (options.Phase < TimeSpan.FromSeconds(2) || options.Phase > TimeSpan.FromHours(1))
        {
            throw new ArgumentException("--phase must be between 2s and 1h.");
        }
    }
}
