using System.Net;
using Lab.Scenarios.Catalog;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// fixed-latency on the real lab: a delay at inventory reservations shows up in every checkout, once per line. Read from the
/// spans of the test's own checkouts (one trace): which calls carry the injection, how long they took, and the callers above.
/// </summary>
[ScenarioTest(FixedLatencyScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class FixedLatencyTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] Skus = ["SKU-00101", "SKU-00102", "SKU-00103"];
    private static readonly int[] DelayedCustomers = [4, 5, 6];
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task Delay_at_inventory_reservations_adds_lines_times_delay_to_each_checkout_and_tags_the_spans()
    {
        await fixture.ResetEverywhereAsync();
        await CheckoutsAsync([10, 11], new TestTrace()); // warm-up: first activations and JIT

        await fixture.EnableEverywhereAsync(FixedLatencyScenario.Name,
            $$"""{"parameters":{"delay":"{{Delay.TotalMilliseconds}}ms","hook":"grain"},"target":{"grainInterface":"IInventoryGrain","grainMethod":"ReserveAsync"},"ttl":"2m","seed":1}""");
        var delayedTrace = new TestTrace();
        var delayed = await CheckoutsAsync(DelayedCustomers, delayedTrace);
        await fixture.DisableEverywhereAsync(FixedLatencyScenario.Name);
        var afterTrace = new TestTrace();
        var after = await CheckoutsAsync([7, 8, 9], afterTrace);

        // The three checkouts' spans, once every process exported them (their payments calls are the last part of each).
        var settled = fixture.SettledTraceAsync(delayedTrace,
            found => found.Count(s => s.Service == "lab-payments" && s.Kind == ViewerSpan.ServerKind) >= DelayedCustomers.Length);
        var afterSpans = await fixture.SettledTraceAsync(afterTrace);
        var spans = await settled;
        var tagged = spans.Where(s => s.Scenario == FixedLatencyScenario.Name).ToList();
        var expected = Delay * Skus.Length; // the saga reserves its lines one after the other
        output.WriteLine($"checkouts with {Delay.TotalMilliseconds} ms x {Skus.Length} lines: {string.Join(", ", delayed.Select(l => $"{l.TotalMilliseconds:0}"))} ms; " +
                         $"after disable: {string.Join(", ", after.Select(l => $"{l.TotalMilliseconds:0}"))} ms; {tagged.Count} tagged spans");

        // Exactly one injection per reserved line: the reservation spans carry the scenario, nothing else in the trace does.
        Assert.Equal(DelayedCustomers.Length * Skus.Length, tagged.Count);
        Assert.All(tagged, span =>
        {
            Assert.Equal("lab-silo", span.Service);
            Assert.Contains("ReserveAsync", span.Name);
            Assert.Contains("lab.scenario.injected", span.Events);
            Assert.True(span.Duration >= Delay / 2, $"{span.Name} lasted {span.Duration.TotalMilliseconds:0.0} ms for a {Delay.TotalMilliseconds} ms delay");
        });

        // Every caller up the trace carries the delays: each checkout's server span lasts at least its three delayed
        // reservations together, and the client waited at least half of lines x delay for each.
        var servers = spans.Where(s => s.Service == "lab-storefront" && s.Kind == ViewerSpan.ServerKind && s.Name.Contains("checkout")).ToList();
        Assert.Equal(DelayedCustomers.Length, servers.Count);
        Assert.All(servers, server =>
        {
            var inside = tagged.Where(s => s.Start >= server.Start && s.End <= server.End).ToList();
            Assert.Equal(Skus.Length, inside.Count);
            Assert.True(server.Duration >= inside.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Duration),
                $"checkout span {server.Duration.TotalMilliseconds:0} ms, its delayed spans {string.Join(" + ", inside.Select(s => s.Duration.TotalMilliseconds.ToString("0")))} ms");
        });
        Assert.All(delayed, latency => Assert.True(latency >= expected / 2, $"a delayed checkout took {latency.TotalMilliseconds:0} ms"));

        // Recovered: nothing is injected after disabling.
        Assert.NotEmpty(afterSpans);
        Assert.DoesNotContain(afterSpans, s => s.Scenario is not null);
    }

    private async Task<List<TimeSpan>> CheckoutsAsync(int[] customers, TestTrace trace)
    {
        var latencies = new List<TimeSpan>();
        foreach (var customer in customers)
        {
            var checkout = await fixture.CheckoutAsync(customer, Skus, trace);
            Assert.True(checkout.Status == HttpStatusCode.Created, $"checkout {customer}: {(int)checkout.Status} {checkout.Body}");
            latencies.Add(checkout.Latency);
        }

        return latencies;
    }
}
