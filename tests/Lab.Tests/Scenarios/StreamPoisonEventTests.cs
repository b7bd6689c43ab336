using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// stream-poison-event in the actor-system lab (its recovery sweep runs every second): Shipped events the projection
/// cannot process are delivered again and again while the views lag; with the cure each is tried three times and parked,
/// lab verify lists it, and a replay after disable applies it.
/// </summary>
[ScenarioTest(StreamPoisonEventScenario.Name)]
[Collection(ActorSystemLabCollection.Name)]
public sealed class StreamPoisonEventTests(ActorSystemLabFixture fixture, ITestOutputHelper output)
{
    private const string Failures = "lab_order_events_consume_failures_total";
    private const string Parked = "lab_order_events_dead_lettered_total";
    private const string ParkedInvariant = "no event parked as a dead letter";

    [Fact]
    public async Task Poison_events_are_redelivered_without_end_until_dead_lettering_parks_them_and_a_replay_applies_them()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.WaitAllHealthyAsync(TimeSpan.FromSeconds(30));
        var failuresBefore = await fixture.SiloSumAsync(Failures, ("kind", "Shipped"));
        var parkedBefore = await fixture.SiloSumAsync(Parked);

        await fixture.EnableEverywhereAsync(StreamPoisonEventScenario.Name, """{"parameters":{"kind":"Shipped","share":"100%"},"ttl":"3m"}""");
        var naive = await ShippedOrdersAsync(220);
        await Task.Delay(TimeSpan.FromSeconds(4));
        var failuresNaive = await fixture.SiloSumAsync(Failures, ("kind", "Shipped")) - failuresBefore;
        await Task.Delay(TimeSpan.FromSeconds(4));
        var failuresNaiveLater = await fixture.SiloSumAsync(Failures, ("kind", "Shipped")) - failuresBefore;
        var naiveViews = Views(naive);

        await fixture.EnableEverywhereAsync(StreamPoisonEventScenario.Name, """{"parameters":{"kind":"Shipped","share":"100%","cure":"true"},"ttl":"3m"}""");
        var cured = await ShippedOrdersAsync(223);
        // Parked after three tries each; the naive phase's events are parked too once they come again (redelivery or the sweep).
        var found = await Eventually.GetAsync(() => Task.FromResult(fixture.Verify()),
            violations => violations.Count(v => v.Invariant == ParkedInvariant) >= cured.Count + naive.Count, TimeSpan.FromSeconds(90), "every poisoned event parked");
        await Task.Delay(400); // past the scrape cache
        var parked = await fixture.SiloSumAsync(Parked) - parkedBefore;
        var curedViews = Views(cured);

        await fixture.DisableEverywhereAsync(StreamPoisonEventScenario.Name);
        using var replay = await fixture.Control.PostAsync("/api/admin/dead-letters/replay", null);
        var replayed = await replay.Content.ReadFromJsonAsync<JsonElement>();
        var replayedViews = await Eventually.GetAsync(() => Task.FromResult(Views([.. naive, .. cured])), views => views.All(v => v == "Shipped"),
            TimeSpan.FromSeconds(20), "the replayed events applied");
        output.WriteLine($"naive: {failuresNaive} failed deliveries after 4 s, {failuresNaiveLater} after 8 s, views {string.Join(",", naiveViews)}; " +
                         $"cure: {parked} parked, views {string.Join(",", curedViews)}; verify then: {string.Join("; ", found.Select(v => v.Invariant).Distinct())}; " +
                         $"replay: {(int)replay.StatusCode} {replayed}, views {string.Join(",", replayedViews)}");

        Assert.True(failuresNaive >= naive.Count * 2, $"only {failuresNaive} failed deliveries of {naive.Count} poison events");
        Assert.True(failuresNaiveLater > failuresNaive, "the poison events stopped coming back without a cure");
        Assert.All(naiveViews, view => Assert.NotEqual("Shipped", view));
        Assert.All(curedViews, view => Assert.NotEqual("Shipped", view));
        Assert.Equal(naive.Count + cured.Count, found.Count(v => v.Invariant == ParkedInvariant));
        Assert.Equal(naive.Count + cured.Count, parked); // each event parked once, however many deliveries of it failed
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(naive.Count + cured.Count, replayed.GetProperty("orders").GetInt32());
        await ActorSystemAsserts.VerifiedCleanAsync(fixture, output, TimeSpan.FromSeconds(30));
    }

    /// <summary>Three checkouts from customers <paramref name="firstCustomer"/> on, waited for until their orders are shipped.</summary>
    private async Task<List<Guid>> ShippedOrdersAsync(int firstCustomer)
    {
        var orders = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var checkout = await fixture.CheckoutAsync(firstCustomer + i, [$"SKU-{170 + firstCustomer % 10 + i:00000}"]);
            Assert.True(checkout.Status == HttpStatusCode.Created, $"checkout: {(int)checkout.Status} {checkout.Body}");
            using var document = JsonDocument.Parse(checkout.Body);
            orders.Add(document.RootElement.GetProperty("orderId").GetGuid());
        }

        foreach (var order in orders)
        {
            await Eventually.GetAsync(async () => (await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, $"/api/orders/{order}")).GetProperty("status").GetString(),
                status => status == "Shipped", TimeSpan.FromSeconds(20), $"order {order} shipped");
        }

        return orders;
    }

    /// <summary>The status each order's view holds (the read model), "missing" for none.</summary>
    private List<string> Views(IEnumerable<Guid> orders)
    {
        using var shop = LabProcessesFixture.OpenDatabase(fixture.Lab, "shop.db");
        return orders.Select(order =>
        {
            using var command = shop.CreateCommand();
            command.CommandText = $"SELECT status FROM order_status_view WHERE order_id = '{order}'";
            return command.ExecuteScalar() as string ?? "missing";
        }).ToList();
    }
}
