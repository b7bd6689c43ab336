using System.Globalization;
using System.Net;
using Lab.Cli.Launch;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// rolling-restart in the actor-system lab under a checkout load: the silos that may restart (on localhost clustering not
/// the primary, which holds the membership) are killed in turn and the launcher starts each again; with the cure each
/// leaves gracefully (exit code 0), only once the one before it is back; the failed checkouts of both are reported.
/// </summary>
[ScenarioTest(RollingRestartScenario.Name)]
[Collection(ActorSystemLabCollection.Name)]
public sealed class RollingRestartTests(ActorSystemLabFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task Rolling_restart_restarts_the_silos_in_turn_killed_or_gracefully_one_after_the_other()
    {
        var abrupt = await RolloutAsync(cure: false, firstCustomer: 230);
        var graceful = await RolloutAsync(cure: true, firstCustomer: 240);
        output.WriteLine($"killed in turn: {abrupt}");
        output.WriteLine($"graceful, health-gated: {graceful}");

        Assert.All(abrupt.ExitCodes, code => Assert.Equal(137, code));
        Assert.All(graceful.ExitCodes, code => Assert.Equal(0, code));
        // Health-gated: each silo stopped only once the one before it was back (two of them on PostgreSQL).
        for (var i = 1; i < graceful.Records.Count; i++)
        {
            var previous = graceful.Records[i - 1];
            Assert.True(graceful.Records[i].ExitedAt >= previous.ExitedAt + (previous.Took ?? TimeSpan.Zero),
                $"{graceful.Records[i].Name} stopped before {previous.Name} was back");
        }

        // Which fails more is reported, not asserted: a graceful stop still rejects the calls that reach the silo while it
        // stops (SiloUnavailableException "shutting down"), fewer than a kill on one machine, sometimes more on PostgreSQL.
        await ActorSystemAsserts.VerifiedCleanAsync(fixture, output, TimeSpan.FromSeconds(40));
    }

    private async Task<Rollout> RolloutAsync(bool cure, int firstCustomer)
    {
        await fixture.ResetEverywhereAsync();
        await fixture.WaitAllHealthyAsync(TimeSpan.FromSeconds(60));
        // Localhost clustering keeps the membership in silo-1, which the scenario therefore never restarts.
        string[] restartable = fixture.Lab.Topology.Postgres is null ? ["silo-2"] : ["silo-1", "silo-2"];
        var before = restartable.ToDictionary(name => name, name => fixture.Lab.Processes.Single(p => p.Name == name).Id);

        await using var load = new CheckoutLoad(fixture.Storefront, shoppers: 4, firstCustomer, firstSku: 150, skus: 20);
        await Eventually.GetAsync(() => Task.FromResult(load.Confirmed), confirmed => confirmed >= 8, TimeSpan.FromSeconds(30), "checkouts confirm before the rollout");
        var enabledAt = load.Elapsed;
        await fixture.EnableAsync(RollingRestartScenario.Name,
            $$"""{"parameters":{"interval":"{{Interval.TotalSeconds.ToString(CultureInfo.InvariantCulture)}}s","cure":"{{(cure ? "true" : "false")}}"},"target":{"service":"silo"},"ttl":"3m"}""");

        var records = new List<ProcessRestartRecord>();
        foreach (var name in restartable)
        {
            await fixture.Lab.WaitRestartedAsync(name, before[name], TimeSpan.FromSeconds(150));
            records.Add(fixture.Lab.Restarts.Last(r => r.Name == name && r.PreviousId == before[name]));
        }

        await load.SettledAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));
        await load.StopAsync();
        await fixture.DisableEverywhereAsync(RollingRestartScenario.Name);
        var during = load.Results.Where(r => r.At >= enabledAt).ToList();
        return new Rollout(records, during.Count(r => r.Status != HttpStatusCode.Created), CheckoutLoad.Describe(during));
    }

    private sealed record Rollout(IReadOnlyList<ProcessRestartRecord> Records, int Failed, string Outcomes)
    {
        public IEnumerable<int> ExitCodes => Records.Select(r => r.ExitCode ?? -1);

        public override string ToString() =>
            $"{string.Join("; ", Records.Select(r => $"{r.Name} exit {r.ExitCode}, back after {r.Took?.TotalSeconds:0.0} s"))}; " +
            $"checkouts from the start of the rollout: {Outcomes} ({Failed} failed)";
    }
}
