using System.Diagnostics;
using System.Globalization;
using System.Net;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// variable-latency on the real lab: the delays it draws (each on the span where it was injected) follow an exponential of the
/// configured mean, every read waited its own, and nothing is delayed after disable.
/// </summary>
[ScenarioTest(VariableLatencyScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class VariableLatencyTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const int Reads = 160;
    private const double MeanMs = 80;
    private const double MaxMs = 2000;

    [Fact]
    public async Task Variable_latency_adds_exponentially_distributed_delays_whose_percentiles_match_the_mean()
    {
        await fixture.ResetEverywhereAsync();
        await TracedProductReads.RunAsync(fixture, 100, offset: 100, new TestTrace()); // activate the products read below

        await fixture.EnableEverywhereAsync(VariableLatencyScenario.Name,
            $$"""{"parameters":{"mean":"{{MeanMs}}ms","max":"{{MaxMs / 1000}}s","hook":"http-server"},"target":{"route":"/api/products/*","service":"storefront"},"ttl":"2m","seed":3}""");
        var trace = new TestTrace();
        var reads = await TracedProductReads.RunAsync(fixture, Reads, offset: 100, trace);
        await fixture.DisableEverywhereAsync(VariableLatencyScenario.Name);
        var afterTrace = new TestTrace();
        await TracedProductReads.RunAsync(fixture, 40, offset: 100, afterTrace);

        var after = fixture.SettledTraceAsync(afterTrace);
        var spans = await fixture.SettledTraceAsync(trace, found => found.Count(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind) >= Reads);
        var delayed = spans.Where(s => s.Scenario == VariableLatencyScenario.Name).ToList();
        var delays = delayed.Select(s => double.Parse(s.Attribute(ScenarioTelemetry.DelayTag)!, CultureInfo.InvariantCulture)).Order().ToList();
        double P(double q) => delays[(int)Math.Ceiling(q * delays.Count) - 1];
        output.WriteLine($"drawn delays: p50 {P(0.5):0} ms, p90 {P(0.9):0} ms, p99 {P(0.99):0} ms, max {delays[^1]:0} ms " +
                         $"(exponential of mean {MeanMs} ms: {MeanMs * Math.Log(2):0}, {MeanMs * Math.Log(10):0}, {MeanMs * Math.Log(100):0})");

        // Every read was delayed once, at the storefront's server hook, and waited for the delay drawn for it (at least half of
        // it: a timer counts whole milliseconds of a coarser clock, so a 9.6 ms delay may end after 8.1 ms).
        Assert.Equal(Reads, delayed.Count);
        Assert.All(delayed, span => Assert.Equal("lab-storefront", span.Service));
        Assert.All(reads, read =>
        {
            var server = delayed.Single(s => s.ParentSpanId == read.SpanId);
            var drawn = TimeSpan.FromMilliseconds(double.Parse(server.Attribute(ScenarioTelemetry.DelayTag)!, CultureInfo.InvariantCulture));
            Assert.True(read.Latency >= drawn / 2, $"a read answered in {read.Latency.TotalMilliseconds:0.0} ms, before its {drawn.TotalMilliseconds:0.0} ms delay");
        });

        // The exponential's percentiles: p50 = mean·ln 2, p90 = mean·ln 10, each within about four standard errors of 160
        // draws; a fixed delay would give p90/p50 = 1, not about 3.3. No delay beyond the cap.
        Assert.InRange(P(0.5), 0.5 * MeanMs * Math.Log(2), 1.6 * MeanMs * Math.Log(2));
        Assert.InRange(P(0.9), 0.6 * MeanMs * Math.Log(10), 1.6 * MeanMs * Math.Log(10));
        Assert.True(P(0.9) / P(0.5) > 2, $"p90/p50 = {P(0.9) / P(0.5):0.0}");
        Assert.True(delays[^1] <= MaxMs, $"the longest delay {delays[^1]:0} ms exceeds max {MaxMs} ms");

        // Recovered: nothing delayed after disabling.
        Assert.DoesNotContain(await after, s => s.Scenario is not null);
    }
}

/// <summary>
/// tail-latency on the real lab: a few product grain calls take a long delay, and the reads that met one wait for it; with
/// the cure (the storefront's hedged reads) each such read is hedged and answered by a call that was not slowed. Per read,
/// from the spans below the request the test sent.
/// </summary>
[ScenarioTest(TailLatencyScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class TailLatencyTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const int Reads = 200;
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(600);

    [Fact]
    public async Task Tail_latency_slows_the_reads_that_meet_it_and_hedged_reads_answer_them_from_another_call()
    {
        await fixture.ResetEverywhereAsync();
        await TracedProductReads.RunAsync(fixture, 40, offset: 0, new TestTrace()); // activate the products read below, so activation is not the tail

        // No hedging while it is on: a slow call is a slow read.
        var body = $$"""{"parameters":{"delay":"{{Delay.TotalMilliseconds}}ms","rate":"10%","hook":"grain"},"target":{"grainInterface":"IProductGrain"},"ttl":"2m","seed":5}""";
        await fixture.EnableEverywhereAsync(TailLatencyScenario.Name, body);
        var faultTrace = new TestTrace();
        var fault = await TracedProductReads.RunAsync(fixture, Reads, offset: 0, faultTrace);

        // The cure: the shop's own hedged reads; the product grains interleave, so the hedge does not queue behind the slow call.
        await fixture.EnableEverywhereAsync(TailLatencyScenario.Name, body.Replace("\"hook\":\"grain\"", "\"hook\":\"grain\",\"cure\":\"true\""));
        var curedTrace = new TestTrace();
        var cured = await TracedProductReads.RunAsync(fixture, Reads, offset: 0, curedTrace);
        await fixture.DisableEverywhereAsync(TailLatencyScenario.Name);

        var faultSpans = fixture.SettledTraceAsync(faultTrace, found => found.Count(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind) >= Reads);
        var curedSpans = await fixture.SettledTraceAsync(curedTrace, found => found.Count(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind) >= Reads);
        var slowedFault = Slowed(fault, await faultSpans);
        var slowedCured = Slowed(cured, curedSpans);
        output.WriteLine($"fault: {slowedFault.Count} of {Reads} reads met a delayed call, latency p50 {Percentile(fault, 0.5):0} ms, p99 {Percentile(fault, 0.99):0} ms; " +
                         $"cure: {slowedCured.Count} met one, p50 {Percentile(cured, 0.5):0} ms, p99 {Percentile(cured, 0.99):0} ms, " +
                         $"{slowedCured.Count(r => r.Hedged)} of them hedged");

        // The fault: some reads met a delayed grain call, and waited for it: nothing hedges.
        Assert.NotEmpty(slowedFault);
        Assert.All(slowedFault, read => Assert.True(read.Latency >= Delay / 2, $"a read that met the delay answered in {read.Latency.TotalMilliseconds:0} ms"));
        Assert.DoesNotContain(await faultSpans, s => s.Events.Contains("lab.hedged"));

        // The cure: every read whose call was delayed was hedged, with a second call that (but for the one in ten that is delayed
        // too) was not.
        Assert.NotEmpty(slowedCured);
        Assert.All(slowedCured, read => Assert.True(read.Hedged, "a read whose grain call was delayed was not hedged"));
        Assert.Contains(slowedCured, read => read.UndelayedCalls > 0);
    }

    /// <summary>
    /// The reads that had a delayed product grain call below them (a silo span with the delay the scenario injected; the
    /// storefront's spans carry the scenario's name too while it regresses hedging), with whether they were hedged.
    /// </summary>
    private static List<SlowedRead> Slowed(IReadOnlyList<TracedProductReads.Read> reads, List<ViewerSpan> spans) =>
        [.. reads.Select(read => (read, below: TestTrace.Below(spans, read.SpanId)))
            .Where(r => r.below.Any(IsDelayedCall))
            .Select(r => new SlowedRead(r.read.Latency, r.below.Any(s => s.Events.Contains("lab.hedged")),
                r.below.Count(s => s.Service == "lab-silo" && s.Kind == ViewerSpan.ServerKind && s.Name.EndsWith("/GetAsync", StringComparison.Ordinal) && !IsDelayedCall(s))))];

    private static bool IsDelayedCall(ViewerSpan span) => span.Service == "lab-silo" && span.Attribute(ScenarioTelemetry.DelayTag) is not null;

    private sealed record SlowedRead(TimeSpan Latency, bool Hedged, int UndelayedCalls);

    private static double Percentile(IReadOnlyList<TracedProductReads.Read> reads, double q)
    {
        var sorted = reads.Select(r => r.Latency.TotalMilliseconds).Order().ToList();
        return sorted[(int)Math.Ceiling(q * sorted.Count) - 1];
    }
}

/// <summary>Product reads by four concurrent readers, each request in the given trace with a span id of its own.</summary>
internal static class TracedProductReads
{
    private const int Workers = 4;

    public sealed record Read(string SpanId, TimeSpan Latency);

    /// <summary>Reads products SKU-(offset+1)…(offset+100) of the test lab's 200.</summary>
    public static async Task<List<Read>> RunAsync(ScenarioLabFixture fixture, int count, int offset, TestTrace trace)
    {
        var reads = new List<Read>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                using var request = trace.On(new HttpRequestMessage(HttpMethod.Get, $"/api/products/SKU-{offset + (i % 100) + 1:00000}"));
                var clock = Stopwatch.StartNew();
                using var response = await fixture.Storefront.SendAsync(request);
                var latency = clock.Elapsed;
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                request.Options.TryGetValue(TestTrace.RequestSpanId, out var spanId);
                lock (reads)
                {
                    reads.Add(new Read(spanId!, latency));
                }
            }
        }));
        return reads;
    }
}
