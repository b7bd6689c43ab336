using System.Diagnostics;
using System.Net;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// variable-latency and tail-latency on the real lab: the shape of the added delay, read from the latencies of real
/// product reads (percentiles against the parameters), and tail-latency's cure, the storefront's hedged reads.
/// </summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class LatencyShapeTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const int Workers = 4;

    [Fact]
    public async Task Variable_latency_adds_exponentially_distributed_delays_whose_percentiles_match_the_mean()
    {
        await fixture.ResetEverywhereAsync();
        await ReadProductsAsync(100, offset: 100); // activate the products read below, so the baseline is not their first reads
        var baseline = Median(await ReadProductsAsync(40, offset: 100));
        var injectedBefore = await InjectionsAsync("variable-latency", "storefront");

        const double mean = 80;
        await fixture.EnableEverywhereAsync("variable-latency",
            $$"""{"parameters":{"mean":"{{mean}}ms","max":"2s","hook":"http-server"},"target":{"route":"/api/products/*","service":"storefront"},"ttl":"2m","seed":3}""");
        var delayed = (await ReadProductsAsync(160, offset: 100)).Select(ms => ms - baseline).Order().ToList();
        await fixture.DisableEverywhereAsync("variable-latency");
        await Task.Delay(400); // past the scrape cache
        var injected = await InjectionsAsync("variable-latency", "storefront") - injectedBefore;
        var after = Median(await ReadProductsAsync(40, offset: 100));

        double P(double q) => delayed[(int)Math.Ceiling(q * delayed.Count) - 1];
        output.WriteLine($"baseline median {baseline:0.0} ms; added delay p50 {P(0.5):0} ms, p90 {P(0.9):0} ms, p99 {P(0.99):0} ms " +
                         $"(exponential of mean {mean} ms: {mean * Math.Log(2):0}, {mean * Math.Log(10):0}, {mean * Math.Log(100):0}); after: median {after:0.0} ms");

        // Every read was delayed once, at the storefront's server hook.
        Assert.Equal(160, injected);

        // The exponential's percentiles: p50 = mean·ln 2, p90 = mean·ln 10. The bounds are about four standard errors of
        // 160 samples wide, and a loaded machine only adds latency; a fixed delay would give p90/p50 = 1, not about 3.3.
        Assert.InRange(P(0.5), 0.5 * mean * Math.Log(2), 1.6 * mean * Math.Log(2));
        Assert.InRange(P(0.9), 0.6 * mean * Math.Log(10), 1.6 * mean * Math.Log(10));
        Assert.True(P(0.9) / P(0.5) > 2, $"p90/p50 = {P(0.9) / P(0.5):0.0}");
        Assert.True(delayed[^1] < 2000 + 500, $"the longest delay {delayed[^1]:0} ms exceeds max 2 s");

        // Recovered.
        Assert.True(after < baseline + 20, $"after disabling, median {after:0.0} ms against {baseline:0.0} ms before");
    }

    [Fact]
    public async Task Tail_latency_moves_p99_not_p50_and_hedged_reads_cure_it()
    {
        await fixture.ResetEverywhereAsync();
        await ReadProductsAsync(40, offset: 0); // activate the products read below, so activation is not the tail
        const int reads = 300;
        const double delay = 800;
        var hedgesBefore = await HedgesAsync();

        // No hedging while it is on: a slow call is a slow read.
        var body = $$"""{"parameters":{"delay":"{{delay}}ms","rate":"4%","hook":"grain"},"target":{"grainInterface":"IProductGrain"},"ttl":"2m","seed":5}""";
        await fixture.EnableEverywhereAsync("tail-latency", body);
        var fault = (await ReadProductsAsync(reads, offset: 0)).Order().ToList();
        await Task.Delay(400);
        var hedgesDuringFault = await HedgesAsync() - hedgesBefore;

        // The cure: the shop's own hedged reads; the product grains are reentrant, so the hedge does not queue behind the slow call.
        await fixture.EnableEverywhereAsync("tail-latency", body.Replace("\"hook\":\"grain\"", "\"hook\":\"grain\",\"cure\":\"true\""));
        var cured = (await ReadProductsAsync(reads, offset: 0)).Order().ToList();
        await fixture.DisableEverywhereAsync("tail-latency");
        await Task.Delay(400);
        var hedgesWithCure = await HedgesAsync() - hedgesBefore - hedgesDuringFault;

        var slowFault = fault.Count(ms => ms >= delay);
        var slowCured = cured.Count(ms => ms >= delay);
        output.WriteLine($"fault: p50 {Percentile(fault, 0.5):0.0} ms, p99 {Percentile(fault, 0.99):0} ms, {slowFault} reads ≥ {delay} ms; " +
                         $"cure: p50 {Percentile(cured, 0.5):0.0} ms, p99 {Percentile(cured, 0.99):0} ms, {slowCured} reads ≥ {delay} ms, {hedgesWithCure} hedged");

        // The signature: the median untouched, the 99th percentile at the delay.
        Assert.True(Percentile(fault, 0.5) < 100, $"fault p50 {Percentile(fault, 0.5):0} ms");
        Assert.True(Percentile(fault, 0.99) >= delay, $"fault p99 {Percentile(fault, 0.99):0} ms");
        Assert.True(slowFault >= 5, $"{slowFault} of {reads} reads slow at 4%");
        Assert.Equal(0, hedgesDuringFault);

        // The cure: every slow first attempt was hedged and answered by the second; only a read whose hedge was slow too stays slow.
        Assert.True(hedgesWithCure >= 5, $"{hedgesWithCure} hedged reads");
        Assert.True(slowCured <= 2, $"{slowCured} of {reads} reads still slow with hedging");
        Assert.True(Percentile(cured, 0.98) < delay / 2, $"cure p98 {Percentile(cured, 0.98):0} ms");
    }

    /// <summary>Reads products SKU-(offset+1)…(offset+100) of the test lab's 200 with <see cref="Workers"/> concurrent readers; returns each read's latency in ms.</summary>
    private async Task<List<double>> ReadProductsAsync(int count, int offset)
    {
        var latencies = new List<double>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                var clock = Stopwatch.StartNew();
                using var response = await fixture.Storefront.GetAsync($"/api/products/SKU-{offset + (i % 100) + 1:00000}");
                var ms = clock.Elapsed.TotalMilliseconds;
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                lock (latencies)
                {
                    latencies.Add(ms);
                }
            }
        }));
        return latencies;
    }

    private async Task<double> InjectionsAsync(string scenario, string service) =>
        (await fixture.ScrapeAsync(service)).Sum("lab_scenario_injections_total", ("scenario", scenario));

    private async Task<double> HedgesAsync() =>
        (await fixture.ScrapeAsync("storefront")).Sum("lab_hedges_total", ("operation", "product.get"));

    private static double Median(List<double> values) => Percentile(values.Order().ToList(), 0.5);

    private static double Percentile(List<double> sorted, double q) => sorted[(int)Math.Ceiling(q * sorted.Count) - 1];
}
