using System.Diagnostics;
using System.Net;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// slow-start on the real lab: both silos restart their state in place. Without a warm-up the first read of each best
/// seller activates its grain and loads it from the database again, and is slower than the read after it; with the
/// shop's warm-up the silos load them before /health says ready, and the first reads load nothing.
/// </summary>
[ScenarioTest(SlowStartScenario.Name)]
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

        // A cold restart. Each best seller's first read is compared with a read of the same product right after it, so a burst
        // of load on a shared machine slows both alike.
        await RestartAsync("""{"parameters":{"cure":"false"},"ttl":"2m"}""");
        List<ReadPass> rounds = [await ReadPairsAsync()];

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

        // Cold: every best seller is loaded again by its first read, and its second read loads nothing (counted on each read's
        // own trace). How much slower the first read is depends on the machine: it is reported above.
        Assert.All(rounds, cold => Assert.All(cold.Pairs, pair => Assert.True(pair.FirstLoads == 1 && pair.SecondLoads == 0,
            $"{pair.Sku}: its first read after the restart loaded it {pair.FirstLoads} time(s), its second {pair.SecondLoads}")));

        // The warm-up: the silos loaded the best sellers before they reported ready; no read loads anything.
        Assert.True(warmed >= BestSellers.Length, $"{warmed} best sellers warmed");
        Assert.All(cured.Pairs, pair => Assert.Equal(0, pair.FirstLoads + pair.SecondLoads));

        // Disabled, the silos do not restart again: they stay as warm as the traffic left them.
        Assert.All(after.Pairs, pair => Assert.Equal(0, pair.FirstLoads + pair.SecondLoads));
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

    /// <summary>
    /// Reads every best seller twice in a row, each read in a trace of its own; returns both latencies of each and the product
    /// loads each read caused (the db spans in its trace).
    /// </summary>
    private async Task<ReadPass> ReadPairsAsync()
    {
        // One trace for the pass; each request has a span id of its own, under which its spans are found.
        var trace = new TestTrace();
        var reads = new List<(string Sku, TimeSpan First, string FirstSpan, TimeSpan Second, string SecondSpan)>();
        foreach (var sku in BestSellers)
        {
            var (first, firstSpan) = await ReadAsync(sku, trace);
            var (second, secondSpan) = await ReadAsync(sku, trace);
            reads.Add((sku, first, firstSpan, second, secondSpan));
        }

        var spans = await fixture.SettledTraceAsync(trace, found => found.Count(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind) >= 2 * BestSellers.Length);
        int LoadsBelow(string request) => TestTrace.Below(spans, request).Count(span => span.Attribute("lab.db.operation") == Loads);
        return new ReadPass([.. reads.Select(r => new ReadPair(r.Sku, r.First, LoadsBelow(r.FirstSpan), r.Second, LoadsBelow(r.SecondSpan)))]);
    }

    private async Task<(TimeSpan Latency, string SpanId)> ReadAsync(string sku, TestTrace trace)
    {
        using var request = trace.On(new HttpRequestMessage(HttpMethod.Get, $"/api/products/{sku}"));
        var clock = Stopwatch.StartNew();
        using var response = await fixture.Storefront.SendAsync(request);
        var latency = clock.Elapsed;
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {sku}: {(int)response.StatusCode}");
        request.Options.TryGetValue(TestTrace.RequestSpanId, out var spanId);
        return (latency, spanId!);
    }

    private sealed record ReadPair(string Sku, TimeSpan First, int FirstLoads, TimeSpan Second, int SecondLoads);

    private sealed record ReadPass(IReadOnlyList<ReadPair> Pairs)
    {
        private static double Median(IEnumerable<TimeSpan> values)
        {
            var sorted = values.Select(v => v.TotalMilliseconds).Order().ToList();
            return sorted[sorted.Count / 2];
        }

        public override string ToString() =>
            $"first reads median {Median(Pairs.Select(p => p.First)):0.00} ms, second reads median {Median(Pairs.Select(p => p.Second)):0.00} ms " +
            $"({Pairs.Count(p => p.First > p.Second)} of {Pairs.Count} first reads slower), {Pairs.Sum(p => p.FirstLoads)} loads by first reads, " +
            $"{Pairs.Sum(p => p.SecondLoads)} by second reads";
    }
}
