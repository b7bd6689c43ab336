using Lab.Load.Control;
using Lab.Load.Engine;
using Lab.Load.Journeys;
using Lab.Load.Plan;
using Lab.Load.Reporting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Lab.Load.Tests;

/// <summary>One real run, shared by the report format tests: two phases, some failures, a threshold.</summary>
public sealed class ReportFixture : IAsyncLifetime
{
    public LoadReport Report { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var n = 0;
        await using var server = await TestServer.StartAsync(app => app.MapGet("/", async () =>
        {
            var i = Interlocked.Increment(ref n);
            await Task.Delay(i % 10 == 0 ? 20 : 1);
            return i % 15 == 0 ? Results.Problem(statusCode: 500, title: "boom") : Results.Ok("ok");
        }));
        var plan = new LoadPlan
        {
            Target = server.Address,
            Model = OpenModel.Constant(150),
            Duration = TimeSpan.FromSeconds(3),
            Mix = JourneyMix.Parse("get=1", JourneyCatalog.Shop.Names),
            Seed = 5,
            Timeline = [LoadSyntax.ParseTimelineMark(["1500ms", "enable", "slow-db"], ["delay=5ms"])],
            Thresholds = [Threshold.Parse("p99<10s"), Threshold.Parse("errors<1%")],
        };
        Report = await LoadRunner.RunAsync(plan, new LoadRunOptions { ScenarioControl = new NullControl(), HarvestInterval = TimeSpan.FromMilliseconds(250) });
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private sealed class NullControl : IScenarioControl
    {
        public Task EnableAsync(string scenario, IReadOnlyDictionary<string, string> parameters, TimeSpan ttl, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DisableAsync(string scenario, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<IReadOnlyList<string>> GetActiveAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([]);
    }
}
