using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;
using Lab.Cli.Verify;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.EndToEnd;

/// <summary>
/// Bad input at scale: CsCheck generates malformed requests across every operation of the storefront, payments and the
/// control API (wrong types, out-of-range and huge values, odd encodings, missing and extra fields, deep JSON, bad
/// content types and headers, bad tokens and idempotency keys) and sends them to the running lab, several at once. Every
/// answer must be below 500, every 4xx a problem document with its status; afterwards every process is alive and
/// <c>lab verify</c> finds nothing. A failing case is shrunk to the smallest one CsCheck can find and printed.
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
[Collection(LabProcessesCollection.Name)]
public sealed class BadInputPropertyTests(LabProcessesFixture fixture, ITestOutputHelper output)
{
    private const int Cases = 10_000;

    // The one real customer the requests name (so that some reach past the id checks); no other test of the lab uses it.
    private const string ValidCustomer = "299";

    // Fragments junk text is made of: digits, signs, wildcards, quotes, paths, escapes, non-ASCII, long runs.
    private static readonly Gen<string> Junk = Gen.OneOf(
            "", " ", "0", "-1", "42", "300", "1e309", "NaN", "9223372036854775807", "-9223372036854775808", "3.14", "null", "true",
            "%", "_", "*", "'", "\"", "\\", "/", "../", "?", "#", "&", "=", ";", "{", "}", "[", "]", "<script>", "' OR '1'='1", "--",
            "SKU-00150", "SKU-", "sku", "é", "ß", "😀", "\u200b", "ümlaut", new string('x', 300), new string('9', 40))
        .Array[0, 6].Select(parts => Cut(string.Concat(parts), 300));

    private static readonly Gen<string> IdSegment = Gen.OneOf(Junk, Gen.OneOf(ValidCustomer, "0", "-5", "301", "abc", "SKU-00149", "SKU-99999"),
        Gen.Guid.Select(g => g.ToString()), Gen.Int.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    // JSON that is wrong in shape, type, size or syntax; valid field names appear, so that some of it reaches the handlers.
    private static readonly Gen<string> JsonValue = Gen.OneOf(
        Junk.Select(s => JsonSerializer.Serialize(s)),
        Gen.Long.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "1e400"),
        Gen.OneOf("null", "true", "[]", "{}", "[1,2,3]", "{\"a\":{}}", "-0", "01", "1.", ".5", "\"\\ud800\""));

    private static readonly Gen<string> Body = Gen.OneOf(
        Gen.Select(Gen.OneOf("sku", "quantity", "lines", "orderId", "amount", "currency", "extra", "SKU", ""), JsonValue,
                Gen.OneOf("sku", "quantity", "amount", "x"), JsonValue)
            .Select((k1, v1, k2, v2) => $"{{\"{k1}\":{v1},\"{k2}\":{v2}}}"),
        JsonValue,
        Junk,
        Gen.Int[1, 300].Select(depth => new string('[', depth) + new string(']', depth)),
        Gen.Int[1, 300].Select(depth => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)),
        Gen.Int[1, 200_000].Select(size => $"{{\"sku\":\"{new string('A', size)}\",\"quantity\":1}}"),
        Gen.OneOf("{", "{\"sku\":", "{\"sku\":\"SKU-00010\",\"quantity\":1", "\u0000", "{\"sku\":\"SKU-00010\",\"quantity\":1}}"),
        Gen.Select(JsonValue, JsonValue).Select((a, b) => $"{{\"lines\":[{{\"sku\":{a},\"quantity\":{b}}}]}}"));

    private static readonly Gen<string?> ContentType = Gen.OneOf<string?>(
        null, "application/json", "application/json; charset=utf-8", "application/json; charset=nonsense", "application/json; charset=utf-16",
        "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "*/*");

    // Header values of every shape a client sends, in printable ASCII: the server itself answers a bare 400 to anything else
    // in a header, before the shop sees the request.
    private static readonly Gen<(string Name, string Value)> Header = Gen.Select(
        Gen.OneOf("Lab-Deadline", "Idempotency-Key", "Authorization", "X-Lab-Actor", "traceparent", "baggage", "Accept"),
        Gen.OneOf(Junk, Gen.OneOf("Bearer", "Bearer ", "Bearer wrong", "Basic Zm9vOmJhcg==", "00-zz-zz-01", "253402300800000",
            "18446744073709551616", new string('k', 201), "application/xml")))
        .Select((name, value) => (name, new string(value.Select(c => char.IsAscii(c) && !char.IsControl(c) ? c : '?').ToArray())));

    private static readonly Gen<BadRequest> Requests = Gen.OneOf(
        // Storefront: catalog, products, carts, checkout, orders, history.
        Gen.Select(Junk, Junk, Junk, Junk).Select((q, category, page, size) =>
            Get("storefront", $"/api/catalog/search?q={Escape(q)}&category={Escape(category)}&page={Escape(page)}&pageSize={Escape(size)}")),
        IdSegment.Select(sku => Get("storefront", $"/api/products/{Escape(sku)}")),
        IdSegment.Select(id => Get("storefront", $"/api/carts/{Escape(id)}")),
        Gen.Select(IdSegment, Body, ContentType).Select((id, body, type) => Send("storefront", "POST", $"/api/carts/{Escape(id)}/items", body, type)),
        Gen.Select(IdSegment, IdSegment).Select((id, sku) => Send("storefront", "DELETE", $"/api/carts/{Escape(id)}/items/{Escape(sku)}", null, null)),
        Gen.Select(IdSegment, Body, ContentType).Select((id, body, type) => Send("storefront", "POST", $"/api/carts/{Escape(id)}/checkout", body, type)),
        IdSegment.Select(id => Get("storefront", $"/api/orders/{Escape(id)}")),
        Gen.Select(IdSegment, Junk).Select((id, limit) => Get("storefront", $"/api/customers/{Escape(id)}/orders?limit={Escape(limit)}")),
        // The back office with no token or a wrong one: refused before it reads anything.
        Gen.Select(Body, ContentType).Select((body, type) => Send("storefront", "POST", "/api/admin/restock", body, type) with { Token = TokenKind.Wrong }),
        Junk.Select(since => Get("storefront", $"/api/admin/reports/sales?since={Escape(since)}") with { Token = TokenKind.Wrong }),
        // The back office with the token and a delivery no line of which can be right (quantities out of range).
        Gen.Select(IdSegment, Gen.OneOf("0", "-1", "100001", "1.5", "\"1\"", "null")).Select((sku, quantity) =>
            Send("storefront", "POST", "/api/admin/restock", $"{{\"lines\":[{{\"sku\":{JsonSerializer.Serialize(sku)},\"quantity\":{quantity}}}]}}", "application/json")
                with { Token = TokenKind.Right }),
        Junk.Select(since => Get("storefront", $"/api/admin/reports/sales?since={Escape(since)}") with { Token = TokenKind.Right }),
        // Price changes: with a wrong token, or the right one and a price that cannot be right (zero, negative, too many decimals,
        // too large, not a number) or an unknown SKU.
        Gen.Select(IdSegment, Body, ContentType).Select((sku, body, type) =>
            Send("storefront", "PUT", $"/api/admin/products/{Escape(sku)}/price", body, type) with { Token = TokenKind.Wrong }),
        Gen.Select(IdSegment, Gen.OneOf("0", "-1", "0.001", "100000.01", "1e9", "\"1\"", "null", "[]", "{}")).Select((sku, price) =>
            Send("storefront", "PUT", $"/api/admin/products/{Escape(sku)}/price", $"{{\"price\":{price}}}", "application/json")
                with { Token = TokenKind.Right }),
        // Payments, with its operator's API key: a charge always missing a usable idempotency key (so none can be made),
        // reads and refunds of unknown charges; and any of them with no key or a wrong one.
        Gen.Select(Gen.OneOf(
                Gen.Select(Body, ContentType, Gen.OneOf<string?>(null, "", " ", new string('k', 201))).Select((body, type, key) =>
                    Send("payments", "POST", "/api/charges", body, type) with { IdempotencyKey = key }),
                IdSegment.Select(id => Get("payments", $"/api/charges/{Escape(id)}")),
                IdSegment.Select(id => Get("payments", $"/api/charges?orderId={Escape(id)}")),
                IdSegment.Select(id => Send("payments", "POST", $"/api/charges/ch_{Escape(id)}/refund", null, null))),
            Gen.OneOf(TokenKind.Right, TokenKind.Right, TokenKind.Right, TokenKind.Wrong, TokenKind.None))
            .Select((request, token) => request with { Token = token }),
        // The control API: mutations with a wrong token, or the right one and a parameter no scenario has.
        Gen.Select(Gen.OneOf("POST", "PATCH", "DELETE"), IdSegment, Body, ContentType).Select((method, name, body, type) =>
            Send("storefront", method, $"/lab/scenarios/{Escape(name)}", body, type) with { Token = TokenKind.Wrong }),
        Gen.Select(Gen.OneOf("fixed-latency", "error-burst", "cpu-spike", "memory-leak"), JsonValue).Select((name, value) =>
            Send("storefront", "POST", $"/lab/scenarios/{name}", $"{{\"parameters\":{{\"no-such-parameter\":{value}}},\"ttl\":\"1m\"}}", "application/json")
                with { Token = TokenKind.Right }),
        Gen.Select(IdSegment, Junk).Select((name, since) => Get("storefront", $"/lab/scenarios/{Escape(name)}?since={Escape(since)}")),
        Junk.Select(limit => Get("storefront", $"/lab/history?limit={Escape(limit)}")))
        .SelectMany(request => Header.Array[0, 3].Select(headers => request with { Headers = headers }));

    [Fact]
    public async Task Ten_thousand_malformed_requests_get_4xx_problems_never_a_5xx_and_leave_the_lab_alive_and_consistent()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var started = DateTimeOffset.UtcNow;

        await Requests.SampleAsync(async request =>
        {
            var (status, mediaType, text) = await SendAsync(http, request);
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            Assert.True(status < 500, $"{status} {text}");
            if (status >= 400)
            {
                Assert.True(mediaType == "application/problem+json", $"{status} answered as {mediaType}: {text}");
                using var problem = JsonDocument.Parse(text);
                Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
                // A 400 says what was wrong: the fields in "errors", or a detail naming the parameter that failed to bind.
                Assert.True(status != 400 || problem.RootElement.TryGetProperty("errors", out _)
                            || problem.RootElement.TryGetProperty("detail", out var detail) && detail.GetString() is { Length: > 0 }, $"400 naming nothing: {text}");
            }
        }, iter: Cases, threads: 4, print: request => request.ToString());

        output.WriteLine($"{Cases} requests in {(DateTimeOffset.UtcNow - started).TotalSeconds:0} s: " +
                         string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value}x{s.Key}")));
        Assert.Null(fixture.Lab.FirstExited());
        await fixture.EmptyCartAsync(int.Parse(ValidCustomer, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains(statuses.Keys, status => status is >= 400 and < 500);

        using var shop = fixture.OpenDatabase("shop.db");
        using var payments = fixture.OpenDatabase("payments.db");
        var violations = ShopVerifier.Verify(shop, payments, TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow);
        Assert.Empty(violations);
    }

    private async Task<(int Status, string? MediaType, string Text)> SendAsync(HttpClient http, BadRequest request)
    {
        var baseUrl = request.Service == "payments" ? fixture.Lab.Topology.PaymentsUrl : fixture.Lab.Topology.StorefrontUrl;
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), baseUrl + request.Path);
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(request.Body));
            if (request.ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }
        }

        if (request.IdempotencyKey is not null)
        {
            message.Headers.TryAddWithoutValidation("Idempotency-Key", request.IdempotencyKey);
        }

        if (request.Token != TokenKind.None)
        {
            var secret = request.Service == "payments" ? fixture.Lab.OperatorPaymentsKey : fixture.Lab.ControlToken;
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", request.Token == TokenKind.Right ? secret : "not-the-token");
        }

        foreach (var (name, value) in request.Headers)
        {
            // The generated ones come after: a second Idempotency-Key or Authorization is part of the malformation.
            message.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(message);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private static BadRequest Get(string service, string path) => new(service, "GET", path, null, null);

    private static BadRequest Send(string service, string method, string path, string? body, string? contentType) => new(service, method, path, body, contentType);

    private static string Escape(string text) => Uri.EscapeDataString(text);

    /// <summary>At most <paramref name="max"/> characters, never half a surrogate pair. Short enough that four escaped in one
    /// URL stay under the server's request-line limit (8 KB), which it enforces itself with a bare 414.</summary>
    private static string Cut(string text, int max) =>
        text.Length <= max ? text : text[..(char.IsHighSurrogate(text[max - 1]) ? max - 1 : max)];

    private enum TokenKind
    {
        None,
        Wrong,
        Right,
    }

    private sealed record BadRequest(string Service, string Method, string Path, string? Body, string? ContentType)
    {
        public TokenKind Token { get; init; }

        public string? IdempotencyKey { get; init; } = "property-test"; // payments' charges override it with an unusable one

        public (string Name, string Value)[] Headers { get; init; } = [];

        public override string ToString() =>
            $"{Method} {Service}{Path} token={Token} key={IdempotencyKey?.Length.ToString() ?? "none"} type={ContentType ?? "none"} " +
            $"headers=[{string.Join("; ", Headers.Select(h => $"{h.Name}: {h.Value}"))}] body={(Body is null ? "none" : Body.Length > 200 ? Body[..200] + $"… ({Body.Length} chars)" : Body)}";
    }
}
