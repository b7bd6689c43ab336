using Lab.Cli.Launch;
using Spectre.Console;

namespace Lab.Cli.Demo;

public static class DemoReport
{
    public static void Print(IReadOnlyList<DemoRequest> requests, RunningLab lab)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]What the demo did[/]");
        table.AddColumn("Step");
        table.AddColumn(new TableColumn("Requests").RightAligned());
        table.AddColumn("Answers");
        table.AddColumn(new TableColumn("p50 ms").RightAligned());
        table.AddColumn(new TableColumn("max ms").RightAligned());
        foreach (var step in requests.GroupBy(request => request.Step))
        {
            var latencies = step.Select(request => request.Milliseconds).Order().ToList();
            var answers = string.Join(", ", step.GroupBy(request => request.Status).OrderBy(group => group.Key)
                .Select(group => $"{(group.Key == 0 ? "no answer" : group.Key.ToString())} x{group.Count()}"));
            table.AddRow(step.Key, step.Count().ToString(), answers, latencies[latencies.Count / 2].ToString("0.0"), latencies[^1].ToString("0.0"));
        }

        AnsiConsole.Write(table);
        var checkouts = requests.Where(request => request.Step == "checkout").ToList();
        AnsiConsole.MarkupLineInterpolated(
            $"Checkouts: [green]{checkouts.Count(c => c.Status == 201)} confirmed[/], {checkouts.Count(c => c.Status == 409)} out of stock, {checkouts.Count(c => c.Status is not (201 or 409))} failed otherwise.");
        var traced = checkouts.FirstOrDefault(c => c.Status == 201) ?? checkouts.FirstOrDefault();
        if (traced is not null && lab.TraceUrl(traced.TraceId) is { } url)
        {
            AnsiConsole.MarkupLineInterpolated($"One checkout's trace (storefront -> grains -> database -> payments): [link]{url}[/]");
        }
        else if (traced is not null)
        {
            AnsiConsole.MarkupLineInterpolated($"One checkout's trace id: {traced.TraceId}");
        }
    }
}
