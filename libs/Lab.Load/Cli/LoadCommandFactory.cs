using System.CommandLine;
using System.CommandLine.Parsing;
using Lab.Load.Engine;
using Lab.Load.Journeys;
using Lab.Load.Plan;
using Lab.Load.Reporting;
using Spectre.Console;

namespace Lab.Load.Cli;

/// <summary>Defaults the host CLI supplies (from its configuration) for <c>lab load</c>.</summary>
public sealed record LoadDefaults
{
    public Uri Target { get; init; } = new("http://127.0.0.1:5100");

    /// <summary>Bearer token of the scenario control API.</summary>
    public string? Token { get; init; }

    public string? AspireUrl { get; init; } = "http://127.0.0.1:18888";

    public string? JaegerUrl { get; init; } = "http://127.0.0.1:16686";

    /// <summary>Where report files go when --out is not given; null writes none.</summary>
    public string? OutDirectory { get; init; }
}

/// <summary>Builds the <c>load</c> command; the host CLI adds it to its root command.</summary>
public static class LoadCommandFactory
{
    /// <summary>
    /// Lets socket completions run on the socket engine's own thread instead of hopping to the thread pool.
    /// The load client never blocks in a continuation, and on a 2-core machine the hop (a thread wake-up per
    /// response) is what separates it from wrk. The runtime reads the switch once, when the first socket is
    /// used, so call this first thing in Main, and only in a process that runs nothing but the load client.
    /// </summary>
    public static void UseInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }
    }

    /// <param name="defaults">Called when the command runs, so the host can resolve configuration late.</param>
    /// <param name="console">Where output goes; default the process console.</param>
    /// <param name="runOptions">Collaborators for the run (tests replace the control API or transport).</param>
    public static Command Create(Func<LoadDefaults>? defaults = null, IAnsiConsole? console = null, LoadRunOptions? runOptions = null)
    {
        defaults ??= () => new LoadDefaults();
        var target = new Option<string?>("--target") { Description = "Base URL of the shop's storefront (default http://127.0.0.1:5100)." };
        var rate = new Option<string?>("--rate") { Description = "Open model: constant arrival rate of journeys, e.g. 500/s (default 100/s)." };
        var ramp = new Option<string?>("--ramp") { Description = "Open model: rate ramping linearly over the run, e.g. 100/s:1000/s." };
        var users = new Option<int?>("--users") { Description = "Closed model: this many virtual users, each running journeys back to back." };
        var think = new Option<string?>("--think") { Description = "Closed model: pause between a user's journeys, e.g. 100ms." };
        var duration = new Option<string?>("--duration") { Description = "How long to run, e.g. 30s or 2m (default 30s)." };
        var mix = new Option<string?>("--mix") { Description = "Journey weights, e.g. browse=60,cart=25,checkout=10,history=5. Journeys: browse, cart, checkout, history, wishlist, restock, report, get." };
        var preset = new Option<string?>("--preset") { Description = $"A named mix: {string.Join(", ", JourneyMix.Presets.Keys)}." };
        var at = new Option<string[]>("--at")
        {
            Description = "Timeline mark, repeatable: --at 20s enable NAME [--set k=v ...] or --at 40s disable NAME. The report is split at each mark.",
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var set = new Option<string[]>("--set")
        {
            Description = "Scenario parameter for the preceding --at ... enable, e.g. --set delay=200ms.",
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var threshold = new Option<string[]>("--threshold")
        {
            Description = "Pass/fail condition, repeatable: \"p99<250ms\", \"errors<1%\", \"rate>400/s\", \"checkout:p99<1s\". Exit code 99 when one fails.",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string?>("--out") { Description = "Folder for report.json, report.md, report.html and latency.hgrm." };
        var token = new Option<string?>("--token") { Description = "Bearer token for the scenario control API (timeline marks)." };
        var seed = new Option<int?>("--seed") { Description = "Seed of the journey and key choices (default random; printed in the report)." };
        var maxInFlight = new Option<int?>("--max-in-flight") { Description = "Open model: most journeys at once, also the connection limit (default 256)." };
        var slowest = new Option<int?>("--slowest") { Description = "How many of the slowest requests the report lists with trace ids (default 10)." };
        var aspireUrl = new Option<string?>("--aspire-url") { Description = "Aspire dashboard base URL for trace links." };
        var jaegerUrl = new Option<string?>("--jaeger-url") { Description = "Jaeger UI base URL for trace links." };
        var timeout = new Option<string?>("--timeout") { Description = "Per-request timeout (default 30s)." };
        var warmUp = new Option<string?>("--warmup") { Description = "Run the same load this long first and discard it (JIT, connections), e.g. 3s." };
        var transport = new Option<string?>("--transport") { Description = "HTTP client: auto (raw sockets for http://, HttpClient for https://), raw or httpclient." };
        var format = new Option<string>("--output", "-o")
        {
            Description = "table (for people) or json: report.json's document on stdout and nothing else (no banner, no progress); --out still writes the files.",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "json");
        var noProgress = new Option<bool>("--no-progress") { Description = "No live progress (it is off anyway when output is redirected)." };

        var command = new Command("load", "Drive the shop with user journeys (open or closed model), then report latency, errors and traces.");
        foreach (var option in new Option[] { target, rate, ramp, users, think, duration, mix, preset, at, set, threshold, output, format, token, seed, maxInFlight, slowest, aspireUrl, jaegerUrl, timeout, warmUp, transport, noProgress })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var d = defaults();
            var args = new LoadArguments
            {
                Target = result.GetValue(target) ?? d.Target.ToString(),
                Rate = result.GetValue(rate),
                Ramp = result.GetValue(ramp),
                Users = result.GetValue(users),
                Think = result.GetValue(think),
                Duration = result.GetValue(duration),
                Mix = result.GetValue(mix),
                Preset = result.GetValue(preset),
                Marks = TimelineTokens(result),
                Thresholds = result.GetValue(threshold) ?? [],
                Token = result.GetValue(token) ?? d.Token,
                Seed = result.GetValue(seed),
                MaxInFlight = result.GetValue(maxInFlight),
                Slowest = result.GetValue(slowest),
                AspireUrl = result.GetValue(aspireUrl) ?? d.AspireUrl,
                JaegerUrl = result.GetValue(jaegerUrl) ?? d.JaegerUrl,
                Timeout = result.GetValue(timeout),
                WarmUp = result.GetValue(warmUp),
                Transport = result.GetValue(transport),
            };
            return await LoadCommand.RunAsync(
                args,
                result.GetValue(output) ?? d.OutDirectory,
                !result.GetValue(noProgress),
                console ?? AnsiConsole.Console,
                runOptions ?? new LoadRunOptions(),
                cancellationToken,
                json: result.GetValue(format) == "json");
        });
        return command;
    }

    /// <summary>
    /// Pairs each --at with the --set options that follow it, in command-line order (an option's values alone
    /// would lose which mark a setting belongs to).
    /// </summary>
    internal static List<(IReadOnlyList<string> Words, IReadOnlyList<string> Settings)> TimelineTokens(ParseResult result)
    {
        var marks = new List<(List<string> Words, List<string> Settings)>();
        List<string>? collecting = null;
        foreach (var token in result.Tokens)
        {
            if (token.Type == TokenType.Option)
            {
                collecting = token.Value switch
                {
                    "--at" => NewMark(marks),
                    "--set" when marks.Count > 0 => marks[^1].Settings,
                    "--set" => throw LoadException.Usage("--set must follow an --at ... enable NAME mark."),
                    _ => null,
                };
                continue;
            }

            if (token.Type == TokenType.Argument && collecting is not null)
            {
                collecting.AddRange(token.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            }
            else
            {
                collecting = null;
            }
        }

        return marks.Select(m => ((IReadOnlyList<string>)m.Words, (IReadOnlyList<string>)m.Settings)).ToList();

        static List<string> NewMark(List<(List<string> Words, List<string> Settings)> marks)
        {
            marks.Add(([], []));
            return marks[^1].Words;
        }
    }
}

/// <summary>What <c>lab load</c> does once its options are read: plan, run with progress, report, exit code.</summary>
public static class LoadCommand
{
    /// <param name="json">Print report.json's document and nothing else (errors as {"error": ...}).</param>
    public static async Task<int> RunAsync(LoadArguments args, string? outDirectory, bool progress, IAnsiConsole console, LoadRunOptions runOptions,
        CancellationToken cancellationToken, bool json = false)
    {
        if (json)
        {
            return await RunForScriptAsync(args, outDirectory, console, runOptions, cancellationToken);
        }

        try
        {
            var plan = LoadPlanBuilder.Build(args, runOptions.Journeys);
            console.MarkupLine($"[bold]lab load[/] {Markup.Escape(plan.Target.ToString())}: {Markup.Escape(Describe(plan))} for {LoadSyntax.FormatDuration(plan.Duration)}, mix {Markup.Escape(plan.Mix.ToString())}, seed {plan.Seed}");

            var interactive = progress && console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
            if (Console.IsOutputRedirected && ReferenceEquals(console, AnsiConsole.Console))
            {
                // Redirected output defaults to 80 columns, which folds the tables; logs can take wider lines.
                console.Profile.Width = Math.Max(console.Profile.Width, 150);
            }

            LoadReport report;
            if (interactive)
            {
                var latest = new LatestProgress();
                var run = LoadRunner.RunAsync(plan, runOptions, latest, cancellationToken);
                var title = $"lab load → {plan.Target}";
                await console.Live(LiveProgressView.Render(null, title)).AutoClear(false).StartAsync(async live =>
                {
                    while (!run.IsCompleted)
                    {
                        await Task.WhenAny(run, Task.Delay(500, CancellationToken.None));
                        live.UpdateTarget(LiveProgressView.Render(latest.Latest, title));
                        live.Refresh();
                    }
                });
                report = await run;
            }
            else
            {
                report = await LoadRunner.RunAsync(plan, runOptions, progress ? new PlainProgress(console, TimeSpan.FromSeconds(5)) : null, cancellationToken);
            }

            ConsoleReportWriter.Write(report, console);
            if (outDirectory is not null)
            {
                var files = await ReportFiles.WriteAllAsync(report, outDirectory, CancellationToken.None);
                console.MarkupLine($"reports: {Markup.Escape(string.Join(", ", files.Select(Path.GetFileName)))} in {Markup.Escape(Path.GetFullPath(outDirectory))}");
            }

            if (report.Interrupted)
            {
                return LoadExitCodes.Cancelled;
            }

            if (!report.Passed)
            {
                var failed = report.Thresholds.Where(t => !t.Passed).Select(t => $"{t.Expression} ({t.Scope}: {t.ActualText})");
                console.MarkupLine($"[red]threshold failed:[/] {Markup.Escape(string.Join("; ", failed))}");
                return LoadExitCodes.ThresholdsFailed;
            }

            return LoadExitCodes.Success;
        }
        catch (LoadException e)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return e.ExitCode;
        }
    }

    private static async Task<int> RunForScriptAsync(LoadArguments args, string? outDirectory, IAnsiConsole console, LoadRunOptions runOptions,
        CancellationToken cancellationToken)
    {
        var writer = console.Profile.Out.Writer;
        try
        {
            var plan = LoadPlanBuilder.Build(args, runOptions.Journeys);
            var report = await LoadRunner.RunAsync(plan, runOptions, null, cancellationToken);
            if (outDirectory is not null)
            {
                await ReportFiles.WriteAllAsync(report, outDirectory, CancellationToken.None);
            }

            writer.WriteLine(JsonReportWriter.Write(report));
            return report.Interrupted ? LoadExitCodes.Cancelled : report.Passed ? LoadExitCodes.Success : LoadExitCodes.ThresholdsFailed;
        }
        catch (LoadException e)
        {
            writer.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { error = e.Message }, JsonReportWriter.Options));
            return e.ExitCode;
        }
    }

    private static string Describe(LoadPlan plan) => plan.Model switch
    {
        OpenModel { IsRamp: false } o => $"open model at {LoadSyntax.FormatRate(o.StartRate)}",
        OpenModel o => $"open model ramping {LoadSyntax.FormatRate(o.StartRate)} → {LoadSyntax.FormatRate(o.EndRate)}",
        ClosedModel c => $"closed model, {c.Users} users, think {LoadSyntax.FormatDuration(c.ThinkTime)}",
        _ => "?",
    };
}
