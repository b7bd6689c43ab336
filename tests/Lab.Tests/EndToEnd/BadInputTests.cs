using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;
using Lab.Tests.Support;

namespace Lab.Tests.EndToEnd;

/// <summary>Bad input to every storefront and payments endpoint gets a 4xx problem that names the problem, and changes nothing.</summary>
[Collection(LabProcessesCollection.Name)]
public sealed class BadInputTests(LabProcessesFixture fixture)
{
    private const int Customer = 42;

    public static TheoryData<string, string, string, string?, string?, int, string> Cases => new()
    {
        // service, method, path, body, idempotency key, expected status, text the problem must contain
        { "storefront", "GET", "/api/catalog/search?pageSize=0", null, null, 400, "pageSize" },
        { "storefront", "GET", "/api/catalog/search?pageSize=101", null, null, 400, "pageSize" },
        { "storefront", "GET", "/api/catalog/search?page=0", null, null, 400, "page" },
        { "storefront", "GET", "/api/catalog/search?page=abc", null, null, 400, "page" },
        { "storefront", "GET", "/api/catalog/search?q=" + new string('x', 101), null, null, 400, "q" },
        { "storefront", "GET", "/api/products/SKU-99999", null, null, 404, "SKU-99999" },
        { "storefront", "GET", "/api/products/bad$sku", null, null, 400, "sku" },
        { "storefront", "GET", "/api/carts/abc", null, null, 400, "customerId" },
        { "storefront", "GET", "/api/carts/0", null, null, 400, "customerId" },
        { "storefront", "GET", "/api/carts/999999", null, null, 404, "999999" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"sku":"SKU-00010","quantity":0}""", null, 400, "quantity" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"sku":"SKU-00010","quantity":-3}""", null, 400, "quantity" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"sku":"SKU-00010","quantity":100000}""", null, 400, "quantity" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"sku":"SKU-00010","quantity":"two"}""", null, 400, "quantity" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"sku":"SKU-00010","quantity":1""", null, 400, "JSON" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"quantity":1}""", null, 400, "sku" },
        { "storefront", "POST", $"/api/carts/{Customer}/items", """{"sku":"SKU-99999","quantity":1}""", null, 404, "SKU-99999" },
        { "storefront", "POST", "/api/carts/999999/items", """{"sku":"SKU-00010","quantity":1}""", null, 404, "999999" },
        { "storefront", "DELETE", $"/api/carts/{Customer}/items/SKU-00077", null, null, 404, "SKU-00077" },
        { "storefront", "POST", $"/api/carts/{Customer}/checkout", null, null, 400, "empty" },
        { "storefront", "POST", "/api/carts/999999/checkout", null, null, 404, "999999" },
        { "storefront", "GET", "/api/orders/not-a-guid", null, null, 400, "orderId" },
        { "storefront", "GET", $"/api/orders/{Guid.Empty}", null, null, 400, "orderId" },
        { "storefront", "GET", "/api/orders/2f1d6a52-0000-4000-8000-000000000001", null, null, 404, "2f1d6a52" },
        { "storefront", "GET", $"/api/customers/{Customer}/orders?limit=0", null, null, 400, "limit" },
        { "storefront", "GET", $"/api/customers/{Customer}/orders?limit=201", null, null, 400, "limit" },
        { "storefront", "GET", "/api/customers/999999/orders", null, null, 404, "999999" },
        { "payments", "POST", "/api/charges", """{"orderId":"2f1d6a52-0000-4000-8000-000000000002","amount":10,"currency":"EUR"}""", null, 400, "Idempotency-Key" },
        { "payments", "POST", "/api/charges", """{"orderId":"00000000-0000-0000-0000-000000000000","amount":10,"currency":"EUR"}""", "k-1", 400, "orderId" },
        { "payments", "POST", "/api/charges", """{"orderId":"2f1d6a52-0000-4000-8000-000000000002","amount":-1,"currency":"EUR"}""", "k-2", 400, "amount" },
        { "payments", "POST", "/api/charges", """{"orderId":"2f1d6a52-0000-4000-8000-000000000002","amount":10.001,"currency":"EUR"}""", "k-3", 400, "amount" },
        { "payments", "POST", "/api/charges", """{"orderId":"2f1d6a52-0000-4000-8000-000000000002","amount":10,"currency":"euro"}""", "k-4", 400, "currency" },
        { "payments", "POST", "/api/charges", """{"orderId":"2f1d6a52-0000-4000-8000-000000000002","amount":"ten","currency":"EUR"}""", "k-5", 400, "amount" },
        { "payments", "POST", "/api/charges", "not json", "k-6", 400, "JSON" },
        { "payments", "GET", "/api/charges/ch_missing", null, null, 404, "ch_missing" },
        { "payments", "GET", "/api/charges?orderId=nope", null, null, 400, "orderId" },
        { "payments", "POST", "/api/charges/ch_missing/refund", null, null, 404, "ch_missing" },
    };

    /// <summary>Payments serves known callers only: without a key, or with one it does not know, every operation answers 401.</summary>
    [Theory]
    [InlineData("POST", "/api/charges", null)]
    [InlineData("POST", "/api/charges", "not-a-key-of-payments")]
    [InlineData("GET", "/api/charges/ch_missing", null)]
    [InlineData("GET", "/api/charges?orderId=2f1d6a52-0000-4000-8000-000000000002", "Basic Zm9vOmJhcg==")]
    [InlineData("POST", "/api/charges/ch_missing/refund", "not-a-key-of-payments")]
    public async Task Payments_refuses_a_caller_without_a_known_key(string method, string path, string? authorization)
    {
        var before = await SnapshotAsync();
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Lab.Topology.PaymentsUrl) };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("""{"orderId":"2f1d6a52-0000-4000-8000-000000000002","amount":10,"currency":"EUR"}""", Encoding.UTF8, "application/json");
            request.Headers.Add("Idempotency-Key", "unauthenticated");
        }

        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization.StartsWith("Basic", StringComparison.Ordinal) ? authorization : $"Bearer {authorization}");
        }

        using var response = await http.SendAsync(request);

        Assert.Equal(401, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_request_gets_a_problem_naming_it_and_changes_nothing(
        string service, string method, string path, string? body, string? idempotencyKey, int expectedStatus, string named)
    {
        if (named == "empty")
        {
            await fixture.EmptyCartAsync(Customer);
        }

        var before = await SnapshotAsync();
        var client = service == "payments" ? fixture.Payments : fixture.Storefront;
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(expectedStatus, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(text);
        Assert.Equal(expectedStatus, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(named, text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await SnapshotAsync());
    }

    public static TheoryData<string, string, string, string, string?, string?, int, string> HeaderCases => new()
    {
        // service, path, body, content type, extra header, its value, expected status, text the problem must contain
        { "payments", "/api/charges", Charge, "application/json", "Lab-Deadline", "9223372036854775807", 400, "Lab-Deadline" },
        { "payments", "/api/charges", Charge, "application/json", "Lab-Deadline", "253402300800000", 400, "Lab-Deadline" },
        { "payments", "/api/charges", Charge, "application/json", "Lab-Deadline", "soon", 400, "Lab-Deadline" },
        { "payments", "/api/charges", Charge, "application/json; charset=nonsense", null, null, 415, "Content-Type" },
        { "storefront", $"/api/carts/{Customer}/items", """{"sku":"SKU-00010","quantity":1}""", "application/json; charset=nonsense", null, null, 415, "Content-Type" },
    };

    private const string Charge = """{"orderId":"2f1d6a52-0000-4000-8000-000000000003","amount":10,"currency":"EUR"}""";

    /// <summary>Regressions of a bad-input run: headers that used to answer 500 (an out-of-range deadline, an unknown charset).</summary>
    [Theory]
    [MemberData(nameof(HeaderCases))]
    public async Task Bad_header_gets_a_problem_naming_it_and_changes_nothing(
        string service, string path, string body, string contentType, string? header, string? value, int expectedStatus, string named)
    {
        var before = await SnapshotAsync();
        var client = service == "payments" ? fixture.Payments : fixture.Storefront;
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.Remove("Content-Type");
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        request.Headers.Add("Idempotency-Key", $"bad-header-{Guid.NewGuid():N}");
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(expectedStatus == (int)response.StatusCode, $"{(int)response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(named, text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, await SnapshotAsync());
    }

    /// <summary>A search's own % and _ match themselves, not every product (a regression: ?q=% returned the whole catalog).</summary>
    [Theory]
    [InlineData("%")]
    [InlineData("_")]
    [InlineData("\\")]
    public async Task Like_wildcards_in_a_search_match_only_themselves(string text)
    {
        using var page = JsonDocument.Parse(await fixture.Storefront.GetStringAsync($"/api/catalog/search?q={Uri.EscapeDataString(text)}"));
        Assert.Equal(0, page.RootElement.GetProperty("total").GetInt32()); // no product name holds one
        using var all = JsonDocument.Parse(await fixture.Storefront.GetStringAsync("/api/catalog/search?q=a"));
        Assert.True(all.RootElement.GetProperty("total").GetInt32() > 0);
    }

    /// <summary>What a bad request could have changed: the test customer's cart, orders and the charges.</summary>
    private async Task<string> SnapshotAsync()
    {
        using var shop = fixture.OpenDatabase("shop.db");
        using var payments = fixture.OpenDatabase("payments.db");
        var cart = await shop.QueryAsync<string>("SELECT sku || ':' || quantity FROM cart_lines WHERE customer_id = @Customer", new { Customer });
        var orders = await shop.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders");
        var charges = await payments.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM charges");
        return $"cart=[{string.Join(',', cart)}] orders={orders} charges={charges}";
    }
}
