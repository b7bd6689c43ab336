using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Lab.Tests.Support;

namespace Lab.Tests.EndToEnd;

[Collection(LabProcessesCollection.Name)]
public sealed class CheckoutTraceTests(LabProcessesFixture fixture)
{
    [Fact]
    public async Task A_checkout_is_one_trace_across_storefront_silos_database_and_payments()
    {
        const int customerId = 11;
        await fixture.EmptyCartAsync(customerId);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Storefront.PostAsJsonAsync($"/api/carts/{customerId}/items",
            new { sku = "SKU-00050", quantity = 1 })).StatusCode);
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var checkout = new HttpRequestMessage(HttpMethod.Post, $"/api/carts/{customerId}/checkout");
        checkout.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        using var response = await fixture.Storefront.SendAsync(checkout);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        using var viewer = new HttpClient { BaseAddress = new Uri(fixture.Lab.TelemetryViewerUrl!) };
        var expectations = new (string What, Func<AspireSpan, bool> Match)[]
        {
            ("the storefront's server span", span => span.Service == "lab-storefront" && span.Kind == AspireTraces.ServerKind),
            ("an Orleans grain call to the order grain in a silo", span => span.Service == "lab-silo"
                && span.Attributes.GetValueOrDefault("rpc.system.name") == "orleans"
                && span.Attributes.GetValueOrDefault("orleans.rpc.service")?.EndsWith("IOrderGrain") == true),
            ("a silo database span with its statement", span => span.Service == "lab-silo"
                && span.Attributes.GetValueOrDefault("db.query.text")?.Contains("UPDATE inventory") == true),
            ("the payments server span", span => span.Service == "lab-payments" && span.Attributes.GetValueOrDefault("http.route") == "/api/charges/"),
            ("a payments database span with its statement", span => span.Service == "lab-payments"
                && span.Attributes.GetValueOrDefault("db.query.text")?.Contains("INSERT INTO charges") == true),
        };
        var spans = await Eventually.GetAsync(() => AspireTraces.ReadAsync(viewer, traceId),
            found => expectations.All(expected => found.Any(expected.Match)),
            TimeSpan.FromSeconds(45), $"trace {traceId} holds: {string.Join("; ", expectations.Select(e => e.What))}");

        Assert.All(spans, span => Assert.Equal(traceId, span.TraceId));
    }
}
