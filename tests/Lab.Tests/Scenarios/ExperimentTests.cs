using Lab.Scenarios;
using System.Text.Json;
using Lab.Cli;
using Lab.Cli.Experiment;
using Lab.Cli.Verify;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// `lab experiment retry-storm` on real processes: three phases under the same load, and figures that agree with
/// what the test itself reads from the lab's metrics and databases.
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
[Collection(ScenarioProcessesCollection.Name)]
public sealed class ExperimentTests(ScenarioProcessesFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _reports = new("lab-experiment");

    [Fact]
    public async Task Retry_storm_experiment_reports_three_phases_whose_figures_match_the_lab_telemetry()
    {
        var lab = ExperimentCommand.LabOf(fixture.Lab);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Task.Delay(TimeSpan.FromSeconds(1)); // past the exporter's scrape cache, which an earlier scrape may have filled
        var before = await LabMetrics.ScrapeAsync(lab.Services, http, default);

        var report = await ExperimentRunner.RunAsync(
            new ExperimentOptions { Scenario = "retry-storm", Rate = 6, Phase = TimeSpan.FromSeconds(3), WarmUp = TimeSpan.Zero, Seed = 7 },
            lab, output.WriteLine, default);
        await Task.Delay(TimeSpan.FromSeconds(1)); // the scrape cache of the exporter
        var after = await LabMetrics.ScrapeAsync(lab.Services, http, default);
        await ExperimentReportWriter.WriteAllAsync(report, _reports.Path, default);
        output.WriteLine(ExperimentReportWriter.WriteMarkdown(report));

        // The JSON holds the three phases with every figure.
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_reports.Path, ExperimentReportWriter.Json)));
        var phases = json.RootElement.GetProperty("phases").EnumerateArray().ToList();
        Assert.Equal(["baseline", "fault", "fault+cure"], phases.Select(p => p.GetProperty("name").GetString()));
        Assert.All(phases, p => Assert.True(p.GetProperty("requests").GetProperty("count").GetInt64() > 0));
        Assert.True(File.Exists(Path.Combine(_reports.Path, ExperimentReportWriter.Html)));
        Assert.True(File.Exists(Path.Combine(_reports.Path, "phase-2-fault", "report.json")));

        double Figure(JsonElement phase, string name) => phase.GetProperty("figures").GetProperty(name).GetDouble();

        // Consistent with the telemetry: the charge requests of the three phases add up to what payments counted over the whole run.
        var charges = after.Sum("payments", LabMetricNames.HttpRequests, ("http_request_method", "POST"), ("http_route", "/api/charges/"))
                      - before.Sum("payments", LabMetricNames.HttpRequests, ("http_request_method", "POST"), ("http_route", "/api/charges/"));
        var reported = phases.Sum(p => Figure(p, "charge requests"));
        output.WriteLine($"charge requests: phases {reported}, payments counted {charges} over the whole run");
        Assert.Equal(charges, reported);

        // ... and with the load client: the storefront answered as many checkouts as the client sent in each phase.
        foreach (var phase in report.Phases)
        {
            var sent = phase.Load!.Journeys.Single(j => j.Name == "checkout").Steps.Single(s => s.Name == "checkout").Stats.Count;
            var amplification = phase.Figures["amplification"];
            Assert.NotNull(amplification);
            Assert.Equal(phase.Figures["charge requests"]!.Value / sent, amplification!.Value, precision: 2);
        }

        // The signature: 3 x 3 x 3 attempts at 100% failure; the cure retries at one layer within a budget.
        Assert.True(Figure(phases[0], "amplification") <= 1.05, "baseline: at most one charge request per checkout");
        Assert.True(Figure(phases[1], "amplification") >= 20, $"fault: amplification {Figure(phases[1], "amplification")}");
        Assert.True(Figure(phases[2], "amplification") <= 2, $"cure: amplification {Figure(phases[2], "amplification")}");
        Assert.True(report.Phases[1].Requests.ErrorRate > report.Phases[0].Requests.ErrorRate);
        Assert.NotEmpty(report.Phases[1].TypicalFailures);

        // The hypothesis (amplification at baseline) holds at baseline, deviates under the fault, and the verdict says
        // which probe deviated; the fault and the cure phases prove the scenario acted (its 503s and seam regressions).
        Assert.Equal(["amplification at baseline"], report.Hypothesis);
        Assert.Equal(PhaseVerdict.Held, report.Phases[0].Verdict!.Outcome);
        Assert.Null(report.Phases[0].Verdict!.Injections);
        var faultVerdict = report.Phases[1].Verdict!;
        Assert.Equal(PhaseVerdict.Deviated, faultVerdict.Outcome);
        Assert.Equal("amplification at baseline", Assert.Single(faultVerdict.Deviations).Probe);
        Assert.True(faultVerdict.Injections > 0, $"fault injections {faultVerdict.Injections}");
        var cureVerdict = report.Phases[2].Verdict!;
        Assert.True(cureVerdict.Injections > 0, $"cure injections {cureVerdict.Injections}");
        var cureProbe = Assert.Single(cureVerdict.Probes);
        Assert.Equal(cureProbe.Value <= cureProbe.Limit, cureProbe.Held);
        Assert.Equal(PhaseVerdict.Deviated, phases[1].GetProperty("verdict").GetProperty("outcome").GetString());

        // Afterwards: the scenario is off everywhere and the shop's invariants hold.
        Assert.Equal(0, after.Sum("", "lab_scenario_active"));
        using var shop = LabProcessesFixture.OpenDatabase(fixture.Lab, "shop.db");
        using var payments = LabProcessesFixture.OpenDatabase(fixture.Lab, "payments.db");
        Assert.Empty(ShopVerifier.Verify(shop, payments, TimeSpan.FromSeconds(30), DateTimeOffset.UtcNow));
    }

    public void Dispose() => _reports.Dispose();
}
