using System.Globalization;
using Lab.Load.Engine;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Lab.Load.Cli;

/// <summary>Keeps the latest snapshot; the live view reads it on its own schedule.</summary>
internal sealed class LatestProgress : IProgress<LoadProgress>
{
    private volatile LoadProgress? _latest;

    public LoadProgress? Latest => _latest;

    public void Report(LoadProgress value) => _latest = value;
}

/// <summary>One plain line every few seconds, for logs and CI where a live display would be noise.</summary>
internal sealed class PlainProgress(IAnsiConsole console, TimeSpan interval) : IProgress<LoadProgress>
{
    private readonly TimeSpan _interval = interval;
    private TimeSpan _next = interval;

    public void Report(LoadProgress value)
    {
        if (value.Elapsed < _next)
        {
            return;
        }

        _next += _interval;
        console.WriteLine(LiveProgressView.Line(value));
    }
}

public static class LiveProgressView
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Line(LoadProgress p) =>
        string.Create(Inv, $"[{p.Elapsed.TotalSeconds:0}s/{p.Duration.TotalSeconds:0}s] {Rates(p)}, errors {p.ErrorRate * 100:0.##}%, p50 {Ms(p.P50Ms)} p99 {Ms(p.P99Ms)} ms, in flight {p.InFlight}")
        + (p.Dropped > 0 ? $", dropped {p.Dropped}" : "")
        + (p.ActiveScenarios.Count > 0 ? $", active: {string.Join(",", p.ActiveScenarios)}" : "");

    public static IRenderable Render(LoadProgress? p, string title)
    {
        var grid = new Grid().AddColumn().AddColumn();
        if (p is null)
        {
            grid.AddRow("[grey]starting…[/]", "");
            return new Panel(grid).Header(Markup.Escape(title));
        }

        var fraction = p.Duration.TotalSeconds <= 0 ? 1 : Math.Clamp(p.Elapsed.TotalSeconds / p.Duration.TotalSeconds, 0, 1);
        var bar = new string('█', (int)(fraction * 30)).PadRight(30, '░');
        grid.AddRow("elapsed", string.Create(Inv, $"{bar} {p.Elapsed.TotalSeconds:0}s / {p.Duration.TotalSeconds:0}s"));
        grid.AddRow("phase", Markup.Escape(p.Phase));
        grid.AddRow("rate", Markup.Escape(Rates(p)));
        var errorColor = p.ErrorRate > 0.01 ? "red" : p.ErrorRate > 0 ? "yellow" : "green";
        grid.AddRow("errors", string.Create(Inv, $"[{errorColor}]{p.ErrorRate * 100:0.##}%[/] now, {p.Errors} of {p.Requests} requests so far"));
        grid.AddRow("latency (5 s)", $"p50 {Ms(p.P50Ms)} ms, p99 {Ms(p.P99Ms)} ms");
        var schedule = string.Create(Inv, $"in flight {p.InFlight}");
        if (p.TargetRate is not null)
        {
            schedule += string.Create(Inv, $", queued {p.Queued}, late {p.Late}, ") + (p.Dropped > 0 ? $"[red]dropped {p.Dropped}[/]" : "dropped 0");
        }

        grid.AddRow("schedule", schedule);
        grid.AddRow("active scenarios", p.ActiveScenarios.Count == 0 ? "[grey]none[/]" : Markup.Escape(string.Join(", ", p.ActiveScenarios)));
        return new Panel(grid).Header(Markup.Escape(title));
    }

    private static string Rates(LoadProgress p) =>
        p.TargetRate is { } target
            ? string.Create(Inv, $"{p.JourneyRate:0.#}/s journeys of {target:0.#}/s planned, {p.RequestRate:0.#} req/s")
            : string.Create(Inv, $"{p.JourneyRate:0.#}/s journeys, {p.RequestRate:0.#} req/s");

    private static string Ms(double? ms) => ms is null ? "-" : ms.Value.ToString(ms < 10 ? "0.##" : "0.#", Inv);
}
