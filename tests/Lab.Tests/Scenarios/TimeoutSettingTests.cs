using System.Net;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// timeout-too-short on the real lab: the payments client's timeout per attempt set below payments' normal latency fails
/// checkouts while payments is healthy. What payments did with the calls is read from its spans in the checkouts' trace.
/// </summary>
[ScenarioTest(TimeoutTooShortScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class TimeoutTooShortTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const int Checkouts = 3;
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMilliseconds(10);

    [Fact]
    public async Task Timeout_too_short_fails_checkouts_that_payments_answered_and_the_measured_timeout_cures_it()
    {
        await fixture.ResetEverywhereAsync();
        string[] skus = ["SKU-00191"];
        var healthy = await fixture.CheckoutAsync(260, skus);
        Assert.True(healthy.Status == HttpStatusCode.Created, $"baseline checkout: {(int)healthy.Status} {healthy.Body}");

        await fixture.EnableEverywhereAsync(TimeoutTooShortScenario.Name, $$"""{"parameters":{"timeout":"{{ClientTimeout.TotalMilliseconds}}ms"},"ttl":"2m"}""");
        var trace = new TestTrace();
        for (var i = 0; i < Checkouts; i++)
        {
            var failed = await fixture.CheckoutAsync(261 + i, skus, trace);
            Assert.True(failed.Status == HttpStatusCode.BadGateway, $"checkout under a 10 ms timeout: {(int)failed.Status} {failed.Body}");
            Assert.Contains("no answer within 10 ms", failed.Body);
        }

        // The cure: the shop's own timeout, set from payments' latency.
        await fixture.EnableEverywhereAsync(TimeoutTooShortScenario.Name, $$"""{"parameters":{"timeout":"{{ClientTimeout.TotalMilliseconds}}ms","cure":"true"},"ttl":"2m"}""");
        var cured = await fixture.CheckoutAsync(265, skus);
        await fixture.DisableEverywhereAsync(TimeoutTooShortScenario.Name);

        // Payments was healthy all along: it served every attempt that reached it in its usual time (an authorisation of 20 ms,
        // longer than the client waited), never 5xx. It logs 499 when it sees the client gone before it answers, 201 when its
        // answer went out first (a race with the closing connection), and 200 for a retry whose idempotency key an earlier
        // attempt had already charged (the replayed charge): all three seen. (The saga's compensation, its own calls to
        // payments under the same timeout, may leave a charge on a busy machine: not counted here.)
        var spans = await fixture.SettledTraceAsync(trace, found => found.Count(IsCharge) >= Checkouts);
        var charges = spans.Where(IsCharge).ToList();
        output.WriteLine($"{Checkouts} checkouts: {charges.Count} charge requests reached payments, answered " +
                         $"{string.Join(", ", charges.Select(c => $"{c.Attribute("http.response.status_code")} in {c.Duration.TotalMilliseconds:0} ms"))}; " +
                         $"with the cure: {(int)cured.Status}");
        Assert.True(charges.Count >= Checkouts, $"{charges.Count} charge requests reached payments");
        Assert.All(charges, charge =>
        {
            Assert.Contains(charge.Attribute("http.response.status_code"), new[] { "499", "201", "200" });
            Assert.True(charge.Duration >= ClientTimeout, $"payments answered a charge in {charge.Duration.TotalMilliseconds:0.0} ms, within the client's timeout");
        });
        Assert.True(cured.Status == HttpStatusCode.Created, $"checkout with the cure: {(int)cured.Status} {cured.Body}");
    }

    private static bool IsCharge(ViewerSpan span) =>
        span.Service == "lab-payments" && span.Kind == ViewerSpan.ServerKind && span.Attribute("http.request.method") == "POST"
        && span.Attribute("http.route") == "/api/charges/";
}

/// <summary>
/// timeout-too-long on the real lab: with a slow payments and a timeout far above its latency, every checkout holds its call for
/// the whole slowness; the cure (the shop's own timeout per attempt and bulkhead) gives up early. Each checkout's payments
/// attempts are read from the silos' client spans in the checkouts' trace.
/// </summary>
[ScenarioTest(TimeoutTooLongScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class TimeoutTooLongTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    // Payments' delay sits between the cure's attempt timeout (Resilience:PaymentsAttemptTimeout, 1 s) and the storefront's
    // checkout budget (Resilience:CheckoutBudget, 10 s) with room on both sides: a held checkout has 6 s for the rest of its
    // work on a busy machine (with 5 s and 12 checkouts at once, half of them ran past the budget at the start of a CI run),
    // and a cured attempt that gives up at 1 s is well under half the delay.
    private const int Checkouts = 6;
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Timeout_too_long_holds_every_call_for_the_whole_slowness_and_the_cure_gives_up_early()
    {
        await fixture.ResetEverywhereAsync();

        // Slow payments, a 30 s timeout and no bulkhead: every checkout waits the whole delay and succeeds.
        await fixture.EnableEverywhereAsync(TimeoutTooLongScenario.Name, $$"""{"parameters":{"delay":"{{Delay.TotalSeconds}}s","timeout":"30s"},"ttl":"2m"}""");
        var slowTrace = new TestTrace();
        var slow = await ConcurrentCheckoutsAsync(270, slowTrace);

        // The cure: payments as slow, the shop's own timeout per attempt (1 s) and bulkhead: calls give up early.
        await fixture.EnableEverywhereAsync(TimeoutTooLongScenario.Name, $$"""{"parameters":{"delay":"{{Delay.TotalSeconds}}s","timeout":"30s","cure":"true"},"ttl":"2m"}""");
        var fastTrace = new TestTrace();
        var fast = await ConcurrentCheckoutsAsync(282, fastTrace);
        await fixture.DisableEverywhereAsync(TimeoutTooLongScenario.Name);

        var attempts = await Task.WhenAll(AttemptsAsync(slowTrace, Checkouts), AttemptsAsync(fastTrace, 1));
        var (held, givenUp) = (attempts[0], attempts[1]);
        output.WriteLine($"no cure: checkouts {Describe(slow)}; payments attempts {Durations(held)}");
        output.WriteLine($"cure: checkouts {Describe(fast)}; payments attempts {Durations(givenUp)}");

        // Without the cure each checkout's one call waited for the whole slowness (and got its answer).
        Assert.All(slow, c => Assert.True(c.Status == HttpStatusCode.Created, $"slow checkout: {(int)c.Status} {c.Body}"));
        Assert.All(slow, c => Assert.True(c.Latency >= Delay / 2, $"a checkout took {c.Latency.TotalMilliseconds:0} ms with payments {Delay.TotalSeconds} s slow"));
        Assert.Equal(Checkouts, held.Count);
        Assert.All(held, a => Assert.True(a.Duration >= Delay / 2, $"a payments call was held only {a.Duration.TotalMilliseconds:0} ms"));

        // The cure: every attempt gave up long before payments would have answered, and every checkout failed for it (how long a
        // checkout took is its retries of 1 s attempts and their backoff, not payments' delay: not compared with it).
        Assert.All(fast, c => Assert.True(c.Status == HttpStatusCode.BadGateway, $"cured checkout: {(int)c.Status} {c.Body}"));
        Assert.All(givenUp, a => Assert.True(a.Duration < Delay / 2, $"a cured payments attempt was held {a.Duration.TotalMilliseconds:0} ms"));
    }

    /// <summary>The silos' HTTP client spans of the calls to payments' charges in <paramref name="trace"/>.</summary>
    private async Task<List<ViewerSpan>> AttemptsAsync(TestTrace trace, int atLeast) =>
        [.. (await fixture.SettledTraceAsync(trace, found => found.Count(IsAttempt) >= atLeast)).Where(IsAttempt)];

    private static bool IsAttempt(ViewerSpan span) =>
        span.Service == "lab-silo" && span.Kind == ViewerSpan.ClientKind && span.Attribute("http.request.method") == "POST"
        && (span.Attribute("url.full") ?? "").Contains("/api/charges", StringComparison.Ordinal);

    /// <summary>Starts <paramref name="count"/> checkouts at once in one trace.</summary>
    private Task<Checkout[]> ConcurrentCheckoutsAsync(int firstCustomer, TestTrace trace, int count = Checkouts) =>
        Task.WhenAll(Enumerable.Range(firstCustomer, count).Select(customer => fixture.CheckoutAsync(customer, ["SKU-00190"], trace)));

    private static string Describe(Checkout[] checkouts) =>
        string.Join(", ", checkouts.GroupBy(c => (int)c.Status).Select(g => $"{g.Count()}× {g.Key}")) +
        $", {checkouts.Min(c => c.Latency.TotalMilliseconds):0}-{checkouts.Max(c => c.Latency.TotalMilliseconds):0} ms";

    private static string Durations(IEnumerable<ViewerSpan> spans) =>
        string.Join(", ", spans.Select(s => s.Duration.TotalMilliseconds).Order().Select(ms => $"{ms:0}")) + " ms";
}
