using System.Runtime.InteropServices;
using Spectre.Console;

namespace Lab.Cli.Launch;

/// <summary>Runs a lab for the length of a command: starts it, shows where everything is, stops it on Ctrl+C or SIGTERM.</summary>
public static class LabSession
{
    public static async Task<int> RunAsync(LabTopology topology, Func<RunningLab, CancellationToken, Task<int>> body,
        bool waitForStop, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        RunningLab? lab = null;
        try
        {
            lab = await AnsiConsole.Status().StartAsync("Starting the lab...", async status =>
                await LabLauncher.StartAsync(topology, message => status.Status($"Starting the lab: {message}..."), stop.Token));
            PrintUrls(lab);
            lab.Supervised += Report;
            var exitCode = await body(lab, stop.Token);
            if (waitForStop && !stop.IsCancellationRequested)
            {
                AnsiConsole.MarkupLine("[grey]The lab keeps running. Press Ctrl+C to stop it.[/]");
                await WaitUntilStoppedOrCrashedAsync(lab, stop.Token);
            }

            return exitCode;
        }
        catch (LaunchException ex)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {ex.Message}");
            return 2;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 130;
        }
        finally
        {
            if (lab is not null)
            {
                AnsiConsole.MarkupLine("[grey]Stopping the lab...[/]");
                await lab.DisposeAsync();
                AnsiConsole.MarkupLine("[grey]Stopped; no lab process is left running.[/]");
            }
        }

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The signal arrived while the session was already ending.
            }
        }
    }

    /// <summary>Tells the user about a process that exited on its own and what the supervisor did about it.</summary>
    private static void Report(ProcessRestartRecord record)
    {
        var exit = record.ExitCode is { } code ? $"code {code}" : "no exit code";
        switch (record.Outcome)
        {
            case ProcessRestartOutcome.Exited:
                AnsiConsole.MarkupLineInterpolated($"[yellow]{record.Name} (process {record.PreviousId}) exited ({exit}); starting it again[/]");
                break;
            case ProcessRestartOutcome.Healthy:
                AnsiConsole.MarkupLineInterpolated($"[green]{record.Name} is back as process {record.NewId}, healthy after {record.Took?.TotalSeconds:0.0} s[/]");
                break;
            case ProcessRestartOutcome.Failed:
                AnsiConsole.MarkupLineInterpolated($"[red]{record.Name} did not come back healthy: {record.Detail}[/]");
                break;
            case ProcessRestartOutcome.LeftDown:
                AnsiConsole.MarkupLineInterpolated($"[red]{record.Name} exited ({exit}) too often within a minute; it is left down[/]");
                break;
        }
    }

    public static void PrintUrls(RunningLab lab)
    {
        var topology = lab.Topology;
        var metrics = new List<string> { $"{topology.StorefrontUrl}/metrics" };
        metrics.AddRange(Enumerable.Range(1, topology.Silos).Select(silo => $"{topology.SiloUrl(silo)}/metrics"));
        metrics.Add($"{topology.PaymentsUrl}/metrics");
        (string What, IReadOnlyList<string> Values)[] rows =
        [
            ("Shop API (storefront)", [topology.StorefrontUrl + "/api/catalog/search?q=lamp"]),
            ("OpenAPI document", [topology.StorefrontUrl + "/openapi/v1.json"]),
            ("Payments API", [topology.PaymentsUrl + "/openapi/v1.json"]),
            ("Orleans dashboard", [topology.SiloUrl(1) + "/dashboard"]),
            ("Aspire dashboard (traces, metrics, logs)", [lab.TelemetryViewerUrl ?? "not running"]),
            ("Prometheus metrics", metrics),
            ("Control panel (the link below signs in)", [$"{topology.StorefrontUrl}/lab/"]),
            ("Control API (scenarios)", [$"{topology.StorefrontUrl}/lab/scenarios"]),
            ("Control token (lab scenario finds it)", [Path.Combine(lab.DataDirectory, ControlToken.FileName)]),
            ("Logs and data", [lab.DataDirectory]),
        ];

        AnsiConsole.MarkupLine($"[bold]The lab is up[/] ([grey]{lab.StartupTime.TotalSeconds:0.0} s[/])");
        // Plain lines, never wrapped: a URL copied from the terminal or a log opens. One that does not fit beside its
        // label goes on a line of its own.
        var width = Console.IsOutputRedirected ? 120 : AnsiConsole.Profile.Width;
        var labelWidth = rows.Max(row => row.What.Length);
        foreach (var (what, values) in rows)
        {
            for (var i = 0; i < values.Count; i++)
            {
                var label = i == 0 ? what : "";
                if (2 + labelWidth + 2 + values[i].Length <= width)
                {
                    Console.WriteLine($"  {label.PadRight(labelWidth)}  {values[i]}");
                }
                else
                {
                    if (label.Length > 0)
                    {
                        Console.WriteLine($"  {label}");
                    }

                    Console.WriteLine($"    {values[i]}");
                }
            }
        }

        // On a line of its own and unwrapped, so terminals make the whole link clickable.
        Console.WriteLine($"Control panel: {lab.ControlPanelUrl}");
        foreach (var note in lab.Notes)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        }
    }

    private static async Task WaitUntilStoppedOrCrashedAsync(RunningLab lab, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            if (lab.FirstExited() is { } crashed)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{crashed.Name} exited (code {crashed.ExitCode}); see {crashed.LogPath}[/]");
                return;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}
