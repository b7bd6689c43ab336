using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Lab.Scenarios;
using Lab.Scenarios.Tests.Support;

namespace Lab.Scenarios.Tests;

public sealed class HttpHookTests : IAsyncLifetime
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(300);

    private LabWebHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await LabWebHost.StartAsync();

        // Warm up the endpoints and the downstream client so timing assertions measure the scenario, not JIT.
        using var downstream = _host.CreateDownstreamClient();
        for (var i = 0; i < 3; i++)
        {
            await _host.Client.GetStringAsync("api/ping");
            await _host.Client.GetStringAsync("api/items/1");
            await downstream.GetStringAsync("api/ping");
        }
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Fixed_latency_at_the_http_server_delays_the_targeted_route_only_and_recovers()
    {
        using var injections = new InjectionCounter();
        await _host.EnableAsync("fixed-latency", $$$"""{"parameters":{"delay":"{{{Delay.TotalMilliseconds}}}ms","hook":"http-server"},"target":{"route":"/api/ping"}}""");

        // The targeted route is delayed once, and waits for it (at least half the delay: timers are coarse).
        var slow = await Waits.TimeAsync(() => _host.Client.GetStringAsync("api/ping"));
        Assert.Equal(1, injections.Of("fixed-latency"));
        Assert.True(slow >= Delay / 2, $"targeted route took {slow.TotalMilliseconds} ms for a {Delay.TotalMilliseconds} ms delay");

        // Another route, and the same route after disable, meet no injection.
        await _host.Client.GetStringAsync("api/items/7");
        Assert.Equal(1, injections.Of("fixed-latency"));
        await _host.DisableAsync("fixed-latency");
        await _host.Client.GetStringAsync("api/ping");
        Assert.Equal(1, injections.Of("fixed-latency"));
    }

    [Fact]
    public async Task Control_api_and_probes_are_never_perturbed()
    {
        await _host.EnableAsync("error-burst", """{"parameters":{"rate":"100%","hook":"http-server"}}""");

        using (var api = await _host.Client.GetAsync("api/ping"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
        }

        using (var health = await _host.Client.GetAsync("health"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        using (var lab = await _host.Client.GetAsync("lab/scenarios"))
        {
            Assert.Equal(HttpStatusCode.OK, lab.StatusCode);
        }

        await _host.DisableAsync("error-burst");
    }

    [Fact]
    public async Task Error_burst_at_the_http_server_answers_the_configured_status_as_a_problem_then_recovers()
    {
        await _host.EnableAsync("error-burst", """{"parameters":{"rate":"100%","status":500,"hook":"http-server"},"target":{"route":"/api/items/{id}"}}""");

        using (var failed = await _host.Client.GetAsync("api/items/3"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
            Assert.Equal("application/problem+json", failed.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await failed.Content.ReadAsStringAsync());
            Assert.Equal("error-burst", problem.RootElement.GetProperty("scenario").GetString());
            Assert.Equal("error-burst", failed.Headers.GetValues("X-Lab-Scenario").Single());
        }

        using (var untouched = await _host.Client.GetAsync("api/ping"))
        {
            Assert.Equal(HttpStatusCode.OK, untouched.StatusCode);
        }

        await _host.DisableAsync("error-burst");
        Assert.Equal("3", await _host.Client.GetStringAsync("api/items/3"));
    }

    [Fact]
    public async Task Error_burst_rate_is_honoured_over_real_requests()
    {
        await _host.EnableAsync("error-burst", """{"parameters":{"rate":"50%","hook":"http-server"},"target":{"route":"/api/ping"},"seed":5}""");
        var failures = 0;
        for (var i = 0; i < 200; i++)
        {
            using var response = await _host.Client.GetAsync("api/ping");
            failures += response.StatusCode == HttpStatusCode.ServiceUnavailable ? 1 : 0;
        }

        Assert.InRange(failures, 70, 130);
        await _host.DisableAsync("error-burst");
    }

    [Fact]
    public async Task Error_burst_at_the_http_client_throws_HttpRequestException_without_reaching_the_server()
    {
        using var downstream = _host.CreateDownstreamClient();
        await _host.EnableAsync("error-burst", """{"parameters":{"rate":"100%","hook":"http-client"}}""");

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => downstream.GetStringAsync("api/ping"));
        Assert.Equal(HttpRequestError.ConnectionError, ex.HttpRequestError);
        Assert.Equal("error-burst", Assert.IsType<InjectedFaultException>(ex.InnerException).Scenario);
        Assert.Equal("pong", await _host.Client.GetStringAsync("api/ping")); // the server itself is fine

        await _host.DisableAsync("error-burst");
        Assert.Equal("pong", await downstream.GetStringAsync("api/ping"));
    }

    [Fact]
    public async Task Fixed_latency_at_the_http_client_delays_outgoing_calls()
    {
        using var downstream = _host.CreateDownstreamClient();
        using var injections = new InjectionCounter();
        await _host.EnableAsync("fixed-latency", $$$"""{"parameters":{"delay":"{{{Delay.TotalMilliseconds}}}ms","hook":"http-client"},"target":{"remoteHost":"127.0.0.1:*"}}""");

        var slow = await Waits.TimeAsync(() => downstream.GetStringAsync("api/ping"));
        Assert.Equal(1, injections.Of("fixed-latency"));
        Assert.True(slow >= Delay / 2, $"client call took {slow.TotalMilliseconds} ms for a {Delay.TotalMilliseconds} ms delay");

        await _host.DisableAsync("fixed-latency");
        await downstream.GetStringAsync("api/ping");
        Assert.Equal(1, injections.Of("fixed-latency"));
    }

    [Fact]
    public async Task Injections_tag_the_span_add_an_event_and_count_in_the_meter()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var injections = new ConcurrentBag<(long Value, Dictionary<string, object?> Tags)>();
        using var meter = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ScenarioTelemetry.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meter.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "lab.scenario.injections")
            {
                injections.Add((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
            }
        });
        var active = new ConcurrentQueue<int>();
        meter.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name == "lab.scenario.active")
            {
                active.Enqueue(value);
            }
        });
        meter.Start();

        await _host.EnableAsync("fixed-latency", """{"parameters":{"delay":"1ms","hook":"http-server"},"target":{"route":"/api/items/{id}"}}""");
        await _host.Client.GetStringAsync("api/items/42");
        meter.RecordObservableInstruments();
        await _host.DisableAsync("fixed-latency");
        meter.RecordObservableInstruments();
        Assert.Equal([1, 0], active);

        var span = Assert.Single(spans, s => s.GetTagItem(ScenarioTelemetry.ScenarioTag) is not null);
        Assert.Equal("fixed-latency", span.GetTagItem(ScenarioTelemetry.ScenarioTag));
        var injected = Assert.Single(span.Events, e => e.Name == ScenarioTelemetry.InjectedEvent);
        var eventTags = injected.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal("1ms", eventTags["lab.scenario.param.delay"]);
        Assert.Equal("HttpServer", eventTags["lab.scenario.hook"]);

        var counted = Assert.Single(injections, i => Equals(i.Tags["scenario"], "fixed-latency"));
        Assert.Equal(1, counted.Value);
        Assert.Equal("HttpServer", counted.Tags["hook"]);
        Assert.Equal("storefront", counted.Tags["service"]);
    }
}
