using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// circuit-breaker on real processes: payments fails, the shop's breaker opens and fails calls fast without a request to
/// payments, probes after its break and closes once payments recovers. What reached payments is counted on its server spans in
/// the test's own trace.
/// </summary>
[ScenarioTest(CircuitBreakerScenario.Name)]
[Collection(ScenarioProcessesCollection.Name)]
public sealed class CircuitBreakerTests(ScenarioProcessesFixture lab, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly int[] Customers = [111, 112, 113, 114];
    private static readonly TimeSpan FaultLatency = TimeSpan.FromMilliseconds(300);

    public Task InitializeAsync() => lab.ResetAsync();

    public Task DisposeAsync() => lab.ResetAsync();

    [Fact]
    public async Task The_breaker_opens_fails_fast_without_calling_payments_probes_and_closes_when_payments_recovers()
    {
        foreach (var customer in Customers)
        {
            await lab.FillCartAsync(customer, $"SKU-{customer:00000}");
        }

        var transitionsBefore = await TransitionsAsync();
        await lab.EnableAsync("circuit-breaker", new()
        {
            ["window"] = "60s", ["failure-rate"] = "100%", ["fault-latency"] = "300ms", ["failure-ratio"] = "0.5",
            ["minimum-throughput"] = "2", ["sampling-duration"] = "30s", ["break-duration"] = "1s",
        });

        // While payments fails: every checkout fails; the ones that reached payments took the fault latency, the rest
        // were failed fast by an open breaker (one per silo; two failures each open them) without a request to payments.
        var clock = Stopwatch.StartNew();
        var duringTrace = new TestTrace();
        var during = new List<CheckoutOutcome>();
        for (var i = 0; clock.Elapsed < TimeSpan.FromSeconds(20) && during.Count(IsRejected) < 8; i++)
        {
            during.Add(await lab.CheckoutAsync(Customers[i % Customers.Length], duringTrace));
        }

        var reachedPayments = ScenarioProcessesFixture.Charges(await lab.SettledTraceAsync(duringTrace)).Count;
        var rejected = during.Where(IsRejected).ToList();
        var answered503 = during.Where(o => o.Detail.Contains("answered 503", StringComparison.Ordinal)).ToList();
        output.WriteLine($"during the fault: {during.Count} checkouts in {clock.Elapsed.TotalSeconds:0.0} s, {reachedPayments} requests reached payments, " +
                         $"{rejected.Count} failed fast (median {Median(rejected)} ms), {answered503.Count} got 503 (median {Median(answered503)} ms)");

        Assert.All(during, o => Assert.Equal(HttpStatusCode.BadGateway, o.Status));
        Assert.Equal(during.Count, rejected.Count + answered503.Count);
        Assert.True(rejected.Count >= 8, $"{rejected.Count} checkouts failed fast of {during.Count}");
        // A call rejected by the breaker never reaches payments: payments saw exactly the calls that got its 503.
        Assert.Equal(answered503.Count, reachedPayments);
        Assert.True(reachedPayments < during.Count, $"{reachedPayments} requests reached payments for {during.Count} checkouts");
        Assert.All(answered503, o => Assert.True(o.Elapsed >= FaultLatency / 2, o.ToString()));
        Assert.True(Median(rejected) < Median(answered503), $"fail-fast median {Median(rejected)} ms, 503 median {Median(answered503)} ms");

        // Payments recovers (the fault window closes; the breaker is kept): after the break a probe succeeds, the breaker
        // closes and checkouts confirm again.
        using (var change = await lab.Storefront.PatchAsJsonAsync("/lab/scenarios/circuit-breaker", new { parameters = new { window = "1s" } }))
        {
            Assert.True(change.IsSuccessStatusCode, await change.Content.ReadAsStringAsync());
        }

        var confirmed = 0;
        for (var i = 0; i < 40 && confirmed < Customers.Length; i++)
        {
            var customer = Customers[i % Customers.Length];
            var outcome = await lab.CheckoutAsync(customer);
            if (outcome.Status == HttpStatusCode.Created)
            {
                confirmed++;
                await lab.FillCartAsync(customer, $"SKU-{customer:00000}");
            }
            else
            {
                output.WriteLine($"after the window: {outcome}");
                await Task.Delay(250);
            }
        }

        Assert.Equal(Customers.Length, confirmed);

        // Each checkout's order grain lands on either silo: the one whose breaker opened may have taken none of the
        // checkouts above since its break ended. Go on checking out (bounded) until a probe there closes it.
        var transitions = await TransitionsAsync();
        for (var i = 0; i < 40 && transitions.Closed <= transitionsBefore.Closed; i++)
        {
            var customer = Customers[i % Customers.Length];
            if ((await lab.CheckoutAsync(customer)).Status == HttpStatusCode.Created)
            {
                await lab.FillCartAsync(customer, $"SKU-{customer:00000}");
            }

            await Task.Delay(100);
            transitions = await TransitionsAsync();
        }

        Assert.True(transitions.Closed > transitionsBefore.Closed, $"no breaker transition to closed in the silos' metrics: {transitions}");
        output.WriteLine($"transitions: {transitions.Opened - transitionsBefore.Opened} opened, " +
                         $"{transitions.HalfOpened - transitionsBefore.HalfOpened} half-opened, {transitions.Closed - transitionsBefore.Closed} closed");
        Assert.True(transitions.Opened > transitionsBefore.Opened);
        Assert.True(transitions.HalfOpened > transitionsBefore.HalfOpened);

        // Off: no breaker, no fault; checkouts confirm with one request each.
        await lab.ResetAsync();
        var offTrace = new TestTrace();
        var off = await lab.CheckoutAsync(Customers[0], offTrace);
        Assert.True(off.Status == HttpStatusCode.Created, off.ToString());
        Assert.Single(ScenarioProcessesFixture.Charges(await lab.SettledTraceAsync(offTrace)));
    }

    private async Task<(double Opened, double HalfOpened, double Closed)> TransitionsAsync()
    {
        double opened = 0, halfOpened = 0, closed = 0;
        foreach (var silo in lab.Silos)
        {
            var metrics = await ScenarioProcessesFixture.MetricsAsync(silo);
            opened += metrics.Sum("lab_payments_breaker_transitions_total", ("state", "opened"));
            halfOpened += metrics.Sum("lab_payments_breaker_transitions_total", ("state", "half-opened"));
            closed += metrics.Sum("lab_payments_breaker_transitions_total", ("state", "closed"));
        }

        return (opened, halfOpened, closed);
    }

    private static bool IsRejected(CheckoutOutcome outcome) => outcome.Detail.Contains("circuit open", StringComparison.Ordinal);

    private static double Median(IReadOnlyList<CheckoutOutcome> outcomes) =>
        outcomes.Count == 0 ? double.NaN : Math.Round(outcomes.Select(o => o.Elapsed.TotalMilliseconds).Order().ElementAt(outcomes.Count / 2));
}
