using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Scenarios;

/// <summary>Where a process fetches the active set from.</summary>
public interface IScenarioSnapshotSource
{
    /// <summary>The active set, or null when its version is still <paramref name="sinceVersion"/>.</summary>
    /// <param name="caller">This process, so the control plane knows which processes the lab has.</param>
    Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity caller, CancellationToken ct);
}

/// <summary>Silos and Orleans clients: ask the control grain.</summary>
public sealed class GrainSnapshotSource(IGrainFactory grains) : IScenarioSnapshotSource
{
    public Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity caller, CancellationToken ct) =>
        grains.GetGrain<IScenarioControlGrain>(IScenarioControlGrain.Key).GetSnapshotAsync(sinceVersion, caller).WaitAsync(ct);
}

/// <summary>Processes outside the cluster (payments): ask the control API, <c>GET /lab/scenarios/snapshot?since=V</c>.</summary>
public sealed class HttpSnapshotSource(IHttpClientFactory clients) : IScenarioSnapshotSource
{
    /// <summary>Name of the HttpClient used for polling (base address: <see cref="LabScenarioOptions.ControlApiUrl"/>).</summary>
    public const string ClientName = "lab-scenario-sync";

    public async Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity caller, CancellationToken ct)
    {
        // A client per poll: the factory pools handlers, and a singleton poller must not pin one handler forever.
        var http = clients.CreateClient(ClientName);
        using var response = await http.GetAsync(
            $"lab/scenarios/snapshot?since={sinceVersion}&service={Uri.EscapeDataString(caller.Name)}&kind={caller.Kind}", ct);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<ActiveScenarioSet>(LabJson.Options, ct)
            ?? throw new InvalidOperationException("The control API returned an empty snapshot.");
    }
}

/// <summary>
/// Polls the snapshot source every <see cref="LabScenarioOptions.SyncInterval"/> and applies a changed set, so a
/// change takes effect in this process within about one interval. Failures (control plane not up yet, a restart)
/// are logged and retried; the last applied set stays in force meanwhile, and its TTLs keep running.
/// </summary>
public sealed partial class ScenarioSync(
    IScenarioSnapshotSource source,
    ScenarioRuntimeHost host,
    IOptions<LabScenarioOptions> options,
    ILogger<ScenarioSync> logger) : BackgroundService
{
    private const int WarnEveryNthFailure = 40;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Real time on purpose: polling is plumbing, not part of what a fake or skewed clock should change.
        using var timer = new PeriodicTimer(options.Value.SyncInterval);
        var failures = 0;
        var reachedOnce = false;
        do
        {
            try
            {
                if (await source.GetSnapshotAsync(host.AppliedVersion, host.Service, stoppingToken) is { } set)
                {
                    await host.ApplyAsync(set, stoppingToken);
                }

                await host.TickAsync(stoppingToken);
                if (failures > 0 && reachedOnce)
                {
                    LogRecovered(host.Service.Name, failures);
                }

                failures = 0;
                reachedOnce = true;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Until the control plane answers once (the silo or storefront is still starting), failures are
                // expected: they are logged quietly, and as a warning only if they go on (every 40th, ~10 s).
                failures++;
                var warn = reachedOnce
                    ? failures % WarnEveryNthFailure == 1 // the first failure after working, then every 40th
                    : failures % WarnEveryNthFailure == 0; // still starting: only if it goes on (~10 s)
                if (warn)
                {
                    LogFailure(ex, host.Service.Name, failures);
                }
                else if (!reachedOnce)
                {
                    LogWaiting(ex, host.Service.Name, failures);
                }
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Scenario sync in {Service} cannot reach the control plane (failure {Failures}); keeping the last applied set")]
    private partial void LogFailure(Exception ex, string service, int failures);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "Scenario sync in {Service} is waiting for the control plane (attempt {Failures})")]
    private partial void LogWaiting(Exception ex, string service, int failures);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Scenario sync in {Service} reached the control plane again after {Failures} failures")]
    private partial void LogRecovered(string service, int failures);
}
