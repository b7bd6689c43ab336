using Lab.Scenarios;
using System.Net;
using Lab.Scenarios.Catalog;
using Lab.Scenarios.Shop;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>
/// hot-grain on the real lab: eight readers of one product take turns in its grain (each read holds it for the injected work),
/// so their grain calls never overlap; with the cure (interleaving) they run at once. Read from the silos' spans of the
/// test's own reads.
/// </summary>
[ScenarioTest(HotGrainScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class HotGrainTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    private const string HotSku = "SKU-00003";
    private const int Readers = 8;
    private static readonly TimeSpan Work = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Hot_grain_makes_the_readers_of_one_product_take_turns_and_interleaving_cures_it()
    {
        await fixture.ResetEverywhereAsync();
        var body = $$"""{"parameters":{"sku":"{{HotSku}}","work":"{{Work.TotalMilliseconds}}ms"},"ttl":"2m"}""";
        await fixture.EnableEverywhereAsync(HotGrainScenario.Name, body);
        var hot = await ConcurrentReadsAsync(Enumerable.Repeat(HotSku, Readers).ToList());
        var cold = await ConcurrentReadsAsync(Enumerable.Range(10, Readers).Select(i => $"SKU-{i:00000}").ToList());
        await fixture.EnableEverywhereAsync(HotGrainScenario.Name, body.Replace("\"parameters\":{", "\"parameters\":{\"cure\":\"true\",", StringComparison.Ordinal));
        var cured = await ConcurrentReadsAsync(Enumerable.Repeat(HotSku, Readers).ToList());
        await fixture.DisableEverywhereAsync(HotGrainScenario.Name);
        var after = await ConcurrentReadsAsync(Enumerable.Repeat(HotSku, Readers).ToList());

        var calls = await Task.WhenAll(CallsAsync(hot), CallsAsync(cold), CallsAsync(cured), CallsAsync(after));
        var (hotCalls, coldCalls, curedCalls, afterCalls) = (calls[0], calls[1], calls[2], calls[3]);
        output.WriteLine($"{Readers} concurrent reads, slowest ms: hot {hot.Slowest:0}, other products {cold.Slowest:0}, hot with the cure {cured.Slowest:0}, " +
                         $"hot after disable {after.Slowest:0} (work {Work.TotalMilliseconds:0} ms a read); most grain calls at once: hot {MostAtOnce(hotCalls)}, " +
                         $"cured {MostAtOnce(curedCalls)}");

        // Taking turns: the hot product's grain calls, each holding the work, run one after the other, never two at once; the
        // last reader waited for the ones before it. (A read slow to answer is hedged: its second call queues as well.)
        Assert.True(hotCalls.Count(c => c.Attribute(ScenarioTelemetry.DelayTag) is not null) >= Readers, $"{hotCalls.Count} hot calls");
        Assert.Equal(1, MostAtOnce(hotCalls));
        Assert.True(hot.Slowest >= (Readers - 1) * Work.TotalMilliseconds / 2, $"the slowest hot read took {hot.Slowest:0} ms: no queue");
        // Other products are not touched; with the cure the hot product's reads run at once (the work is kept), and after
        // disable nothing is injected.
        Assert.DoesNotContain(coldCalls, c => c.Scenario is not null);
        Assert.True(curedCalls.Count(c => c.Attribute(ScenarioTelemetry.DelayTag) is not null) >= Readers, $"{curedCalls.Count} cured calls");
        Assert.True(MostAtOnce(curedCalls) > 1, "with the cure the hot product's reads still took turns");
        Assert.DoesNotContain(afterCalls, c => c.Scenario is not null);
    }

    /// <summary>How many of the calls ran at the same moment, at most (all recorded in one silo, on one clock).</summary>
    private static int MostAtOnce(IReadOnlyList<ViewerSpan> calls) =>
        calls.Select(call => calls.Count(other => other.Start < call.End && call.Start < other.End)).DefaultIfEmpty(0).Max();

    /// <summary>The product grain calls of a burst, as the silos recorded them.</summary>
    private async Task<List<ViewerSpan>> CallsAsync(Burst burst) =>
        [.. (await fixture.SettledTraceAsync(burst.Trace, found => found.Count(IsGrainCall) >= burst.Reads)).Where(IsGrainCall)];

    private static bool IsGrainCall(ViewerSpan span) =>
        span.Service == "lab-silo" && span.Kind == ViewerSpan.ServerKind && span.Name.EndsWith("IProductGrain/GetAsync", StringComparison.Ordinal);

    private sealed record Burst(TestTrace Trace, int Reads, double Slowest);

    /// <summary>Reads every SKU at once, in one trace; the slowest read's latency in milliseconds.</summary>
    private async Task<Burst> ConcurrentReadsAsync(IReadOnlyList<string> skus)
    {
        // Each product read once first, untimed and outside the trace: a product whose cache entry expired loads once for all
        // its readers, and the queue is what is measured.
        foreach (var sku in skus.Distinct())
        {
            using var warm = await fixture.Storefront.GetAsync($"/api/products/{sku}");
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var trace = new TestTrace();
        var latencies = await Task.WhenAll(skus.Select(async sku =>
        {
            var (status, _, latency) = await fixture.GetAsync($"/api/products/{sku}", trace);
            Assert.Equal(HttpStatusCode.OK, status);
            return latency.TotalMilliseconds;
        }));
        return new Burst(trace, skus.Count, latencies.Max());
    }
}

/// <summary>
/// request-size-limit on the real lab: payments refuses bodies above 1 KB, so a charge for a cart of thirty lines is refused
/// with 413 at payments, after the storefront and the silos accepted the cart, and not retried; a cart of two lines checks out.
/// </summary>
[ScenarioTest(RequestSizeLimitScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class RequestSizeLimitTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Request_size_limit_refuses_large_carts_at_payments_only()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.EnableEverywhereAsync(RequestSizeLimitScenario.Name,
            """{"parameters":{"max-body":"1KB"},"target":{"service":"payments"},"ttl":"1m"}""");
        var largeTrace = new TestTrace();
        var large = await fixture.CheckoutAsync(281, Enumerable.Range(160, 30).Select(i => $"SKU-{i:00000}").ToList(), largeTrace);
        var small = await fixture.CheckoutAsync(282, ["SKU-00190", "SKU-00191"]);
        await fixture.DisableEverywhereAsync(RequestSizeLimitScenario.Name);
        var after = await fixture.CheckoutAsync(281, Enumerable.Range(160, 30).Select(i => $"SKU-{i:00000}").ToList());

        // What payments answered the large checkout's charges: from its server spans in that checkout's trace.
        var charges = (await fixture.SettledTraceAsync(largeTrace, found => found.Any(IsCharge))).Where(IsCharge).ToList();
        output.WriteLine($"30 lines: {(int)large.Status} {Detail(large)}; payments answered its charge {string.Join(", ", charges.Select(c => c.Attribute("http.response.status_code")))}; " +
                         $"2 lines: {(int)small.Status}; 30 lines after disable: {(int)after.Status}");

        Assert.NotEqual(HttpStatusCode.Created, large.Status);
        Assert.Contains("413", large.Body, StringComparison.Ordinal);
        // Refused once, and not retried: a 413 will not pass on a second try.
        Assert.Equal("413", Assert.Single(charges).Attribute("http.response.status_code"));
        Assert.Equal(HttpStatusCode.Created, small.Status);
        Assert.Equal(HttpStatusCode.Created, after.Status);
    }

    private static bool IsCharge(ViewerSpan span) =>
        span.Service == "lab-payments" && span.Kind == ViewerSpan.ServerKind && span.Attribute("http.request.method") == "POST"
        && span.Attribute("http.route") == "/api/charges/";

    private static string Detail(Checkout checkout) => checkout.Body.Length > 200 ? checkout.Body[..200] : checkout.Body;
}

/// <summary>
/// schema-drift on the real lab: the charges table loses its column "currency" to "currency_code", so every charge fails with the
/// database's own error while catalog and carts work; expanding instead of renaming (the cure) fails nothing.
/// </summary>
[ScenarioTest(SchemaDriftScenario.Name)]
[Collection(ScenarioLabCollection.Name)]
public sealed class SchemaDriftTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    /// <summary>
    /// The charges table loses its column "currency" to "currency_code": every charge fails with the database's own error
    /// while catalog and carts work; expanding instead of renaming (the cure) fails nothing; disabling renames it back.
    /// </summary>
    [Fact]
    public async Task Schema_drift_fails_payments_queries_only_and_expand_contract_cures_it()
    {
        await fixture.ResetEverywhereAsync();
        await fixture.EnableEverywhereAsync(SchemaDriftScenario.Name, """{"ttl":"1m"}""");
        var drifted = await fixture.CheckoutAsync(283, ["SKU-00192"]);
        using var catalog = await fixture.Storefront.GetAsync("/api/catalog/search?q=lamp");
        // What payments itself answers a charge now (with the operator's key, for an order that does not exist: nothing can be written).
        using var payments = new HttpClient { BaseAddress = new Uri(fixture.Lab.Topology.PaymentsUrl) };
        payments.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", fixture.Lab.OperatorPaymentsKey);
        using var charge = new HttpRequestMessage(HttpMethod.Post, "/api/charges")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { orderId = Guid.NewGuid(), amount = 1.5m, currency = "EUR" }),
        };
        charge.Headers.Add("Idempotency-Key", $"schema-drift-{Guid.NewGuid()}");
        using var charged = await payments.SendAsync(charge);
        var problem = await charged.Content.ReadAsStringAsync();
        await fixture.EnableEverywhereAsync(SchemaDriftScenario.Name, """{"parameters":{"cure":"true"},"ttl":"1m"}""");
        var expanded = await fixture.CheckoutAsync(283, ["SKU-00193"]);
        await fixture.DisableEverywhereAsync(SchemaDriftScenario.Name);
        var restored = await fixture.CheckoutAsync(283, ["SKU-00194"]);
        output.WriteLine($"renamed: checkout {(int)drifted.Status} {Detail(drifted)}, catalog {(int)catalog.StatusCode}; expanded: {(int)expanded.Status}; " +
                         $"restored: {(int)restored.Status}; payments itself: {(int)charged.StatusCode} {problem}");

        Assert.NotEqual(HttpStatusCode.Created, drifted.Status);
        Assert.Equal(HttpStatusCode.OK, catalog.StatusCode);
        // Payments fails with the database's own words, whichever database it is.
        Assert.Equal(HttpStatusCode.InternalServerError, charged.StatusCode);
        // SQLite: "table charges has no column named currency" (or "no such column: currency"); PostgreSQL: column "currency" ... does not exist.
        Assert.Matches(@"no column named currency|no such column: currency|column \\""currency\\"".* does not exist", problem);
        Assert.Equal(HttpStatusCode.Created, expanded.Status);
        Assert.Equal(HttpStatusCode.Created, restored.Status);
    }

    private static string Detail(Checkout checkout) => checkout.Body.Length > 200 ? checkout.Body[..200] : checkout.Body;
}
