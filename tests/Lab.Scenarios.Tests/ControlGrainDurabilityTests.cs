using System.Collections.Immutable;
using Lab.Scenarios;
using Lab.Scenarios.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace Lab.Scenarios.Tests;

/// <summary>The active set is held by the store, not by the grain's memory: it survives the control grain's silo going away.</summary>
public sealed class ControlGrainDurabilityTests : IAsyncLifetime
{
    private readonly InMemoryScenarioStore _store = new();
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        ScenarioRuntime.Clear();
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((options, silo) =>
        {
            silo.Services.AddLabScenarios(o =>
                {
                    o.ServiceName = options.SiloName;
                    o.ServiceKind = ServiceKind.Silo;
                })
                .SyncFromCluster();
            silo.Services.AddSingleton<IScenarioStore>(_store); // stands in for the shop database all silos share
            silo.AddLabScenarioFilters();
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        ScenarioRuntime.Clear();
    }

    [Fact]
    public async Task The_set_survives_the_stop_of_the_silo_holding_the_control_grain()
    {
        var control = _cluster.Client.GetGrain<IScenarioControlGrain>(IScenarioControlGrain.Key);
        var enabled = await control.EnableAsync(new ScenarioRequest(
            "fixed-latency", ImmutableDictionary<string, string>.Empty.Add("delay", "1ms"), Actor: "test"));
        Assert.True(enabled.Succeeded);

        var management = _cluster.Client.GetGrain<IManagementGrain>(0);
        var address = await management.GetActivationAddress(control);
        var holder = _cluster.Silos.Single(s => s.SiloAddress.Equals(address));
        if (holder == _cluster.Silos[0])
        {
            // The primary silo hosts the test membership; move the grain instead of stopping the primary.
            await _cluster.MigrateAsync(control, _cluster.Silos[1].SiloAddress);
            holder = _cluster.Silos[1];
        }

        await _cluster.StopSiloAsync(holder);

        var after = await control.GetActiveAsync();
        Assert.Equal(enabled.Version, after.Version);
        Assert.Equal("1ms", after.Find("fixed-latency")!.Parameters["delay"]);
        Assert.NotEqual(holder.SiloAddress, await management.GetActivationAddress(control));

        // The surviving silos keep syncing from the re-activated grain.
        var disabled = await control.DisableAsync("fixed-latency", "test");
        var survivors = _cluster.Silos.Where(s => s != holder).Select(s => s.ServiceProvider.GetRequiredService<ScenarioRuntimeHost>()).ToArray();
        await Waits.UntilAsync(() => survivors.All(h => h.AppliedVersion == disabled.Version), TimeSpan.FromSeconds(5), "the survivors to apply the disable");
    }
}
