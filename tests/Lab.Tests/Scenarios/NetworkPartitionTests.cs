using System.Net;
using System.Net.Http.Json;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

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
        var before = await lab.SettledChargeRequestsAsync();
        foreach (var customer in Customers)
        {
            var outcome = await lab.CheckoutAsync(customer);
            Assert.True(outcome.Status == HttpStatusCode.BadGateway, outcome.ToString());
            // Refused, or failed fast once the silo's own breaker opened on the refusals.
            Assert.True(outcome.Detail.Contains("Connection refused", StringComparison.Ordinal) || IsBreakerOpen(outcome), outcome.ToString());
        }

        // The rest of the shop works across the cut: catalog reads, search, cart changes.
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.GetAsync("/api/products/SKU-00007")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.GetAsync("/api/catalog/search?q=a")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.PostAsJsonAsync($"/api/carts/{Customers[0]}/items", new { sku = "SKU-00008", quantity = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.DeleteAsync($"/api/carts/{Customers[0]}/items/SKU-00008")).StatusCode);
        Assert.Equal(0, await lab.SettledChargeRequestsAsync() - before);

        // A black hole: each attempt waits for the payments client's timeout per attempt; the retries the budget allows are
        // bounded by its timeout for the whole call. Then the checkout fails.
        await lab.ResetAsync();
        // The refusals may have opened a silo's breaker: past its break, the black-holed checkout is its probe, not failed fast.
        await Task.Delay(ScenarioProcessesFixture.BreakerBreakDuration + TimeSpan.FromMilliseconds(500));
        await lab.EnableAsync("network-partition", new() { ["link"] = "payments", ["mode"] = "blackhole" }, new() { ["service"] = "silo" });
        before = await lab.SettledChargeRequestsAsync();
        var stalled = await lab.CheckoutAsync(Customers[0]);
        output.WriteLine($"black hole: {stalled}");
        Assert.Equal(HttpStatusCode.BadGateway, stalled.Status);
        Assert.True(stalled.Detail.Contains($"no answer within {ScenarioProcessesFixture.PaymentsAttemptTimeout.TotalMilliseconds:0} ms", StringComparison.Ordinal)
                    || stalled.Detail.Contains("TaskCanceledException", StringComparison.Ordinal), stalled.ToString());
        Assert.InRange(stalled.Elapsed, ScenarioProcessesFixture.PaymentsAttemptTimeout * 0.9, ScenarioProcessesFixture.PaymentsTimeout * 3);
        Assert.Equal(0, await lab.SettledChargeRequestsAsync() - before);

        // One silo cut at a time: failures only ever come from the cut silo, and only the others' checkouts reach payments.
        var failures = 0;
        foreach (var cut in new[] { "silo-1", "silo-2" })
        {
            await lab.ResetAsync();
            // A breaker opened by the cut before closes after its break, at the first probe: start from closed ones.
            await Task.Delay(ScenarioProcessesFixture.BreakerBreakDuration + TimeSpan.FromMilliseconds(500));
            await lab.EnableAsync("network-partition", new() { ["link"] = "payments", ["mode"] = "refuse" }, new() { ["service"] = cut });
            before = await lab.SettledChargeRequestsAsync();
            var confirmed = 0;
            foreach (var customer in Customers)
            {
                var outcome = await lab.CheckoutAsync(customer);
                output.WriteLine($"{cut} cut, customer {customer}: {outcome}");
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
            Assert.Equal(confirmed, await lab.SettledChargeRequestsAsync() - before);
        }

        Assert.True(failures > 0, "some order saga ran on a cut silo");

        // Off: after the breakers' break, every checkout reaches payments and confirms.
        await lab.ResetAsync();
        await Task.Delay(ScenarioProcessesFixture.BreakerBreakDuration + TimeSpan.FromMilliseconds(500));
        before = await lab.SettledChargeRequestsAsync();
        foreach (var customer in Customers)
        {
            var outcome = await lab.CheckoutAsync(customer);
            Assert.True(outcome.Status == HttpStatusCode.Created, outcome.ToString());
        }

        Assert.Equal(Customers.Length, await lab.SettledChargeRequestsAsync() - before);
    }

    [Fact]
    public async Task Cutting_one_silo_from_the_others_fails_grain_calls_across_the_cut_only()
    {
        const int customers = 8;
        await lab.EnableAsync("network-partition", new() { ["link"] = "silos", ["mode"] = "refuse" }, new() { ["service"] = "silo-1" });
        var injectionsBefore = await InjectionsAsync();

        // Calls from the storefront into either silo are not cut: product reads always succeed.
        for (var i = 1; i <= 30; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await lab.Storefront.GetAsync($"/api/products/SKU-{i:00000}")).StatusCode);
        }

        // Adding to a cart calls the product grain from the cart grain: across the cut when they sit on different silos.
        var failed = new List<string>();
        var succeeded = 0;
        for (var c = 0; c < customers; c++)
        {
            for (var i = 1; i <= 4; i++)
            {
                using var response = await lab.Storefront.PostAsJsonAsync($"/api/carts/{141 + c}/items", new { sku = $"SKU-{c * 4 + i:00000}", quantity = 1 });
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

        // The exporter caches a scrape for a moment: wait for the counters to catch up with the failures.
        var injections = await Eventually.GetAsync(InjectionsAsync,
            i => i.Silo1 + i.Silo2 - injectionsBefore.Silo1 - injectionsBefore.Silo2 >= failed.Count, TimeSpan.FromSeconds(5),
            "the silos' lab.scenario.injections count every refused call");
        output.WriteLine($"silo-1 cut from silo-2: {succeeded} cart changes succeeded, {failed.Count} failed; " +
                         $"injections at silo-1 {injections.Silo1 - injectionsBefore.Silo1}, at silo-2 {injections.Silo2 - injectionsBefore.Silo2}");
        Assert.True(failed.Count > 0, "some cart grain called a product grain on the other silo");
        Assert.True(succeeded > 0, "calls within one silo go on");
        Assert.All(failed, f => Assert.Contains("SiloUnavailableException", f));
        Assert.Equal(failed.Count, injections.Silo1 + injections.Silo2 - injectionsBefore.Silo1 - injectionsBefore.Silo2);

        // Off: the same calls succeed.
        await lab.ResetAsync();
        for (var c = 0; c < customers; c++)
        {
            using var response = await lab.Storefront.PostAsJsonAsync($"/api/carts/{141 + c}/items", new { sku = $"SKU-{c * 4 + 1:00000}", quantity = 1 });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    private async Task<(double Silo1, double Silo2)> InjectionsAsync()
    {
        var counts = new double[2];
        for (var i = 0; i < 2; i++)
        {
            counts[i] = (await ScenarioProcessesFixture.MetricsAsync(lab.Silos[i])).Sum("lab_scenario_injections_total",
                ("scenario", "network-partition"), ("hook", "GrainIncoming"));
        }

        return (counts[0], counts[1]);
    }

    private static bool IsBreakerOpen(CheckoutOutcome outcome) => outcome.Detail.Contains("circuit open", StringComparison.Ordinal);
}
