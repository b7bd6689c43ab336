using System.Collections.Immutable;
using System.Diagnostics;
using Lab.Scenarios;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Lab.Tests.Support;

/// <summary>
/// Switches scenarios on the in-process cluster through the control grain and waits until every silo's
/// runtime host (they share this process's static runtime with the client) has applied the change.
/// </summary>
public sealed class ScenarioSwitch(InProcessTestCluster cluster)
{
    private static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(5);

    private IScenarioControlGrain Control => cluster.Client.GetGrain<IScenarioControlGrain>(IScenarioControlGrain.Key);

    private IEnumerable<ScenarioRuntimeHost> Hosts =>
        cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<ScenarioRuntimeHost>());

    public async Task<ScenarioActivation> EnableAsync(string name, IReadOnlyDictionary<string, string>? parameters = null,
        IReadOnlyDictionary<string, string>? target = null)
    {
        var result = await Control.EnableAsync(new ScenarioRequest(
            name,
            parameters?.ToImmutableDictionary(),
            target?.ToImmutableDictionary(),
            Ttl: "2m",
            Seed: 7,
            Actor: "test"));
        Assert.True(result.Succeeded,
            $"{result.Outcome}: {result.Detail} {string.Join("; ", result.Errors?.Select(e => $"{e.Key}={string.Join(",", e.Value)}") ?? [])}");
        await WaitAppliedAsync(result.Version);
        return result.Activation!;
    }

    /// <summary>Asks to enable <paramref name="name"/> and returns the control plane's answer as it is (e.g. a refusal).</summary>
    public Task<ControlResult> TryEnableAsync(string name, IReadOnlyDictionary<string, string>? target = null,
        IReadOnlyDictionary<string, string>? parameters = null) =>
        Control.EnableAsync(new ScenarioRequest(name, parameters?.ToImmutableDictionary(), target?.ToImmutableDictionary(), Ttl: "2m", Seed: 7, Actor: "test"));

    public async Task ResetAsync()
    {
        var result = await Control.ResetAsync("test");
        await WaitAppliedAsync(result.Version);
    }

    private async Task WaitAppliedAsync(long version)
    {
        var clock = Stopwatch.StartNew();
        while (!Hosts.All(h => h.AppliedVersion >= version))
        {
            if (clock.Elapsed > ApplyTimeout)
            {
                throw new TimeoutException($"Scenario set v{version} not applied on every silo within {ApplyTimeout.TotalSeconds} s.");
            }

            await Task.Delay(25);
        }
    }
}
