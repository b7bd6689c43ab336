using System.Text.Json;
using Lab.Tests.Support;

namespace Lab.Tests.EndToEnd;

/// <summary>The OpenAPI documents the storefront and payments serve declare what each operation answers, and say what it does.</summary>
[Collection(LabProcessesCollection.Name)]
public sealed class OpenApiTests(LabProcessesFixture fixture)
{
    public static TheoryData<string, string, string, string[]> Operations => new()
    {
        // service, path, method, every status the operation answers
        { "storefront", "/api/carts/{customerId}/checkout", "post", ["201", "400", "404", "409", "502", "504"] },
        { "storefront", "/api/carts/{customerId}/items", "post", ["200", "400", "404", "415"] },
        { "storefront", "/api/carts/{customerId}/items/{sku}", "delete", ["200", "400", "404"] },
        { "storefront", "/api/carts/{customerId}", "get", ["200", "400", "404"] },
        { "storefront", "/api/catalog/search", "get", ["200", "400"] },
        { "storefront", "/api/products/{sku}", "get", ["200", "400", "404"] },
        { "storefront", "/api/orders/{orderId}", "get", ["200", "400", "404"] },
        { "storefront", "/api/customers/{customerId}/orders", "get", ["200", "400", "404"] },
        { "payments", "/api/charges", "post", ["200", "201", "400", "415", "422", "504"] },
        { "payments", "/api/charges", "get", ["200", "400"] },
        { "payments", "/api/charges/{chargeId}", "get", ["200", "404"] },
        { "payments", "/api/charges/{chargeId}/refund", "post", ["200", "404"] },
    };

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Each_operation_declares_every_status_it_answers_and_a_description(string service, string path, string method, string[] statuses)
    {
        var http = service == "payments" ? fixture.Payments : fixture.Storefront;
        using var document = JsonDocument.Parse(await http.GetStringAsync("/openapi/v1.json"));
        var operation = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method);
        var declared = operation.GetProperty("responses").EnumerateObject().Select(response => response.Name).ToList();
        Assert.Equal(statuses.Order(), declared.Order());
        Assert.False(string.IsNullOrWhiteSpace(operation.GetProperty("description").GetString()), $"{method} {path} has no description");
    }
}
