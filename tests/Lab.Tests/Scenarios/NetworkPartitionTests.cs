using System.Net;
using System.Net.Http.Json;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// network-partition on real processes: silos cut from payments fail their checkouts while catalog and carts work; one silo cut
/// from the other fails the grain calls across the cut only. Requests that reached payments, and the refused calls, are counted
/// on the spans of the test's own traces.
/// </summary>
[ScenarioTest(NetworkPartitionScenario.Name)]
[Collection(ScenarioProcessesCollection.Name)]
public sealed class NetworkPartitionTests(ScenarioProcessesFixture lab, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly int[] Customers = [121, 122, 123, 124, 125, 126];

    public Task InitializeAsync() => lab.ResetAsync();

    public Task DisposeAsync() => lab.ResetAsync();

    [Fact]
    public async Task Cutting_the_silos_from_payments_fails_checkouts_while_catalog_and_carts_work_then_recovers()
    {
        foreach (var customer in Customers)
        {
            await lab.FillCartAsync(customer, $"SKU-{customer:00000}");
        }

        // Every silo cut from payments, connections refused.
        await lab.EnableAsync("network-partition", new() { ["link"] = "payments", ["mode"] = "refuse" }, new() { ["service"] = "silo" });
        var refusedTrace = new TestTrace();
        foreach (var customer in Customers)
        {
            var outcome = await lab.CheckoutAsync(customer, refusedTrace);
            Assert.True(outcome.Status == HttpStatusCode.BadGateway, outcome.ToString());
            // Refused, or failed fast once the silo's own breaker opened on the refusals.
            Assert.True(outcome.Detail.Contains("Connection refused", StringComparison.Ordinal) || IsBreakerOpen(outcome), outcome.ToString());
        }

        // The rest of the shop works across the cut: catalog reads, search, cart changes.
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.GetAsync("/api/products/SKU-00007")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.GetAsync("/api/catalog/search?q=a")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.PostAsJsonAsync($"/api/carts/{Customers[0]}/items", new { sku = "SKU-00008", quantity = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.DeleteAsync($"/api/carts/{Customers[0]}/items/SKU-00008")).StatusCode);
        // (What reached payments is read at the end, once every trace is exported.)

        // A black hole: each attempt waits for the payments client's timeout per attempt; the retries the budget allows are
        // bounded by its timeout for the whole call. Then the checkout fails.
        await lab.ResetAsync();
        // The refusals may have opened a silo's breaker: past its break, the black-holed checkout is its probe, not failed fast.
        await Task.Delay(ScenarioProcessesFixture.BreakerBreakDuration + TimeSpan.FromMilliseconds(500));
        await lab.EnableAsync("network-partition", new() { ["link"] = "payments", ["mode"] = "blackhole" }, new() { ["service"] = "silo" });
        var stalledTrace = new TestTrace();
        var stalled = await lab.CheckoutAsync(Customers[0], stalledTrace);
        output.WriteLine($"black hole: {stalled}");
        Assert.Equal(HttpStatusCode.BadGateway, stalled.Status);
        Assert.True(stalled.Detail.Contains($"no answer within {ScenarioProcessesFixture.PaymentsAttemptTimeout.TotalMilliseconds:0} ms", StringComparison.Ordinal)
                    || stalled.Detail.Contains("TaskCanceledException", StringComparison.Ordinal), stalled.ToString());
        // It waited for an attempt's timeout at least (half of it, as measured here), within the call's whole timeout and the saga's.
        Assert.InRange(stalled.Elapsed, ScenarioProcessesFixture.PaymentsAttemptTimeout / 2, ScenarioProcessesFixture.PaymentsTimeout * 3);

        // One silo cut at a time: failures only ever come from the cut silo, and only the other's checkouts reach payments. (Both
        // in turn: an order's saga runs on either silo, and over twelve checkouts some ran on a cut one.)
        var failures = 0;
        // Each checkout in a trace of its own, so what reached payments is counted per checkout.
        var cutCheckouts = new List<(string Cut, int Customer, TestTrace Trace, bool Confirmed)>();
        foreach (var cut in new[] { "silo-1", "silo-2" })
        {
            await lab.ResetAsync();
            // A breaker opened by the cut before closes after its break, at the first probe: start from closed ones.
            await Task.Delay(ScenarioProcessesFixture.BreakerBreakDuration + TimeSpan.FromMilliseconds(500));
            await lab.EnableAsync("network-partition", new() { ["link"] = "payments", ["mode"] = "refuse" }, new() { ["service"] = cut });
            var confirmed = 0;
            foreach (var customer in Customers)
            {
                var trace = new TestTrace();
                var outcome = await lab.CheckoutAsync(customer, trace);
                output.WriteLine($"{cut} cut, customer {customer}: {outcome}");
                cutCheckouts.Add((cut, customer, trace, outcome.Status == HttpStatusCode.Created));
                if (outcome.Status == HttpStatusCode.Created)
                {
                    confirmed++;
                    await lab.FillCartAsync(customer, $"SKU-{customer:00000}");
                    continue;
                }

                failures++;
                Assert.True(outcome.Status == HttpStatusCode.BadGateway, outcome.ToString());
                // Each silo has its own breaker: only the cut one opens, so a fail-fast comes from the cut silo too.
                Assert.True(outcome.Detail.Contains($"{cut} cut from payments", StringComparison.Ordinal) || IsBreakerOpen(outcome), outcome.ToString());
            }

            output.WriteLine($"{cut} cut: {confirmed} of {Customers.Length} checkouts confirmed through the other silo");
        }

        Assert.True(failures > 0, "some order saga ran on a cut silo");

        // Off: after the breakers' break, every checkout reaches payments and confirms.
        await lab.ResetAsync();
        await Task.Delay(ScenarioProcessesFixture.BreakerBreakDuration + TimeSpan.FromMilliseconds(500));
        var offTrace = new TestTrace();
        foreach (var customer in Customers)
        {
            var outcome = await lab.CheckoutAsync(customer, offTrace);
            Assert.True(outcome.Status == HttpStatusCode.Created, outcome.ToString());
        }

        // What reached payments, phase by phase: nothing across a cut; with one silo cut, one charge for each checkout the other
        // silo confirmed and none for those that failed on the cut one; then every checkout.
        var charges = await Task.WhenAll(
            lab.SettledTraceAsync(refusedTrace), lab.SettledTraceAsync(stalledTrace),
            lab.SettledTraceAsync(offTrace, found => ScenarioProcessesFixture.Charges(found).Count >= Customers.Length));
        var cutCharges = await Task.WhenAll(cutCheckouts.Select(c =>
            lab.SettledTraceAsync(c.Trace, c.Confirmed ? found => ScenarioProcessesFixture.Charges(found).Count >= 1 : null)));
        Assert.Empty(ScenarioProcessesFixture.Charges(charges[0]));
        Assert.Empty(ScenarioProcessesFixture.Charges(charges[1]));
        Assert.All(cutCheckouts.Zip(cutCharges), c => Assert.True(ScenarioProcessesFixture.Charges(c.Second).Count == (c.First.Confirmed ? 1 : 0),
            $"{c.First.Cut} cut, customer {c.First.Customer} ({(c.First.Confirmed ? "confirmed" : "failed")}): " +
            $"{ScenarioProcessesFixture.Charges(c.Second).Count} charges among {c.Second.Count} spans"));
        Assert.Equal(Customers.Length, ScenarioProcessesFixture.Charges(charges[2]).Count);
    }

    [Fact]
    public async Task Cutting_one_silo_from_the_others_fails_grain_calls_across_the_cut_only()
    {
        const int customers = 8;
        await lab.EnableAsync("network-partition", new() { ["link"] = "silos", ["mode"] = "refuse" }, new() { ["service"] = "silo-1" });

        // Calls from the storefront into either silo are not cut: product reads always succeed.
        for (var i = 1; i <= 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.GetAsync($"/api/products/SKU-{i:00000}")).StatusCode);
        }

        // Adding to a cart calls the product grain from the cart grain: across the cut when they sit on different silos.
        var failed = new List<string>();
        var succeeded = 0;
        var trace = new TestTrace();
        for (var c = 0; c < customers; c++)
        {
            for (var i = 1; i <= 4; i++)
            {
                using var request = trace.On(new HttpRequestMessage(HttpMethod.Post, $"/api/carts/{141 + c}/items")
                {
                    Content = JsonContent.Create(new { sku = $"SKU-{c * 4 + i:00000}", quantity = 1 }),
                });
                using var response = await lab.Storefront.SendAsync(request);
                if (response.IsSuccessStatusCode)
                {
                    succeeded++;
                }
                else
                {
                    failed.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        }

        // Each refused call is an injection on the span of the call where it was refused, in the cart change's trace.
        var refused = (await lab.SettledTraceAsync(trace, found => found.Count(s => s.Scenario == NetworkPartitionScenario.Name) >= failed.Count))
            .Count(s => s.Scenario == NetworkPartitionScenario.Name);
        output.WriteLine($"silo-1 cut from silo-2: {succeeded} cart changes succeeded, {failed.Count} failed; {refused} calls refused at the cut");
        Assert.True(failed.Count > 0, "some cart grain called a product grain on the other silo");
        Assert.True(succeeded > 0, "calls within one silo go on");
        Assert.All(failed, f => Assert.Contains("SiloUnavailableException", f));
        Assert.Equal(failed.Count, refused);

        // Off: the same calls succeed.
        await lab.ResetAsync();
        for (var c = 0; c < customers; c++)
        {
            using var response = await lab.Storefront.PostAsJsonAsync($"/api/carts/{141 + c}/items", new { sku = $"SKU-{c * 4 + 1:00000}", quantity = 1 });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    private static bool IsBreakerOpen(CheckoutOutcome outcome) => outcome.Detail.Contains("circuit open", StringComparison.Ordinal);
}
