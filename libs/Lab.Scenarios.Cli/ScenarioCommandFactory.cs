using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Lab.Scenarios.Cli;

/// <summary>
/// Builds <c>lab scenario ...</c>: list | show NAME | enable NAME --set k=v [--target k=v] [--ttl 5m] [--seed N] |
/// change NAME ... | disable NAME | reset | status | history. Every error prints a clear message (with the
/// problem's field errors) and exits non-zero: 1 for a refused request, 2 when the lab cannot be reached.
/// </summary>
public static class ScenarioCommandFactory
{
    public const string DefaultUrl = "http://127.0.0.1:5100";
    public const string TokenEnvironmentVariable = "LAB_TOKEN";

    /// <summary>The width lists are laid out for when the output is not a terminal.</summary>
    public const int PipedWidth = 120;

    private static readonly JsonSerializerOptions JsonOutput = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <param name="console">Where to write (default: the terminal).</param>
    /// <param name="createHttpClient">Creates the HttpClient for a base address (tests pass their own).</param>
    public static Command Create(IAnsiConsole? console = null, Func<Uri, HttpClient>? createHttpClient = null)
    {
        var output = console ?? AnsiConsole.Console;
        var url = new Option<string>("--url")
        {
            Description = "Base address of the lab's control API (the storefront).",
            DefaultValueFactory = _ => DefaultUrl,
            Recursive = true,
        };
        var token = new Option<string?>("--token")
        {
            // Resolved when the command runs, not as a default value: help would print the secret itself.
            Description = $"Control token (default: ${TokenEnvironmentVariable}, else .lab/token in this directory or a parent).",
            Recursive = true,
        };

        var command = new Command("scenario", "List, inspect and switch failure scenarios.");
        command.Options.Add(url);
        command.Options.Add(token);

        var name = () => new Argument<string>("name") { Description = "Scenario name, e.g. fixed-latency." };
        var set = () => new Option<string[]>("--set")
        {
            Description = "Parameter as key=value; repeat for several.",
            AllowMultipleArgumentsPerToken = false,
        };
        var target = () => new Option<string[]>("--target")
        {
            Description = $"Target field as key=value ({string.Join(", ", TargetFilter.Keys)}); repeat for several.",
        };
        var ttl = () => new Option<string?>("--ttl") { Description = "Time to live, e.g. 5m (default from the lab's options)." };
        var seed = () => new Option<long?>("--seed") { Description = "Seed of the activation's random, to repeat a run." };

        var format = new Option<string>("--output", "-o")
        {
            Description = "table (for people) or json (the control API's own documents, for scripts).",
            DefaultValueFactory = _ => "table",
            Recursive = true,
        };
        format.AcceptOnlyFromAmong("table", "json");
        command.Options.Add(format);

        // A console given by the caller has the width it was given; the terminal's own, or 120 when piped.
        var width = () => console is not null || output.Profile.Out.IsTerminal ? output.Profile.Width : PipedWidth;

        // Prints the document as JSON when asked, else renders it for people.
        void Print<T>(ParseResult r, T document, Action<T> render)
        {
            if (r.GetValue(format) == "json")
            {
                output.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(document, JsonOutput));
            }
            else
            {
                render(document);
            }
        }

        Runner Run(ParseResult r) => new(output, r.GetValue(url)!, r.GetValue(token) ?? ResolveToken(Directory.GetCurrentDirectory()), createHttpClient);

        var list = new Command("list", "The catalog with live status.");
        list.SetAction((r, ct) => Run(r).ExecuteAsync(async api => Print(r, await api.ListAsync(ct), scenarios => Render.Catalog(output, scenarios, width()))));
        command.Subcommands.Add(list);

        var showName = name();
        var show = new Command("show", "A scenario's description, parameter schema, runbook and status.") { showName };
        show.SetAction((r, ct) => Run(r).ExecuteAsync(async api => Print(r, await api.GetAsync(r.GetValue(showName)!, ct), scenario => Render.Scenario(output, scenario))));
        command.Subcommands.Add(show);

        command.Subcommands.Add(Mutation("enable", "Switches a scenario on.", (api, n, p, t, l, s, ct) => api.EnableAsync(n, p, t, l, s, ct)));
        command.Subcommands.Add(Mutation("change", "Changes an active scenario's parameters, target, TTL or seed.", (api, n, p, t, l, s, ct) => api.ChangeAsync(n, p, t, l, s, ct)));

        var disableName = name();
        var disable = new Command("disable", "Switches a scenario off.") { disableName };
        disable.SetAction((r, ct) => Run(r).ExecuteAsync(async api => Render.Result(output, await api.DisableAsync(r.GetValue(disableName)!, ct))));
        command.Subcommands.Add(disable);

        var reset = new Command("reset", "Switches every scenario off.");
        reset.SetAction((r, ct) => Run(r).ExecuteAsync(async api => Render.Result(output, await api.ResetAsync(ct))));
        command.Subcommands.Add(reset);

        var status = new Command("status", "The active scenarios.");
        status.SetAction((r, ct) => Run(r).ExecuteAsync(async api => Print(r, await api.ActiveAsync(ct), active => Render.Active(output, active))));
        command.Subcommands.Add(status);

        var limit = new Option<int>("--limit") { Description = "How many lines.", DefaultValueFactory = _ => 50 };
        var history = new Command("history", "Who switched what and when, and what expired (newest first).") { limit };
        history.SetAction((r, ct) => Run(r).ExecuteAsync(async api => Print(r, await api.HistoryAsync(r.GetValue(limit), ct), entries => Render.History(output, entries))));
        command.Subcommands.Add(history);

        return command;

        Command Mutation(string verb, string description, Func<LabApiClient, string, IReadOnlyDictionary<string, string>?, IReadOnlyDictionary<string, string>?, string?, long?, CancellationToken, Task<ControlResult>> send)
        {
            var n = name();
            var s = set();
            var t = target();
            var l = ttl();
            var sd = seed();
            var cmd = new Command(verb, description) { n, s, t, l, sd };
            cmd.SetAction((r, ct) => Run(r).ExecuteAsync(async api =>
            {
                var parameters = ParsePairs(r.GetValue(s), "--set");
                var targets = ParsePairs(r.GetValue(t), "--target");
                Render.Result(output, await send(api, r.GetValue(n)!, parameters, targets, r.GetValue(l), r.GetValue(sd), ct), showActivation: true);
            }));
            return cmd;
        }
    }

    /// <summary>$LAB_TOKEN, else the first .lab/token found from <paramref name="directory"/> upwards, else null.</summary>
    public static string? ResolveToken(string directory)
    {
        if (Environment.GetEnvironmentVariable(TokenEnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment.Trim();
        }

        for (var dir = new DirectoryInfo(directory); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, ".lab", "token");
            if (File.Exists(file))
            {
                return File.ReadAllText(file).Trim();
            }
        }

        return null;
    }

    internal static Dictionary<string, string>? ParsePairs(string[]? pairs, string option)
    {
        if (pairs is null || pairs.Length == 0)
        {
            return null;
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                throw new UsageException($"{option} expects key=value, got '{pair}'.");
            }

            map[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        return map;
    }

    internal sealed class UsageException(string message) : Exception(message);

    private sealed class Runner(IAnsiConsole console, string url, string? token, Func<Uri, HttpClient>? createHttpClient)
    {
        public async Task<int> ExecuteAsync(Func<LabApiClient, Task> action)
        {
            if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var baseAddress))
            {
                console.MarkupLineInterpolated($"[red]--url '{url}' is not an absolute URL.[/]");
                return 1;
            }

            using var http = createHttpClient?.Invoke(baseAddress) ?? new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
            var api = new LabApiClient(http, token, $"{Environment.UserName}@cli");
            try
            {
                await action(api);
                return 0;
            }
            catch (LabApiException ex)
            {
                console.MarkupLineInterpolated($"[red]{ex.Status} {ex.Title}[/]{(ex.Detail is null ? "" : ": " + ex.Detail)}");
                foreach (var (field, messages) in ex.Errors)
                {
                    foreach (var message in messages)
                    {
                        console.MarkupLineInterpolated($"  [yellow]{field}[/]: {message}");
                    }
                }

                if (ex.Status == 401)
                {
                    console.MarkupLine($"Pass --token, set ${TokenEnvironmentVariable}, or run from the lab's directory (.lab/token).");
                }

                return 1;
            }
            catch (UsageException ex)
            {
                console.MarkupLineInterpolated($"[red]{ex.Message}[/]");
                return 1;
            }
            catch (HttpRequestException ex)
            {
                console.MarkupLineInterpolated($"[red]Cannot reach the lab at {baseAddress}[/]: {ex.Message}");
                console.MarkupLine("Is it running? Start it with 'lab up', or pass --url.");
                return 2;
            }
            catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
            {
                console.MarkupLineInterpolated($"[red]The lab at {baseAddress} did not answer in time.[/]");
                return 2;
            }
        }
    }

    private static class Render
    {
        /// <summary>
        /// One line per scenario, laid out for <paramref name="width"/> columns: names, categories and status whole, the
        /// description cut to what is left of the line (show gives all of it), so the list greps and fits a terminal.
        /// </summary>
        public static void Catalog(IAnsiConsole console, IReadOnlyList<ScenarioStatus> scenarios, int width)
        {
            var rows = scenarios
                .Select(s => (Name: s.Meta.Name, Category: s.Meta.Category, Status: s.Activation is { } a ? $"active ({Remaining(a)})" : "off", Description: s.Meta.Description))
                .Prepend((Name: "NAME", Category: "CATEGORY", Status: "STATUS", Description: "DESCRIPTION")).ToList();
            var nameWidth = rows.Max(r => r.Name.Length);
            var categoryWidth = rows.Max(r => r.Category.Length);
            var statusWidth = rows.Max(r => r.Status.Length);
            var writer = console.Profile.Out.Writer;
            foreach (var (name, category, status, description) in rows)
            {
                var line = $"{name.PadRight(nameWidth)}  {category.PadRight(categoryWidth)}  {status.PadRight(statusWidth)}  ";
                writer.WriteLine((line + OneLine(description, width - line.Length)).TrimEnd());
            }
        }

        /// <summary>The text on one line of at most <paramref name="room"/> characters, cut at a word with an ellipsis.</summary>
        private static string OneLine(string text, int room)
        {
            text = text.ReplaceLineEndings(" ");
            if (text.Length <= room)
            {
                return text;
            }

            if (room < 2)
            {
                return "";
            }

            var cut = text.LastIndexOf(' ', room - 1);
            return text[..(cut > room / 2 ? cut : room - 1)].TrimEnd() + "…";
        }

        public static void Scenario(IAnsiConsole console, ScenarioStatus status)
        {
            var m = status.Meta;
            console.Write(new Rule($"[bold]{Markup.Escape(m.Name)}[/] ({Markup.Escape(m.Category)})").LeftJustified());
            console.WriteLine(m.Description);
            console.MarkupLineInterpolated($"[bold]Hooks:[/] {string.Join(", ", m.Targets)}");
            console.MarkupLineInterpolated($"[bold]Signature:[/] {m.Signature}");
            console.MarkupLineInterpolated($"[bold]Cure:[/] {m.Cure ?? "-"}");

            var parameters = new Table().Border(TableBorder.Rounded).AddColumns("Parameter", "Type", "Default", "Range", "Description");
            foreach (var p in m.Parameters)
            {
                var range = p.AllowedValues is { Count: > 0 } allowed ? string.Join(" | ", allowed)
                    : p.Min is null && p.Max is null ? "" : $"{p.Min ?? "-"} .. {p.Max ?? "-"}";
                if (p.Cap != ResourceCapKind.None)
                {
                    range += $" (capped: {p.Cap})";
                }

                parameters.AddRow(p.Name, p.Type.ToString(), p.Default, range, p.Description);
            }

            console.Write(parameters);
            var runbook = new Grid().AddColumn().AddColumn();
            runbook.AddRow(new Markup("[bold]Break[/]"), new Text(m.Runbook.Break));
            runbook.AddRow(new Markup("[bold]Hint[/]"), new Text(m.Runbook.Hint));
            runbook.AddRow(new Markup("[bold]Verify[/]"), new Text(m.Runbook.Verify));
            runbook.AddRow(new Markup("[bold]Restore[/]"), new Text(m.Runbook.Restore));
            console.Write(new Panel(runbook).Header("Runbook").Border(BoxBorder.Rounded));
            if (status.Activation is { } a)
            {
                console.MarkupLineInterpolated($"[green]Active[/] since {a.ActivatedAt:u} by {a.ActivatedBy}: {a.DescribeParameters()}; target {a.Target}; {Remaining(a)}; seed {a.Seed}");
            }
            else
            {
                console.MarkupLine("[grey]Not active.[/]");
            }
        }

        public static void Result(IAnsiConsole console, ControlResult result, bool showActivation = false)
        {
            console.MarkupLineInterpolated($"[green]{result.Detail ?? "Done."}[/] (set version {result.Version})");
            if (showActivation && result.Activation is { } a)
            {
                Active(console, new ActiveScenarioSet(result.Version, [a]));
            }
        }

        public static void Active(IAnsiConsole console, ActiveScenarioSet set)
        {
            if (set.Activations.IsDefaultOrEmpty)
            {
                console.MarkupLine("[grey]No scenario is active.[/]");
                return;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("Scenario", "Parameters", "Target", "Expires", "Seed", "By");
            foreach (var a in set.Activations)
            {
                table.AddRow(a.Name, a.DescribeParameters(), a.Target.ToString(), Remaining(a), a.Seed.ToString(CultureInfo.InvariantCulture), a.ActivatedBy);
            }

            console.Write(table);
        }

        public static void History(IAnsiConsole console, IReadOnlyList<ScenarioHistoryEntry> entries)
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumns("At (UTC)", "Action", "Scenario", "By", "Parameters", "Detail");
            foreach (var e in entries)
            {
                table.AddRow(
                    e.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    e.Action.ToString(),
                    e.Name ?? "*",
                    e.Actor,
                    e.Parameters is null ? "" : string.Join(", ", e.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")),
                    e.Detail ?? "");
            }

            console.Write(table);
        }

        private static string Remaining(ScenarioActivation a)
        {
            var left = a.ExpiresAt - DateTimeOffset.UtcNow;
            return left <= TimeSpan.Zero ? "expired" : $"expires in {(left.TotalMinutes >= 1 ? $"{(int)left.TotalMinutes}m {left.Seconds}s" : $"{left.Seconds}s")}";
        }
    }
}
