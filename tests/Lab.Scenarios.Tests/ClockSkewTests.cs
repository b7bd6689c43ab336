using System.Collections.Immutable;
using Lab.Scenarios;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Scenarios.Tests;

public sealed class ClockSkewTests : IDisposable
{
    private static readonly ServiceIdentity Silo1 = new("silo-1", ServiceKind.Silo);
    private static readonly ServiceIdentity Silo2 = new("silo-2", ServiceKind.Silo);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
    private readonly ScenarioRegistry _registry = ScenarioRegistry.FromAssemblies([]);
    private readonly ScenarioControlCore _core;

    public ClockSkewTests()
    {
        ScenarioRuntime.Clear();
        _core = new ScenarioControlCore(_registry, new InMemoryScenarioStore(), new LabScenarioOptions { ServiceName = "test" }, _time);
    }

    public void Dispose() => ScenarioRuntime.Clear();

    [Fact]
    public async Task Skews_only_the_targeted_service_clock_until_it_expires()
    {
        var result = await _core.EnableAsync(
            new ScenarioRequest(
                "clock-skew",
                ImmutableDictionary<string, string>.Empty.Add("skew", "-2m"),
                ImmutableDictionary<string, string>.Empty.Add("service", "silo-1"),
                Ttl: "1m",
                Actor: "test"),
            default);
        Assert.True(result.Succeeded, result.Detail);
        ScenarioRuntime.Apply(await _core.GetActiveAsync(default), _registry, _time);

        var skewed = new ScenarioTimeProvider(_time, Silo1);
        var honest = new ScenarioTimeProvider(_time, Silo2);
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromMinutes(2), skewed.GetUtcNow());
        Assert.Equal(_time.GetUtcNow(), honest.GetUtcNow());
        Assert.Equal(_time.GetTimestamp(), skewed.GetTimestamp());

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(_time.GetUtcNow(), skewed.GetUtcNow());
    }

    [Fact]
    public async Task Needs_a_target_service()
    {
        var result = await _core.EnableAsync(new ScenarioRequest("clock-skew", Actor: "test"), default);
        Assert.Equal(ControlOutcome.Invalid, result.Outcome);
        Assert.Contains("target.service", result.Errors!.Keys);
    }
}
