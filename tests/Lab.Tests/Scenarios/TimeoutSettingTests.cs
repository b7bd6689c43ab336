using System.Net;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// timeout-too-short and timeout-too-long on the real lab: the payments client's timeout per attempt set below payments'
/// normal latency fails checkouts while payments is healthy; set far above a slow payments' latency, calls pile up.
/// </summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class TimeoutSettingTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const string ChargesRoute = "/api/charges/";

    [Fact]
    public async Task Timeout_too_short_fails_checkouts_that_payments_answered_and_the_measured_timeout_cures_it()
    {
        await fixture.ResetEverywhereAsync();
        string[] skus = ["SKU-00191"];
        var healthy = await fixture.CheckoutAsync(260, skus);
        Assert.True(healthy.Status == HttpStatusCode.Created, $"baseline checkout: {(int)healthy.Status} {healthy.Body}");

        var before = await fixture.ScrapeAsync("payments");
        var injectedBefore = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "timeout-too-short"));
        await fixture.EnableEverywhereAsync("timeout-too-short", """{"parameters":{"timeout":"10ms"},"ttl":"2m"}""");
        const int checkouts = 3;
        for (var i = 0; i < checkouts; i++)
        {
            var failed = await fixture.CheckoutAsync(261 + i, skus);
            Assert.True(failed.Status == HttpStatusCode.BadGateway, $"checkout under a 10 ms timeout: {(int)failed.Status} {failed.Body}");
            Assert.Contains("no answer within 10 ms", failed.Body);
        }

        // Payments was healthy all along: it recorded a charge for every attempt that reached it, in its usual time
        // (authorisation, 20 ms), longer than the client waited; it logged those requests 499 (the client had closed
        // them), never 5xx. The saga compensates, but its own calls to payments (list the order's charges, refund them)
        // run under the same 10 ms timeout: on a busy machine one may time out and leave a charge in place, so the
        // refunds are waited for (bounded: the compensation's pauses are 0, 1 and 3 s) and reported, not required.
        var after = await fixture.ScrapeAsync("payments");
        for (var settle = System.Diagnostics.Stopwatch.StartNew(); Refunds(after) - Refunds(before) < checkouts && settle.Elapsed < TimeSpan.FromSeconds(6);)
        {
            await Task.Delay(500);
            after = await fixture.ScrapeAsync("payments");
        }

        var recorded = after.Sum("lab_db_calls_total", ("db_operation", "payments.charge")) - before.Sum("lab_db_calls_total", ("db_operation", "payments.charge"));
        var abandoned = Charges(after, "499") - Charges(before, "499");
        var refused = Charges(after, "5") - Charges(before, "5");
        var meanMs = 1000 * (after.Sum("http_server_request_duration_seconds_sum", ("http_route", ChargesRoute), ("http_request_method", "POST"))
                             - before.Sum("http_server_request_duration_seconds_sum", ("http_route", ChargesRoute), ("http_request_method", "POST")))
                     / (Charges(after) - Charges(before));
        var attempts = await fixture.SiloSumAsync("lab_scenario_injections_total", ("scenario", "timeout-too-short")) - injectedBefore;
        output.WriteLine($"{checkouts} checkouts: {attempts} charge attempts sent; payments recorded {recorded} charges, logged {abandoned} requests 499 " +
                         $"and {refused} 5xx, in {meanMs:0.0} ms on average; {Refunds(after) - Refunds(before)} refunds");
        Assert.True(attempts >= checkouts, $"{attempts} charge attempts");
        Assert.True(recorded >= checkouts, $"payments recorded {recorded} charges");
        Assert.True(abandoned >= checkouts, $"payments logged {abandoned} charge requests as closed by the client");
        Assert.Equal(0, refused);
        Assert.True(meanMs >= 10, $"payments answered in {meanMs:0.0} ms on average");

        // The cure: the shop's own timeout, set from payments' latency.
        await fixture.EnableEverywhereAsync("timeout-too-short", """{"parameters":{"timeout":"10ms","cure":"true"},"ttl":"2m"}""");
        var cured = await fixture.CheckoutAsync(265, skus);
        await fixture.DisableEverywhereAsync("timeout-too-short");
        Assert.True(cured.Status == HttpStatusCode.Created, $"checkout with the cure: {(int)cured.Status} {cured.Body}");
    }

    [Fact]
    public async Task Timeout_too_long_holds_every_call_for_the_whole_slowness_and_the_cure_gives_up_early()
    {
        await fixture.ResetEverywhereAsync();
        var delay = TimeSpan.FromSeconds(5);
        const int checkouts = 12;

        // Slow payments, a 30 s timeout and no bulkhead: every checkout waits the whole delay and succeeds.
        await fixture.EnableEverywhereAsync("timeout-too-long", $$"""{"parameters":{"delay":"{{delay.TotalSeconds}}s","timeout":"30s"},"ttl":"2m"}""");
        var (held, slow) = await ConcurrentCheckoutsAsync(270, checkouts, sampleAt: SampleAt(delay));
        output.WriteLine($"no cure: {held} payments calls in flight at {SampleAt(delay).TotalSeconds} s; checkouts {Describe(slow)}");
        Assert.All(slow, c => Assert.True(c.Status == HttpStatusCode.Created, $"slow checkout: {(int)c.Status} {c.Body}"));
        Assert.All(slow, c => Assert.True(c.Latency >= delay, $"a checkout took {c.Latency.TotalMilliseconds:0} ms with payments {delay.TotalSeconds} s slow"));
        Assert.True(held >= checkouts * 3 / 4, $"{held} of {checkouts} payments calls in flight at {SampleAt(delay).TotalSeconds} s of the delay");

        // The cure: payments as slow, the shop's own timeout per attempt (1 s) and bulkhead. Calls give up early: at the same
        // moment only the few retries the budget allows are in flight, and every checkout has failed before payments would
        // have answered.
        await fixture.EnableEverywhereAsync("timeout-too-long", $$"""{"parameters":{"delay":"{{delay.TotalSeconds}}s","timeout":"30s","cure":"true"},"ttl":"2m"}""");
        var (stillHeld, fast) = await ConcurrentCheckoutsAsync(282, checkouts, sampleAt: SampleAt(delay));
        await fixture.DisableEverywhereAsync("timeout-too-long");
        output.WriteLine($"cure: {stillHeld} payments calls in flight at {SampleAt(delay).TotalSeconds} s; checkouts {Describe(fast)}");
        Assert.All(fast, c => Assert.True(c.Status == HttpStatusCode.BadGateway, $"cured checkout: {(int)c.Status} {c.Body}"));
        Assert.All(fast, c => Assert.True(c.Latency < delay, $"a cured checkout took {c.Latency.TotalMilliseconds:0} ms"));
        Assert.True(stillHeld <= checkouts / 2, $"{stillHeld} payments calls still in flight with the cure");
    }

    /// <summary>
    /// When the calls in flight are counted: late in the delay, when the cure's 1 s attempts (and the few retries its budget
    /// allows) have given up, even those of checkouts whose first attempt started late on a slow database (at half the
    /// delay, 9 of 12 were once still in flight on PostgreSQL), while without the cure every call still waits.
    /// </summary>
    private static TimeSpan SampleAt(TimeSpan delay) => delay * 0.8;

    /// <summary>Starts <paramref name="count"/> checkouts at once; samples the silos' payments calls in flight once, meanwhile.</summary>
    private async Task<(double InFlight, Checkout[] Checkouts)> ConcurrentCheckoutsAsync(int firstCustomer, int count, TimeSpan sampleAt)
    {
        var running = Task.WhenAll(Enumerable.Range(firstCustomer, count).Select(customer => fixture.CheckoutAsync(customer, ["SKU-00190"])));
        // The carts fill first (a few milliseconds each); the calls to payments start right after.
        await Task.Delay(sampleAt);
        var inFlight = 0.0;
        foreach (var silo in new[] { "silo-1", "silo-2" })
        {
            inFlight += (await fixture.ScrapeAsync(silo)).Sum("http_client_active_requests", ("url_scheme", "http"));
        }

        return (inFlight, await running);
    }

    private static string Describe(Checkout[] checkouts) =>
        string.Join(", ", checkouts.GroupBy(c => (int)c.Status).Select(g => $"{g.Count()}× {g.Key}")) +
        $", {checkouts.Min(c => c.Latency.TotalMilliseconds):0}-{checkouts.Max(c => c.Latency.TotalMilliseconds):0} ms";

    private static double Charges(Lab.Scenarios.PrometheusSamples samples, string? statusPrefix = null) =>
        samples.Samples
            .Where(s => s.Name == "http_server_request_duration_seconds_count")
            .Where(s => s.Labels.GetValueOrDefault("http_route") == ChargesRoute && s.Labels.GetValueOrDefault("http_request_method") == "POST")
            .Where(s => statusPrefix is null || s.Labels.GetValueOrDefault("http_response_status_code", "").StartsWith(statusPrefix, StringComparison.Ordinal))
            .Sum(s => s.Value);

    private static double Refunds(Lab.Scenarios.PrometheusSamples samples) =>
        samples.Sum("http_server_request_duration_seconds_count", ("http_route", "/api/charges/{chargeId}/refund"), ("http_response_status_code", "200"));
}
