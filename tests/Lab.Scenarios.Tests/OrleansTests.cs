using System.Collections.Immutable;
using System.Diagnostics;
using Lab.Scenarios;
using Lab.Scenarios.Tests.Grains;
using Lab.Scenarios.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Outside.Grains;
using Xunit.Abstractions;

namespace Lab.Scenarios.Tests.Grains
{
    /// <summary>A lab grain: its namespace starts with "Lab.", so the scenario filters hook it.</summary>
    public interface IPingGrain : IGrainWithStringKey
    {
        Task<string> PingAsync();
    }

    public sealed class PingGrain : Grain, IPingGrain
    {
        public Task<string> PingAsync() => Task.FromResult(this.GetPrimaryKeyString());
    }
}

namespace Outside.Grains
{
    /// <summary>Not a lab grain: never hooked, whatever is active.</summary>
    public interface IOutsideGrain : IGrainWithStringKey
    {
        Task<string> PingAsync();
    }

    public sealed class OutsideGrain : Grain, IOutsideGrain
    {
        public Task<string> PingAsync() => Task.FromResult("outside");
    }
}

namespace Lab.Scenarios.Tests
{
    /// <summary>Two silos in one process, each with the scenario engine synced from the control grain.</summary>
    public sealed class LabClusterFixture : IAsyncLifetime
    {
        public InProcessTestCluster Cluster { get; private set; } = null!;

        public IScenarioControlGrain Control => Cluster.Client.GetGrain<IScenarioControlGrain>(IScenarioControlGrain.Key);

        public IReadOnlyList<ScenarioRuntimeHost> Hosts =>
            Cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<ScenarioRuntimeHost>()).ToArray();

        public async Task InitializeAsync()
        {
            ScenarioRuntime.Clear();

            // One store for both silos, as the shop's database would be, so the set survives the grain moving.
            var store = new InMemoryScenarioStore();
            var builder = new InProcessTestClusterBuilder(2);
            builder.ConfigureSilo((options, silo) =>
            {
                silo.Services.AddLabScenarios(o =>
                    {
                        o.ServiceName = options.SiloName;
                        o.ServiceKind = ServiceKind.Silo;
                    })
                    .SyncFromCluster()
                    .AddScenariosFrom(typeof(LabClusterFixture).Assembly);
                silo.Services.AddSingleton<IScenarioStore>(store);
                silo.AddLabScenarioFilters();
            });
            Cluster = builder.Build();
            await Cluster.DeployAsync();
        }

        public async Task DisposeAsync()
        {
            await Cluster.DisposeAsync();
            ScenarioRuntime.Clear();
        }

        /// <summary>Waits until every silo applied <paramref name="version"/>; returns how long it took.</summary>
        public Task<TimeSpan> WaitAppliedEverywhereAsync(long version) =>
            Waits.UntilAsync(() => Hosts.All(h => h.AppliedVersion == version), TimeSpan.FromSeconds(5), $"set v{version} on every silo");

        public async Task<ControlResult> EnableAsync(string name, params (string Key, string Value)[] parameters) =>
            await EnableAsync(new ScenarioRequest(name, parameters.ToImmutableDictionary(p => p.Key, p => p.Value), Actor: "test"));

        public async Task<ControlResult> EnableAsync(ScenarioRequest request)
        {
            var result = await Control.EnableAsync(request);
            Assert.True(result.Succeeded, result.Detail);
            await WaitAppliedEverywhereAsync(result.Version);
            return result;
        }

        public async Task DisableAsync(string name)
        {
            var result = await Control.DisableAsync(name, "test");
            Assert.True(result.Succeeded, result.Detail);
            await WaitAppliedEverywhereAsync(result.Version);
        }
    }

    public sealed class OrleansTests(LabClusterFixture fixture, ITestOutputHelper output) : IClassFixture<LabClusterFixture>, IAsyncLifetime
    {
        private static readonly ImmutableDictionary<string, string> PingTarget =
            ImmutableDictionary<string, string>.Empty.Add("grainInterface", nameof(IPingGrain));

        public async Task InitializeAsync()
        {
            var reset = await fixture.Control.ResetAsync("test");
            await fixture.WaitAppliedEverywhereAsync(reset.Version);

            // Warm up grain activation and the call path, so timings measure the scenario.
            for (var i = 0; i < 5; i++)
            {
                await Ping(i.ToString());
            }
        }

        public Task DisposeAsync() => Task.CompletedTask;

        [Fact]
        public async Task An_enable_reaches_both_silos_runtime_within_the_bound_and_reset_clears_everything()
        {
            var watch = Stopwatch.StartNew();
            var result = await fixture.Control.EnableAsync(new ScenarioRequest("fixed-latency", Target: PingTarget, Actor: "test"));
            Assert.True(result.Succeeded);
            var elapsed = await fixture.WaitAppliedEverywhereAsync(result.Version);
            output.WriteLine($"enable applied on {fixture.Hosts.Count} silos after {watch.Elapsed.TotalMilliseconds:0} ms");
            Assert.Equal(2, fixture.Hosts.Count);
            Assert.All(fixture.Hosts, h => Assert.NotNull(h.Applied.Find("fixed-latency")));
            Assert.Equal(2, fixture.Hosts.Select(h => h.Service.Name).Distinct().Count());

            await fixture.Control.EnableAsync(new ScenarioRequest("test-hog", Actor: "test"));
            var reset = await fixture.Control.ResetAsync("test");
            await fixture.WaitAppliedEverywhereAsync(reset.Version);
            Assert.All(fixture.Hosts, h => Assert.Empty(h.Applied.Activations));
            Assert.All(fixture.Hosts, h => Assert.Empty(h.RunningProcessScenarios));
            Assert.True(ScenarioRuntime.IsIdle);
            Assert.Equal(0, TestHogScenario.Running);

            var history = await fixture.Control.HistoryAsync(10);
            Assert.Equal(HistoryAction.Reset, history[0].Action);
            Assert.Contains("test-hog", history[0].Detail);
        }

        [Fact]
        public async Task Fixed_latency_delays_grain_calls_through_the_incoming_filter_then_recovers()
        {
            var delay = TimeSpan.FromMilliseconds(300);
            using var injections = new InjectionCounter();
            await fixture.EnableAsync(new ScenarioRequest(
                "fixed-latency", ImmutableDictionary<string, string>.Empty.Add("delay", $"{delay.TotalMilliseconds}ms"), PingTarget, Actor: "test"));

            // The targeted grain's call is delayed once and waits for it (at least half the delay: timers are coarse).
            var slow = await Time(() => Ping("a"));
            Assert.Equal(1, injections.Of("fixed-latency"));
            Assert.True(slow >= delay / 2, $"grain call took {slow.TotalMilliseconds} ms with a {delay.TotalMilliseconds} ms delay on");

            // A grain outside the target, and the targeted one after disable, meet no injection.
            await fixture.Cluster.Client.GetGrain<IOutsideGrain>("x").PingAsync();
            Assert.Equal(1, injections.Of("fixed-latency"));
            await fixture.DisableAsync("fixed-latency");
            var after = await Time(() => Ping("a"));
            output.WriteLine($"ping with a {delay.TotalMilliseconds} ms delay {slow.TotalMilliseconds:0.0} ms, after disable {after.TotalMilliseconds:0.0} ms");
            Assert.Equal(1, injections.Of("fixed-latency"));
        }

        [Fact]
        public async Task Error_burst_fails_grain_calls_with_an_exception_naming_the_scenario_then_recovers()
        {
            await fixture.EnableAsync(new ScenarioRequest(
                "error-burst", ImmutableDictionary<string, string>.Empty.Add("rate", "100%"), PingTarget, Actor: "test"));

            var fault = await Assert.ThrowsAsync<InjectedFaultException>(() => Ping("b"));
            Assert.Equal("error-burst", fault.Scenario);
            Assert.Equal("outside", await fixture.Cluster.Client.GetGrain<IOutsideGrain>("y").PingAsync());

            await fixture.DisableAsync("error-burst");
            Assert.Equal("b", await Ping("b"));
        }

        [Fact]
        public async Task Error_burst_rate_over_many_grain_calls_follows_the_configured_share()
        {
            await fixture.EnableAsync(new ScenarioRequest(
                "error-burst", ImmutableDictionary<string, string>.Empty.Add("rate", "25%"), PingTarget, Seed: 3, Actor: "test"));
            var failures = 0;
            for (var i = 0; i < 400; i++)
            {
                try
                {
                    await Ping((i % 10).ToString());
                }
                catch (InjectedFaultException)
                {
                    failures++;
                }
            }

            Assert.InRange(failures, 60, 140);
            await fixture.DisableAsync("error-burst");
        }

        private Task<string> Ping(string key) => fixture.Cluster.Client.GetGrain<IPingGrain>(key).PingAsync();

        private static Task<TimeSpan> Time(Func<Task> action) => Waits.TimeAsync(action);
    }
}
