using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Lab.Tests.Support;
using Xunit.Abstractions;

namespace Lab.Tests.Scenarios;

/// <summary>The control plane over real processes: a change made through the HTTP API reaches both silos and payments; TTLs expire.</summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class ControlPlaneTests(ScenarioLabFixture fixture, ITestOutputHelper output)
{
    // Generous on purpose: the typical figure (well under a second) is measured by bench/scenario-propagation.
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task An_activation_made_over_HTTP_is_applied_by_both_silos_and_payments()
    {
        await fixture.ResetEverywhereAsync();
        string[] services = ["silo-1", "silo-2", "payments"];
        foreach (var service in services)
        {
            Assert.Equal(0, (await fixture.ScrapeAsync(service)).Sum("lab_scenario_active"));
        }

        var (_, version) = await fixture.EnableAsync("fixed-latency",
            """{"parameters":{"delay":"1ms"},"target":{"route":"/api/nowhere"},"ttl":"1m"}""");
        var clock = Stopwatch.StartNew();
        foreach (var service in services)
        {
            // Each process's own telemetry says one scenario is active, and its runtime reports the new set.
            await Eventually.GetAsync(async () => (await fixture.ScrapeAsync(service)).Sum("lab_scenario_active"), active => active == 1, Bound,
                $"{service} reports lab_scenario_active 1");
            var runtime = await ScenarioLabFixture.GetJsonAsync(new HttpClient { BaseAddress = new Uri(fixture.UrlOf(service)) }, "/lab/runtime");
            Assert.True(runtime.GetProperty("version").GetInt64() >= version);
            Assert.Equal("fixed-latency", runtime.GetProperty("active")[0].GetString());
        }

        output.WriteLine($"seen in silo-1, silo-2 and payments {clock.ElapsedMilliseconds} ms after the POST returned (metrics scrape cache included)");
        await fixture.ResetEverywhereAsync();
        foreach (var service in services)
        {
            await Eventually.GetAsync(async () => (await fixture.ScrapeAsync(service)).Sum("lab_scenario_active"), active => active == 0, Bound,
                $"{service} reports lab_scenario_active 0 after reset");
        }
    }

    [Fact]
    public async Task An_activation_expires_after_its_ttl_everywhere_and_its_effect_stops()
    {
        await fixture.ResetEverywhereAsync();
        var activation = await fixture.EnableEverywhereAsync("fixed-latency",
            """{"parameters":{"delay":"400ms","hook":"http-server"},"target":{"route":"/api/products/{sku}"},"ttl":"3s"}""");
        var expiresAt = activation.GetProperty("expiresAt").GetDateTimeOffset();

        var slow = await TimeProductRequestAsync(new TestTrace());
        Assert.True(slow >= TimeSpan.FromMilliseconds(400) / 2, $"while active, a product request took {slow.TotalMilliseconds:0} ms");

        // Past the TTL: no process applies it any more, the request is fast, the set is empty, and the history says why.
        var wait = expiresAt - DateTimeOffset.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        foreach (var service in new[] { "silo-1", "silo-2", "storefront", "payments" })
        {
            await Eventually.GetAsync(async () => (await fixture.ScrapeAsync(service)).Sum("lab_scenario_active"), active => active == 0, Bound,
                $"{service} reports lab_scenario_active 0 after the TTL");
        }

        // Past the TTL nothing is injected into a request any more.
        var afterTtl = new TestTrace();
        await TimeProductRequestAsync(afterTtl);
        Assert.DoesNotContain(await fixture.SettledTraceAsync(afterTtl), span => span.Scenario is not null);
        var active = await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, "/lab/scenarios/active");
        Assert.Equal(0, active.GetProperty("activations").GetArrayLength());
        var history = await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, "/lab/history?limit=5");
        Assert.Contains(history.EnumerateArray(), h => string.Equals(h.GetProperty("action").GetString(), "expired", StringComparison.OrdinalIgnoreCase) && h.GetProperty("name").GetString() == "fixed-latency");
    }

    private async Task<TimeSpan> TimeProductRequestAsync(TestTrace trace)
    {
        var (status, _, latency) = await fixture.GetAsync("/api/products/SKU-00005", trace);
        Assert.Equal(HttpStatusCode.OK, status);
        return latency;
    }
}

/// <summary>Bad control requests against the real storefront process: the right 4xx problem, and nothing changes.</summary>
[Collection(ScenarioLabCollection.Name)]
public sealed class ControlApiOverProcessesTests(ScenarioLabFixture fixture)
{
    private const string Token = "<token>";

    public static TheoryData<string, string, string?, string?, int, string?> BadRequests => new()
    {
        // method, path, body, token ("<token>" = the lab's), expected status, field the problem names
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"delay":"fast"}}""", Token, 400, "delay" },
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"delay":200}}""", Token, 400, "delay" },
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"delay":"31s"}}""", Token, 400, "delay" },
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"delay":"-5ms"}}""", Token, 400, "delay" },
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"speed":"1"}}""", Token, 400, "speed" },
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"hook":"database"}}""", Token, 400, "hook" },
        { "POST", "/lab/scenarios/fixed-latency", """{"target":{"planet":"mars"}}""", Token, 400, "target.planet" },
        { "POST", "/lab/scenarios/fixed-latency", """{"target":{"percentage":150}}""", Token, 400, "target.percentage" },
        { "POST", "/lab/scenarios/fixed-latency", """{"ttl":"2h"}""", Token, 400, "ttl" },
        { "POST", "/lab/scenarios/fixed-latency", """{"ttl":"forever"}""", Token, 400, "ttl" },
        { "POST", "/lab/scenarios/fixed-latency", """{"seed":"abc"}""", Token, 400, "seed" },
        { "POST", "/lab/scenarios/fixed-latency", """{"parameters":{"delay":"1s" """, Token, 400, "body" },
        { "POST", "/lab/scenarios/error-burst", """{"parameters":{"rate":"150%"}}""", Token, 400, "rate" },
        { "POST", "/lab/scenarios/error-burst", """{"parameters":{"status":404}}""", Token, 400, "status" },
        { "POST", "/lab/scenarios/cpu-spike", """{"parameters":{"cores":64},"target":{"service":"silo-1"}}""", Token, 400, "cores" },
        { "POST", "/lab/scenarios/cpu-spike", """{"parameters":{"cores":"many"},"target":{"service":"silo-1"}}""", Token, 400, "cores" },
        { "POST", "/lab/scenarios/memory-leak", """{"parameters":{"max":"64GB"}}""", Token, 400, "max" },
        { "POST", "/lab/scenarios/memory-leak", """{"parameters":{"per-call":"lots"}}""", Token, 400, "per-call" },
        { "POST", "/lab/scenarios/clock-skew", """{"parameters":{"skew":"-2m"}}""", Token, 400, "target.service" },
        { "POST", "/lab/scenarios/clock-skew", """{"parameters":{"skew":"25h"},"target":{"service":"silo-1"}}""", Token, 400, "skew" },
        { "POST", "/lab/scenarios/no-such-scenario", "{}", Token, 404, null },
        { "POST", "/lab/scenarios/fixed-latency", "{}", null, 401, null },
        { "POST", "/lab/scenarios/fixed-latency", "{}", "not-the-token", 401, null },
        { "DELETE", "/lab/scenarios/error-burst", null, null, 401, null },
        { "DELETE", "/lab/scenarios/fixed-latency", null, Token, 409, null },
        { "PATCH", "/lab/scenarios/fixed-latency", """{"parameters":{"delay":"1s"}}""", Token, 409, null },
        { "POST", "/lab/reset", null, null, 401, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_request_gets_the_right_4xx_problem_and_changes_nothing(
        string method, string path, string? body, string? token, int status, string? field)
    {
        await EnsureBaselineAsync();
        var before = await fixture.Storefront.GetStringAsync("/lab/scenarios/active");

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (token is not null)
        {
            request.Headers.Add("Authorization", $"Bearer {(token == Token ? fixture.Lab.ControlToken : token)}");
        }

        using var response = await fixture.Storefront.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (field is not null)
        {
            using var problem = JsonDocument.Parse(text);
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), $"errors should name '{field}': {text}");
        }

        Assert.Equal(before, await fixture.Storefront.GetStringAsync("/lab/scenarios/active"));
    }

    /// <summary>One harmless activation (error-burst on a route nobody calls), so "unchanged" is checked against a non-empty set.</summary>
    private async Task EnsureBaselineAsync()
    {
        var active = await ScenarioLabFixture.GetJsonAsync(fixture.Storefront, "/lab/scenarios/active");
        if (active.GetProperty("activations").EnumerateArray().Any(a => a.GetProperty("name").GetString() == "error-burst"))
        {
            return;
        }

        await fixture.ResetEverywhereAsync();
        await fixture.EnableAsync("error-burst", """{"parameters":{"rate":"1%"},"target":{"route":"/api/none"},"ttl":"10m","seed":3}""");
    }
}
