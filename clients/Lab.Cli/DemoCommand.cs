using System.CommandLine;
using Lab.Cli.Demo;
using Lab.Cli.Launch;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Spectre.Console;

namespace Lab.Cli;

public static class DemoCommand
{
    public static Command Create()
    {
        var topology = new TopologyOptions();
        var shoppers = new Option<int>("--shoppers") { Description = "How many shoppers the demo workload runs (1-1000)", DefaultValueFactory = _ => 40 };
        shoppers.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 1000)
            {
                result.AddError("--shoppers must be between 1 and 1000.");
            }
        });
        var exit = new Option<bool>("--exit") { Description = "Stop the lab when the demo is done instead of keeping it up" };
        var command = new Command("demo", "Start the lab, run a short shopping workload, and show what happened and where its traces are.");
        topology.AddTo(command);
        command.Options.Add(shoppers);
        command.Options.Add(exit);
        command.SetAction((result, cancellationToken) => LabSession.RunAsync(topology.Read(result),
            (lab, token) => RunAsync(lab, result.GetValue(shoppers), token), waitForStop: !result.GetValue(exit), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(RunningLab lab, int shoppers, CancellationToken cancellationToken)
    {
        using var tracing = lab.TelemetryViewerUrl is null
            ? null
            : Sdk.CreateTracerProviderBuilder()
                .ConfigureResource(resource => resource.AddService("lab-cli"))
                .AddSource(DemoWorkload.Source.Name)
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(otlp => otlp.Endpoint = new Uri($"http://127.0.0.1:{lab.Topology.OtlpGrpcPort}"))
                .Build();
        using var http = new HttpClient { BaseAddress = new Uri(lab.Topology.StorefrontUrl + "/"), Timeout = TimeSpan.FromSeconds(60) };

        var requests = await AnsiConsole.Status().StartAsync($"Running {shoppers} shoppers...", _ =>
            new DemoWorkload(http).RunAsync(shoppers, concurrency: 4, seed: 42, cancellationToken));
        tracing?.ForceFlush();
        DemoReport.Print(requests, lab);
        return requests.Any(request => request.Status is 0 or >= 500) ? 1 : 0;
    }
}
