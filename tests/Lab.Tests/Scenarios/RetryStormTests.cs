using System.Net;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// retry-storm on real processes: naive retries at the storefront, the order saga and the payments client multiply the calls
/// that reach payments per checkout; the cure retries at one layer, within a budget. Counted on payments' server spans in each
/// phase's own trace, so no other work is counted with them.
/// </summary>
[ScenarioTest(RetryStormScenario.Name)]
[Collection(ScenarioProcessesCollection.Name)]
public sealed class RetryStormTests(ScenarioProcessesFixture lab, ITestOutputHelper output) : IAsyncLifetime
{
    private const int CustomerId = 101;
    private const string Sku = "SKU-00101";

    public Task InitializeAsync() => lab.ResetAsync();

    public Task DisposeAsync() => lab.ResetAsync();

    [Fact]
    public async Task Naive_retries_at_three_layers_multiply_the_calls_to_payments_and_the_cure_bounds_them()
    {
        // Off: one request to payments per checkout, and the checkout confirms.
        await lab.FillCartAsync(CustomerId, Sku);
        var offTrace = new TestTrace();
        var confirmed = await lab.CheckoutAsync(CustomerId, offTrace);
        Assert.True(confirmed.Status == HttpStatusCode.Created, confirmed.ToString());

        // On, 3 x 3 x 3 with every charge failing: 27 requests reach payments for each checkout.
        await lab.EnableAsync(RetryStormScenario.Name, new()
        {
            ["storefront-attempts"] = "3", ["grain-attempts"] = "3", ["client-attempts"] = "3", ["failure-rate"] = "100%",
        });
        await lab.FillCartAsync(CustomerId, Sku);
        const int checkouts = 2;
        var stormTrace = new TestTrace();
        for (var i = 0; i < checkouts; i++)
        {
            var failed = await lab.CheckoutAsync(CustomerId, stormTrace);
            Assert.True(failed.Status == HttpStatusCode.BadGateway, failed.ToString());
            Assert.Contains("503", failed.Detail);
        }

        // Another product of attempts, to show the count follows the configuration: 2 x 1 x 4 = 8.
        await lab.ResetAsync();
        await lab.EnableAsync(RetryStormScenario.Name, new()
        {
            ["storefront-attempts"] = "2", ["grain-attempts"] = "1", ["client-attempts"] = "4", ["failure-rate"] = "100%",
        });
        var otherTrace = new TestTrace();
        Assert.Equal(HttpStatusCode.BadGateway, (await lab.CheckoutAsync(CustomerId, otherTrace)).Status);

        // The cure: the shop's own policies, only the client retries, with jittered backoff and a budget (Resilience:*, a floor
        // of 3 retries and 20% of first attempts per 10 s in each silo), behind its breaker; amplification at most one layer's attempts.
        await lab.ResetAsync();
        await lab.EnableAsync(RetryStormScenario.Name, new()
        {
            ["storefront-attempts"] = "3", ["grain-attempts"] = "3", ["client-attempts"] = "3", ["failure-rate"] = "100%",
            ["cure"] = "true",
        });
        const int curedCheckouts = 4;
        var curedTrace = new TestTrace();
        for (var i = 0; i < curedCheckouts; i++)
        {
            Assert.Equal(HttpStatusCode.BadGateway, (await lab.CheckoutAsync(CustomerId, curedTrace)).Status);
        }

        // Off again: one request per checkout, and it confirms.
        await lab.ResetAsync();
        var recoveredTrace = new TestTrace();
        var recovered = await lab.CheckoutAsync(CustomerId, recoveredTrace);
        Assert.True(recovered.Status == HttpStatusCode.Created, recovered.ToString());

        var counted = await Task.WhenAll(new[] { offTrace, stormTrace, otherTrace, curedTrace, recoveredTrace }.Select(ChargesAsync));
        var (off, storm, other, cured, after) = (counted[0], counted[1], counted[2], counted[3], counted[4]);
        output.WriteLine($"requests at payments: off {off}; 3x3x3 {storm} for {checkouts} checkouts; 2x1x4 {other}; cure {cured} for {curedCheckouts} checkouts; after {after}");

        Assert.Equal(1, off);
        Assert.Equal(3 * 3 * 3 * checkouts, storm);
        Assert.Equal(2 * 1 * 4, other);
        // The budget spends far fewer than 2 retries per checkout.
        Assert.InRange(cured, curedCheckouts, curedCheckouts * 3);
        var budget = new ResilienceOptions();
        Assert.True(cured <= curedCheckouts + (budget.RetryBudgetFloor * 2) + (curedCheckouts * budget.RetryBudgetRatio * 2), $"{cured} requests for {curedCheckouts} cured checkouts");
        Assert.Equal(1, after);
    }

    private async Task<int> ChargesAsync(TestTrace trace) =>
        ScenarioProcessesFixture.Charges(await lab.SettledTraceAsync(trace, found => ScenarioProcessesFixture.Charges(found).Count > 0)).Count;
}
