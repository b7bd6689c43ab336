using System.Net;
using System.Text.Json;
using Lab.Scenarios.Tests.Support;

namespace Lab.Scenarios.Tests;

/// <summary>One web host for the whole table; every row checks the set is unchanged afterwards.</summary>
public sealed class ControlApiHostFixture : IAsyncLifetime
{
    public LabWebHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Host = await LabWebHost.StartAsync();

        // A baseline activation, so "nothing changed" is checked against a non-empty set.
        await Host.EnableAsync("error-burst", """{"parameters":{"rate":"10%","window":"10m"},"target":{"route":"/api/none"},"seed":7}""");
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class ControlApiBadRequestTests(ControlApiHostFixture fixture) : IClassFixture<ControlApiHostFixture>
{
    private readonly LabWebHost _host = fixture.Host;

    public static TheoryData<string, string, string?, string?, int, string?> BadRequests => new()
    {
        // method, path, body, token, expected status, field named in errors
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"delay":"fast"}}""", LabWebHost.Token, 400, "delay" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"delay":"31s"}}""", LabWebHost.Token, 400, "delay" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"delay":"-5ms"}}""", LabWebHost.Token, 400, "delay" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"delay":200}}""", LabWebHost.Token, 400, "delay" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"delay":{"ms":5}}}""", LabWebHost.Token, 400, "delay" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"speed":"1"}}""", LabWebHost.Token, 400, "speed" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"hook":"database"}}""", LabWebHost.Token, 400, "hook" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":"delay=1s"}""", LabWebHost.Token, 400, "parameters" },
        { "POST", "lab/scenarios/no-such-scenario", "{}", LabWebHost.Token, 404, null },
        { "POST", "lab/scenarios/fixed-latency", "{}", null, 401, null },
        { "POST", "lab/scenarios/fixed-latency", "{}", "wrong-token", 401, null },
        { "POST", "lab/scenarios/cpu-spike", """{"parameters":{"cores":2}}""", LabWebHost.Token, 400, "cores" },
        { "POST", "lab/scenarios/memory-leak", """{"parameters":{"max":"1GB"}}""", LabWebHost.Token, 400, "max" },
        { "POST", "lab/scenarios/memory-leak", """{"parameters":{"per-call":"lots"}}""", LabWebHost.Token, 400, "per-call" },
        { "POST", "lab/scenarios/clock-skew", """{"parameters":{"skew":"-2m"}}""", LabWebHost.Token, 400, "target.service" },
        { "POST", "lab/scenarios/test-hog", """{"parameters":{"memory":"1GB"}}""", LabWebHost.Token, 400, "memory" },
        { "POST", "lab/scenarios/test-hog", """{"parameters":{"threads":100}}""", LabWebHost.Token, 400, "threads" },
        { "POST", "lab/scenarios/test-hog", """{"parameters":{"cores":1.5}}""", LabWebHost.Token, 400, "cores" },
        { "POST", "lab/scenarios/test-hog", """{"parameters":{"verbose":"maybe"}}""", LabWebHost.Token, 400, "verbose" },
        { "POST", "lab/scenarios/test-hog", """{"parameters":{"mode":"chaotic"}}""", LabWebHost.Token, 400, "mode" },
        { "POST", "lab/scenarios/test-hog", """{"parameters":{"mode":"burst","threads":0}}""", LabWebHost.Token, 400, "threads" },
        { "POST", "lab/scenarios/fixed-latency", """{"ttl":"forever"}""", LabWebHost.Token, 400, "ttl" },
        { "POST", "lab/scenarios/fixed-latency", """{"ttl":"2h"}""", LabWebHost.Token, 400, "ttl" },
        { "POST", "lab/scenarios/fixed-latency", """{"ttl":"0s"}""", LabWebHost.Token, 400, "ttl" },
        { "POST", "lab/scenarios/fixed-latency", """{"ttl":300}""", LabWebHost.Token, 400, "ttl" },
        { "POST", "lab/scenarios/fixed-latency", """{"parameters":{"delay":"1s" """, LabWebHost.Token, 400, "body" },
        { "POST", "lab/scenarios/fixed-latency", "[1,2]", LabWebHost.Token, 400, "body" },
        { "POST", "lab/scenarios/fixed-latency", """{"target":{"percentage":150}}""", LabWebHost.Token, 400, "target.percentage" },
        { "POST", "lab/scenarios/fixed-latency", """{"target":{"percentage":"half"}}""", LabWebHost.Token, 400, "target.percentage" },
        { "POST", "lab/scenarios/fixed-latency", """{"target":{"planet":"mars"}}""", LabWebHost.Token, 400, "target.planet" },
        { "POST", "lab/scenarios/fixed-latency", """{"seed":"abc"}""", LabWebHost.Token, 400, "seed" },
        { "POST", "lab/scenarios/fixed-latency", """{"target":{"service":"silo-99"}}""", LabWebHost.Token, 400, "target.service" },
        { "POST", "lab/scenarios/fixed-latency", """{"target":{"service":"payments-*"}}""", LabWebHost.Token, 400, "target.service" },
        { "PATCH", "lab/scenarios/error-burst", """{"target":{"service":"storefront-2"}}""", LabWebHost.Token, 400, "target.service" },
        { "POST", "lab/scenarios/fixed-latency", """{"colour":"red"}""", LabWebHost.Token, 400, "colour" },
        { "POST", "lab/scenarios/error-burst", """{"parameters":{"rate":"150%"}}""", LabWebHost.Token, 400, "rate" },
        { "POST", "lab/scenarios/error-burst", """{"parameters":{"status":"teapot"}}""", LabWebHost.Token, 400, "status" },
        { "POST", "lab/scenarios/error-burst", """{"parameters":{"status":404}}""", LabWebHost.Token, 400, "status" },
        { "PATCH", "lab/scenarios/error-burst", """{"parameters":{"window":"0s"}}""", LabWebHost.Token, 400, "window" },
        { "PATCH", "lab/scenarios/error-burst", """{"ttl":"61m"}""", LabWebHost.Token, 400, "ttl" },
        { "PATCH", "lab/scenarios/error-burst", "{}", null, 401, null },
        { "PATCH", "lab/scenarios/fixed-latency", """{"parameters":{"delay":"1s"}}""", LabWebHost.Token, 409, null },
        { "PATCH", "lab/scenarios/no-such-scenario", "{}", LabWebHost.Token, 404, null },
        { "DELETE", "lab/scenarios/no-such-scenario", null, LabWebHost.Token, 404, null },
        { "DELETE", "lab/scenarios/error-burst", null, null, 401, null },
        { "DELETE", "lab/scenarios/fixed-latency", null, LabWebHost.Token, 409, null },
        { "POST", "lab/reset", null, null, 401, null },
        { "POST", "lab/reset", null, "Bearer", 401, null },
        { "GET", "lab/scenarios/no-such-scenario", null, null, 404, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_request_is_refused_with_a_problem_naming_the_field_and_changes_nothing(
        string method, string path, string? body, string? token, int status, string? field)
    {
        var before = await ActiveJsonAsync();
        var historyBefore = await HistoryCountAsync();

        using var response = await _host.Client.SendAsync(_host.Request(new HttpMethod(method), path, body, token));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(text);
        Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        if (field is not null)
        {
            var errors = problem.RootElement.GetProperty("errors");
            Assert.True(errors.TryGetProperty(field, out var messages), $"errors should name '{field}': {text}");
            Assert.True(messages.GetArrayLength() > 0);
        }

        if (status == 401)
        {
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }

        Assert.Equal(before, await ActiveJsonAsync());
        Assert.Equal(historyBefore, await HistoryCountAsync());
    }

    [Theory]
    [InlineData(null, 401)]
    [InlineData(LabWebHost.Token, 415)]
    public async Task A_body_that_is_not_json_is_refused_after_the_token_is_checked(string? token, int status)
    {
        var before = await ActiveJsonAsync();
        using var request = _host.Request(HttpMethod.Post, "lab/scenarios/fixed-latency", token: token);
        request.Content = new StringContent("delay=1s", System.Text.Encoding.UTF8, "text/plain");
        using var response = await _host.Client.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await ActiveJsonAsync());
    }

    [Theory]
    [InlineData("storefront")]
    [InlineData("store*")]
    [InlineData("silo")]
    [InlineData("payments")]
    public async Task A_service_target_naming_a_polling_process_or_a_kind_is_taken(string service)
    {
        using var response = await _host.Client.SendAsync(_host.Request(HttpMethod.Post, "lab/scenarios/fixed-latency",
            $$"""{"parameters":{"delay":"1ms"},"target":{"service":"{{service}}","route":"/api/none"},"ttl":"1m"}"""));
        var text = await response.Content.ReadAsStringAsync();
        using var disabled = await _host.Client.SendAsync(_host.Request(HttpMethod.Delete, "lab/scenarios/fixed-latency"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal(HttpStatusCode.OK, disabled.StatusCode);
    }

    private async Task<string> ActiveJsonAsync() => await _host.Client.GetStringAsync("lab/scenarios/active");

    private async Task<int> HistoryCountAsync()
    {
        using var doc = JsonDocument.Parse(await _host.Client.GetStringAsync("lab/history?limit=1000"));
        return doc.RootElement.GetArrayLength();
    }
}

public sealed class ControlApiRoundTripTests : IAsyncLifetime
{
    private LabWebHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await LabWebHost.StartAsync();
        await _host.EnableAsync("error-burst", """{"parameters":{"rate":"10%","window":"10m"},"target":{"route":"/api/none"},"seed":7}""");
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Enable_change_disable_reset_and_history_round_trip()
    {
        var enabled = await _host.EnableAsync("fixed-latency", """{"parameters":{"delay":"5ms","jitter":"1ms"},"target":{"route":"/api/items/*","percentage":50},"ttl":"2m","seed":42}""");
        Assert.Equal(ControlOutcome.Ok, enabled.Outcome);
        var activation = enabled.Activation!;
        Assert.Equal("5ms", activation.Parameters["delay"]);
        Assert.Equal("any", activation.Parameters["hook"]); // defaults filled in
        Assert.Equal(42, activation.Seed);
        Assert.Equal(50, activation.Target.Percentage);
        Assert.Equal("/api/items/*", activation.Target.Route);
        Assert.InRange(activation.ExpiresAt - activation.ActivatedAt, TimeSpan.FromSeconds(119), TimeSpan.FromSeconds(121));

        var catalog = JsonSerializer.Deserialize<ScenarioStatus[]>(await _host.Client.GetStringAsync("lab/scenarios"), LabJson.Options)!;
        Assert.Contains(catalog, s => s.Meta.Name == "fixed-latency" && s.Active && s.Meta.Parameters.Any(p => p.Name == "delay" && p.Type == ParameterType.Duration));
        Assert.Contains(catalog, s => s.Meta.Name == "test-hog" && !s.Active);

        using (var patch = await _host.Client.SendAsync(_host.Request(HttpMethod.Patch, "lab/scenarios/fixed-latency", """{"parameters":{"delay":"7ms"},"target":{"percentage":null}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            var changed = JsonSerializer.Deserialize<ControlResult>(await patch.Content.ReadAsStringAsync(), LabJson.Options)!;
            Assert.Equal("7ms", changed.Activation!.Parameters["delay"]);
            Assert.Equal("1ms", changed.Activation.Parameters["jitter"]);
            Assert.Null(changed.Activation.Target.Percentage);
            Assert.Equal("/api/items/*", changed.Activation.Target.Route);
            Assert.Equal(42, changed.Activation.Seed);
        }

        var show = JsonSerializer.Deserialize<ScenarioStatus>(await _host.Client.GetStringAsync("lab/scenarios/fixed-latency"), LabJson.Options)!;
        Assert.Contains("lab scenario enable fixed-latency", show.Meta.Runbook.Break);
        Assert.Equal("7ms", show.Activation!.Parameters["delay"]);

        await _host.DisableAsync("fixed-latency");
        using (var reset = await _host.Client.SendAsync(_host.Request(HttpMethod.Post, "lab/reset")))
        {
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        }

        var active = JsonSerializer.Deserialize<ActiveScenarioSet>(await _host.Client.GetStringAsync("lab/scenarios/active"), LabJson.Options)!;
        Assert.Empty(active.Activations);

        var history = JsonSerializer.Deserialize<ScenarioHistoryEntry[]>(await _host.Client.GetStringAsync("lab/history"), LabJson.Options)!;
        Assert.Equal(
            [HistoryAction.Reset, HistoryAction.Disabled, HistoryAction.Changed, HistoryAction.Enabled, HistoryAction.Enabled],
            history.Take(5).Select(h => h.Action));
        Assert.Contains("error-burst", history[0].Detail); // the reset names what it cleared
        Assert.StartsWith("api@", history[1].Actor);
    }

    [Fact]
    public async Task Snapshot_endpoint_answers_204_while_the_version_is_unchanged()
    {
        var set = JsonSerializer.Deserialize<ActiveScenarioSet>(await _host.Client.GetStringAsync("lab/scenarios/snapshot"), LabJson.Options)!;
        Assert.Single(set.Activations);

        using var unchanged = await _host.Client.GetAsync($"lab/scenarios/snapshot?since={set.Version}");
        Assert.Equal(HttpStatusCode.NoContent, unchanged.StatusCode);

        using var older = await _host.Client.GetAsync($"lab/scenarios/snapshot?since={set.Version - 1}");
        Assert.Equal(HttpStatusCode.OK, older.StatusCode);
    }
}
