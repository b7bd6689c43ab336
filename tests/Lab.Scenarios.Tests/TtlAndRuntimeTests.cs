using System.Collections.Immutable;
using System.Net;
using Lab.Scenarios;
using Lab.Scenarios.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Scenarios.Tests;

public sealed class TtlAndRuntimeTests : IDisposable
{
    private static readonly ServiceIdentity Silo1 = new("silo-1", ServiceKind.Silo);
    private static readonly ServiceIdentity Silo2 = new("silo-2", ServiceKind.Silo);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero));
    private readonly ScenarioRegistry _registry = ScenarioRegistry.FromAssemblies([typeof(TestHogScenario).Assembly]);
    private readonly LabScenarioOptions _options = new() { ServiceName = "silo-1", Caps = { MaxMemoryBytes = 64L << 20 } };
    private readonly ScenarioControlCore _core;

    public TtlAndRuntimeTests()
    {
        ScenarioRuntime.Clear();
        _core = new ScenarioControlCore(_registry, new InMemoryScenarioStore(), _options, _time);
    }

    public void Dispose() => ScenarioRuntime.Clear();

    [Fact]
    public async Task Runtime_stops_applying_an_activation_at_its_ttl_before_the_control_plane_removes_it()
    {
        var result = await _core.EnableAsync(Request("error-burst", ("rate", "100%"), ("window", "60m")) with { Ttl = "10s" }, default);
        Assert.True(result.Succeeded);
        ScenarioRuntime.Apply(await _core.GetActiveAsync(default), _registry, _time);

        var fault = await Assert.ThrowsAsync<InjectedFaultException>(() => InvokeRepositoryAsync());
        Assert.Equal("error-burst", fault.Scenario);

        _time.Advance(TimeSpan.FromSeconds(9.9));
        await Assert.ThrowsAsync<InjectedFaultException>(() => InvokeRepositoryAsync());

        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Empty(await InvokeRepositoryAsync()); // same snapshot still applied: the runtime checks ExpiresAt itself
        Assert.Equal(0, ScenarioRuntime.ActiveCount);

        var active = await _core.GetActiveAsync(default);
        Assert.Empty(active.Activations);
        var expired = (await _core.HistoryAsync(10, default))[0];
        Assert.Equal(HistoryAction.Expired, expired.Action);
        Assert.Equal("error-burst", expired.Name);
        Assert.Equal("ttl", expired.Actor);
    }

    [Fact]
    public async Task Default_ttl_is_stamped_and_ttl_above_the_maximum_is_refused()
    {
        var result = await _core.EnableAsync(Request("fixed-latency"), default);
        Assert.Equal(_time.GetUtcNow() + _options.DefaultTtl, result.Activation!.ExpiresAt);

        var tooLong = await _core.EnableAsync(Request("fixed-latency") with { Ttl = "61m" }, default);
        Assert.Equal(ControlOutcome.Invalid, tooLong.Outcome);
        Assert.Contains("ttl", tooLong.Errors!.Keys);
        Assert.Equal(result.Version, (await _core.GetActiveAsync(default)).Version);
    }

    [Fact]
    public async Task Error_burst_fails_only_inside_its_window_and_at_its_rate_with_a_repeatable_seed()
    {
        await _core.EnableAsync(Request("error-burst", ("rate", "30%"), ("window", "5s")) with { Seed = 1234 }, default);
        ScenarioRuntime.Apply(await _core.GetActiveAsync(default), _registry, _time);

        var first = await CountFailuresAsync(1000);
        Assert.InRange(first.Count, 240, 360);

        // Same seed, fresh activation: the same calls fail.
        await _core.EnableAsync(Request("error-burst", ("rate", "30%"), ("window", "5s")) with { Seed = 1234 }, default);
        ScenarioRuntime.Apply(await _core.GetActiveAsync(default), _registry, _time);
        Assert.Equal(first, await CountFailuresAsync(1000));

        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(await CountFailuresAsync(200));
    }

    [Fact]
    public async Task Target_percentage_and_service_narrow_where_a_scenario_applies()
    {
        await _core.EnableAsync(
            Request("fixed-latency", ("delay", "0ms")) with
            {
                Target = ImmutableDictionary<string, string>.Empty.Add("percentage", "25").Add("service", "silo-2").Add("repositoryOperation", "inventory.*"),
                Seed = 99,
            },
            default);
        ScenarioRuntime.Apply(await _core.GetActiveAsync(default), _registry, _time);

        var applied = 0;
        for (var i = 0; i < 2000; i++)
        {
            var hit = new HookContext(HookPoint.Repository, Silo2) { RepositoryOperation = "inventory.reserve" };
            await ScenarioRuntime.InvokeAsync(hit);
            applied += hit.AppliedScenarios.Count;

            var otherSilo = new HookContext(HookPoint.Repository, Silo1) { RepositoryOperation = "inventory.reserve" };
            await ScenarioRuntime.InvokeAsync(otherSilo);
            Assert.Empty(otherSilo.AppliedScenarios);

            var otherOperation = new HookContext(HookPoint.Repository, Silo2) { RepositoryOperation = "orders.insert" };
            await ScenarioRuntime.InvokeAsync(otherOperation);
            Assert.Empty(otherOperation.AppliedScenarios);
        }

        Assert.InRange(applied, 400, 600);
    }

    [Fact]
    public async Task Process_scenario_workers_start_in_targeted_hosts_only_and_stop_on_expiry_and_reset()
    {
        await using var host1 = Host(Silo1);
        await using var host2 = Host(Silo2);
        var result = await _core.EnableAsync(
            Request("test-hog", ("memory", "8MB")) with { Ttl = "30s", Target = ImmutableDictionary<string, string>.Empty.Add("service", "silo-1") },
            default);
        Assert.True(result.Succeeded, result.Detail);
        var set = await _core.GetActiveAsync(default);
        await host1.ApplyAsync(set, default);
        await host2.ApplyAsync(set, default);

        Assert.Equal(["test-hog"], host1.RunningProcessScenarios);
        Assert.Empty(host2.RunningProcessScenarios);
        Assert.Equal(8L << 20, TestHogScenario.RetainedBytes);

        _time.Advance(TimeSpan.FromSeconds(31));
        await host1.TickAsync(default);
        Assert.Empty(host1.RunningProcessScenarios);
        Assert.Equal(0, TestHogScenario.RetainedBytes);

        await _core.EnableAsync(Request("test-hog", ("memory", "4MB")), default);
        await host1.ApplyAsync(await _core.GetActiveAsync(default), default);
        Assert.Equal(4L << 20, TestHogScenario.RetainedBytes);

        await _core.ResetAsync("test", default);
        await host1.ApplyAsync(await _core.GetActiveAsync(default), default);
        Assert.Empty(host1.RunningProcessScenarios);
        Assert.Equal(0, TestHogScenario.Running);
        Assert.True(ScenarioRuntime.IsIdle);
    }

    [Fact]
    public async Task A_real_short_ttl_ends_the_effect_through_the_http_stack()
    {
        await using var host = await LabWebHost.StartAsync();
        var enabled = await host.EnableAsync("error-burst", """{"parameters":{"rate":"100%","hook":"http-server"},"target":{"route":"/api/ping"},"ttl":"3s"}""");

        // 3 s: the first request must land inside the TTL even at the suite's start, when a 1 s TTL once ran out before it.
        using (var during = await host.Client.GetAsync("api/ping"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, during.StatusCode);
        }

        await Waits.UntilAsync(
            async () =>
            {
                using var response = await host.Client.GetAsync("api/ping");
                return response.StatusCode == HttpStatusCode.OK;
            },
            TimeSpan.FromSeconds(8),
            "the burst to end at its TTL");
        Assert.True(DateTimeOffset.UtcNow >= enabled.Activation!.ExpiresAt);

        await Waits.UntilAsync(
            async () => (await host.Plane.HistoryAsync(5)).Any(h => h.Action == HistoryAction.Expired && h.Name == "error-burst"),
            TimeSpan.FromSeconds(5),
            "the expiry to be recorded");
    }

    private ScenarioRuntimeHost Host(ServiceIdentity service) =>
        new(_registry, service, Options.Create(_options), _time, NullLogger<ScenarioRuntimeHost>.Instance, Support.NoServices.Instance);

    private static ScenarioRequest Request(string name, params (string Key, string Value)[] parameters) =>
        new(name, parameters.ToImmutableDictionary(p => p.Key, p => p.Value), Actor: "test");

    private static async Task<IReadOnlyList<string>> InvokeRepositoryAsync()
    {
        var ctx = new HookContext(HookPoint.Repository, Silo1) { RepositoryOperation = "inventory.reserve" };
        await ScenarioRuntime.InvokeAsync(ctx);
        return ctx.AppliedScenarios;
    }

    private static async Task<List<int>> CountFailuresAsync(int calls)
    {
        var failed = new List<int>();
        for (var i = 0; i < calls; i++)
        {
            try
            {
                await InvokeRepositoryAsync();
            }
            catch (InjectedFaultException)
            {
                failed.Add(i);
            }
        }

        return failed;
    }
}
