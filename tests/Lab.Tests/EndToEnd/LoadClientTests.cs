using System.Text.Json;
using Lab.Load.Cli;
using Lab.Tests.Support;
using Spectre.Console.Testing;

namespace Lab.Tests.EndToEnd;

[Trait(TestStore.Trait, TestStore.Independent)]
[Collection(LabProcessesCollection.Name)]
public sealed class LoadClientTests(LabProcessesFixture fixture)
{
    [Fact]
    public async Task Lab_load_against_the_lab_reports_slowest_requests_whose_traces_are_in_the_viewer()
    {
        using var reports = new TempDirectory("lab-load-report");
        var console = new TestConsole();
        var command = LoadCommandFactory.Create(() => new LoadDefaults { Target = new Uri(fixture.Lab.Topology.StorefrontUrl) }, console);

        var exitCode = await command.Parse(["--rate", "60/s", "--duration", "8s", "--out", reports.Path, "--no-progress", "--seed", "5"]).InvokeAsync();

        Assert.True(exitCode == 0, console.Output);
        Assert.Contains("Slowest requests", console.Output);
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(reports.Path, "report.json")));
        var slowest = report.RootElement.GetProperty("slowest").EnumerateArray()
            .Select(request => request.GetProperty("traceId").GetString()!).Take(3).ToList();
        Assert.NotEmpty(slowest);

        using var viewer = new HttpClient { BaseAddress = new Uri(fixture.Lab.TelemetryViewerUrl!) };
        foreach (var traceId in slowest)
        {
            var spans = await Eventually.GetAsync(() => AspireTraces.ReadAsync(viewer, traceId),
                found => found.Any(span => span.Service == "lab-storefront"), TimeSpan.FromSeconds(30), $"trace {traceId} in the viewer");
            Assert.All(spans, span => Assert.Equal(traceId, span.TraceId));
        }
    }
}
