using System.Net;
using Lab.Shop;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

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
        var before = await lab.SettledChargeRequestsAsync();
        var confirmed = await lab.CheckoutAsync(CustomerId);
        Assert.True(confirmed.Status == HttpStatusCode.Created, confirmed.ToString());
        Assert.Equal(1, await lab.SettledChargeRequestsAsync() - before);

        // On, 3 x 3 x 3 with every charge failing: 27 requests reach payments for each checkout.
        await lab.EnableAsync("retry-storm", new()
        {
            ["storefront-attempts"] = "3", ["grain-attempts"] = "3", ["client-attempts"] = "3", ["failure-rate"] = "100%",
        });
        await lab.FillCartAsync(CustomerId, Sku);
        const int checkouts = 2;
        before = await lab.SettledChargeRequestsAsync();
        for (var i = 0; i < checkouts; i++)
        {
            var failed = await lab.CheckoutAsync(CustomerId);
            Assert.True(failed.Status == HttpStatusCode.BadGateway, failed.ToString());
            Assert.Contains("503", failed.Detail);
        }

        var perCheckout = (await lab.SettledChargeRequestsAsync() - before) / checkouts;
        output.WriteLine($"3x3x3: {perCheckout} requests at payments per checkout");
        Assert.Equal(3 * 3 * 3, perCheckout);

        // Another product of attempts, to show the count follows the configuration: 2 x 1 x 4 = 8.
        await lab.ResetAsync();
        await lab.EnableAsync("retry-storm", new()
        {
            ["storefront-attempts"] = "2", ["grain-attempts"] = "1", ["client-attempts"] = "4", ["failure-rate"] = "100%",
        });
        before = await lab.SettledChargeRequestsAsync();
        Assert.Equal(HttpStatusCode.BadGateway, (await lab.CheckoutAsync(CustomerId)).Status);
        Assert.Equal(2 * 1 * 4, await lab.SettledChargeRequestsAsync() - before);

        // The cure: the shop's own policies, only the client retries, with jittered backoff and a budget (Resilience:*, a floor
        // of 3 retries and 20% of first attempts per 10 s in each silo), behind its breaker; amplification at most one layer's attempts.
        await lab.ResetAsync();
        await lab.EnableAsync("retry-storm", new()
        {
            ["storefront-attempts"] = "3", ["grain-attempts"] = "3", ["client-attempts"] = "3", ["failure-rate"] = "100%",
            ["cure"] = "true",
        });
        const int curedCheckouts = 4;
        before = await lab.SettledChargeRequestsAsync();
        for (var i = 0; i < curedCheckouts; i++)
        {
            Assert.Equal(HttpStatusCode.BadGateway, (await lab.CheckoutAsync(CustomerId)).Status);
        }

        var cured = await lab.SettledChargeRequestsAsync() - before;
        output.WriteLine($"cure: {cured} requests at payments for {curedCheckouts} checkouts");
        Assert.InRange(cured, curedCheckouts, curedCheckouts * 3);
        // The budget spends far fewer than 2 retries per checkout.
        var budget = new ResilienceOptions();
        Assert.True(cured <= curedCheckouts + (budget.RetryBudgetFloor * 2) + (curedCheckouts * budget.RetryBudgetRatio * 2), $"{cured} requests for {curedCheckouts} cured checkouts");

        // Off again: one request per checkout, and it confirms.
        await lab.ResetAsync();
        before = await lab.SettledChargeRequestsAsync();
        var recovered = await lab.CheckoutAsync(CustomerId);
        Assert.True(recovered.Status == HttpStatusCode.Created, recovered.ToString());
        Assert.Equal(1, await lab.SettledChargeRequestsAsync() - before);
    }
}
