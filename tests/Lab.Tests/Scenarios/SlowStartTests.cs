using System.Diagnostics;
using System.Net;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// slow-start on the real lab: both silos restart their state in place. Without a warm-up the first read of each best
/// seller activates its grain and loads it from the database again, and is slower than the read after it; with the
/// shop's warm-up the silos load them before /health says ready, and the first reads load nothing.
/// </summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class SlowStartTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const string Loads = "catalog.get-product";

    // The 20 best sellers (the seed ranks SKU-n n-th), the ones the shop's warm-up loads (Shop:WarmUpProducts).
    private static readonly string[] BestSellers = Enumerable.Range(1, 20).Select(n => $"SKU-{n:00000}").ToArray();

    [Fact]
    public async Task Slow_start_serves_the_first_reads_cold_and_the_warm_up_loads_the_best_sellers_before_ready()
    {
        await fixture.ResetEverywhereAsync();
        await ReadPairsAsync(); // warm, whatever ran before

        // Two cold restarts. Each best seller's first read is compared with a read of the same product right after it, so
        // a burst of load on a shared machine slows both alike instead of deciding the comparison.
        var rounds = new List<ReadPass>();
        for (var round = 0; round < 2; round++)
        {
            await RestartAsync(round == 0 ? """{"ttl":"2m"}""" : """{"parameters":{"cure":"false"},"ttl":"2m"}""");
            rounds.Add(await ReadPairsAsync());
        }

        var warmedBefore = await fixture.SiloSumAsync("lab_warmup_products_total");
        await RestartAsync("""{"parameters":{"cure":"true"},"ttl":"2m"}""");
        await Task.Delay(400); // past the scrape cache
        var warmed = await fixture.SiloSumAsync("lab_warmup_products_total") - warmedBefore;
        var cured = await ReadPairsAsync();
        await fixture.DisableEverywhereAsync("slow-start");
        var after = await ReadPairsAsync();

        foreach (var cold in rounds)
        {
            output.WriteLine($"no warm-up: {cold}");
        }

        output.WriteLine($"warm-up ({warmed} best sellers loaded by the silos before ready): {cured}");
        output.WriteLine($"after disable: {after}");

        // Cold: every best seller is loaded again by its first read (its second loads nothing), and the first read is the slower.
        Assert.All(rounds, cold => Assert.Equal(BestSellers.Length, cold.Loads));
        var differences = rounds.SelectMany(cold => cold.Pairs).Select(pair => (pair.First - pair.Second).TotalMilliseconds).Order().ToList();
        var median = differences[differences.Count / 2];
        Assert.True(median > 0, $"median first read minus second read: {median:0.000} ms");

        // The warm-up: the silos loaded the best sellers before they reported ready; no read loads anything.
        Assert.True(warmed >= BestSellers.Length, $"{warmed} best sellers warmed");
        Assert.Equal(0, cured.Loads);

        // Disabled, the silos do not restart again: they stay as warm as the traffic left them.
        Assert.Equal(0, after.Loads);
    }

    /// <summary>Enables or changes slow-start, waits until both silos restarted and their /health is ready (as a load balancer would).</summary>
    private async Task RestartAsync(string body)
    {
        var before = await fixture.SiloSumAsync("lab_process_restarts_total");
        await fixture.EnableEverywhereAsync("slow-start", body);
        await Eventually.GetAsync(async () =>
            {
                await Task.Delay(400); // past the scrape cache
                return await fixture.SiloSumAsync("lab_process_restarts_total") - before;
            },
            restarts => restarts >= 2, TimeSpan.FromSeconds(15), "both silos restart");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var silo in (string[])["silo-1", "silo-2"])
        {
            await Eventually.GetAsync(async () =>
                {
                    using var health = await http.GetAsync($"{fixture.UrlOf(silo)}/health");
                    return health.StatusCode;
                },
                status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(15), $"{silo} reports ready");
        }
    }

    /// <summary>Reads every best seller twice in a row; returns both latencies of each and the product loads the silos made meanwhile.</summary>
    private async Task<ReadPass> ReadPairsAsync()
    {
        var loadsBefore = await fixture.SiloSumAsync("lab_db_calls_total", ("db_operation", Loads));
        var pairs = new List<(TimeSpan First, TimeSpan Second)>();
        foreach (var sku in BestSellers)
        {
            pairs.Add((await ReadAsync(sku), await ReadAsync(sku)));
        }

        await Task.Delay(400); // past the scrape cache
        return new ReadPass(pairs, await fixture.SiloSumAsync("lab_db_calls_total", ("db_operation", Loads)) - loadsBefore);
    }

    private async Task<TimeSpan> ReadAsync(string sku)
    {
        var clock = Stopwatch.StartNew();
        using var response = await fixture.Storefront.GetAsync($"/api/products/{sku}");
        var elapsed = clock.Elapsed;
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {sku}: {(int)response.StatusCode}");
        return elapsed;
    }

    private sealed record ReadPass(IReadOnlyList<(TimeSpan First, TimeSpan Second)> Pairs, double Loads)
    {
        private static double Median(IEnumerable<TimeSpan> values)
        {
            var sorted = values.Select(v => v.TotalMilliseconds).Order().ToList();
            return sorted[sorted.Count / 2];
        }

        public override string ToString() =>
            $"first reads median {Median(Pairs.Select(p => p.First)):0.00} ms, second reads median {Median(Pairs.Select(p => p.Second)):0.00} ms " +
            $"({Pairs.Count(p => p.First > p.Second)} of {Pairs.Count} first reads slower), {Loads} product loads";
    }
}
