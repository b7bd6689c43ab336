using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Scenarios;

/// <summary>
/// Applies snapshots in one host: swaps <see cref="ScenarioRuntime"/>'s snapshot, logs every activation
/// change, and starts/stops the workers of process scenarios that target this service (also when they expire).
/// Disposing it stops every worker it started.
/// </summary>
public sealed partial class ScenarioRuntimeHost(
    ScenarioRegistry registry,
    ServiceIdentity service,
    IOptions<LabScenarioOptions> options,
    TimeProvider time,
    ILogger<ScenarioRuntimeHost> logger,
    IServiceProvider services) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, (Scenario Scenario, ScenarioActivation Activation)> _running = new(StringComparer.Ordinal);
    private ActiveScenarioSet? _applied;
    private long _reconciledVersion = -1;
    private bool _disposed;

    /// <summary>The set this host applied last (empty before the first).</summary>
    public ActiveScenarioSet Applied => _applied ?? ActiveScenarioSet.Empty;

    /// <summary>Version of <see cref="Applied"/>; -1 before the first snapshot, so the first poll always fetches.</summary>
    /// <remarks>Reported once the process scenarios' workers are started and stopped too (a dropped index is back, a job has stopped).</remarks>
    public long AppliedVersion => Volatile.Read(ref _reconciledVersion);

    /// <summary>The service this host applies scenarios for.</summary>
    public ServiceIdentity Service => service;

    /// <summary>Names of the process scenarios whose workers run in this host.</summary>
    public IReadOnlyCollection<string> RunningProcessScenarios
    {
        get
        {
            lock (_running)
            {
                return [.. _running.Keys];
            }
        }
    }

    /// <summary>Applies <paramref name="set"/> unless it is the version already applied.</summary>
    public async Task ApplyAsync(ActiveScenarioSet set, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_disposed || (_applied is not null && _applied.Version == set.Version))
            {
                return;
            }

            LogChanges(Applied, set);
            _applied = set;
            ScenarioRuntime.Apply(set, registry, time);
            await ReconcileAsync(ct);
            Volatile.Write(ref _reconciledVersion, set.Version);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops process scenarios whose TTL ran out even before the control plane removes them.</summary>
    public async Task TickAsync(CancellationToken ct)
    {
        bool anyRunning;
        lock (_running)
        {
            anyRunning = _running.Count > 0;
        }

        if (!anyRunning)
        {
            return;
        }

        await _gate.WaitAsync(ct);
        try
        {
            await ReconcileAsync(ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _disposed = true;
            var applied = _applied;
            _applied = ActiveScenarioSet.Empty;
            await ReconcileAsync(CancellationToken.None);

            // Several hosts share the process-wide runtime only in test clusters; leave it to whoever applied last.
            if (applied is not null && ReferenceEquals(ScenarioRuntime.Current, applied))
            {
                ScenarioRuntime.Clear();
            }
        }
        finally
        {
            _gate.Release();
            _gate.Dispose();
        }
    }

    private async Task ReconcileAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var desired = new Dictionary<string, (Scenario Scenario, ScenarioActivation Activation)>(StringComparer.Ordinal);
        foreach (var a in Applied.Activations)
        {
            if (registry.Find(a.Name) is { Meta.IsProcessScenario: true } scenario && a.Target.MatchesService(service) && !a.IsExpired(now))
            {
                desired[a.Name] = (scenario, a);
            }
        }

        KeyValuePair<string, (Scenario Scenario, ScenarioActivation Activation)>[] running;
        lock (_running)
        {
            running = [.. _running];
        }

        var process = new ScenarioProcessContext(service, options.Value.Caps, time, logger, services);
        foreach (var (name, (scenario, activation)) in running)
        {
            if (desired.TryGetValue(name, out var want) && want.Activation.Version == activation.Version)
            {
                continue;
            }

            try
            {
                await scenario.OnDeactivatedAsync(activation, process, ct);
                LogWorkersStopped(name, service.Name);
            }
            catch (Exception ex)
            {
                LogWorkerFailure(ex, name, service.Name, "stop");
            }

            lock (_running)
            {
                _running.Remove(name);
            }
        }

        foreach (var (name, (scenario, activation)) in desired)
        {
            lock (_running)
            {
                if (_running.ContainsKey(name))
                {
                    continue;
                }
            }

            try
            {
                await scenario.OnActivatedAsync(activation, process, ct);
                lock (_running)
                {
                    _running[name] = (scenario, activation);
                }

                // A scenario that acts through workers only, never per call, counts their start in a process as its injection.
                if (scenario.Meta.Targets.All(point => point == HookPoint.Process))
                {
                    ScenarioTelemetry.RecordProcessStart(service, activation);
                }

                LogWorkersStarted(name, service.Name, activation.DescribeParameters());
            }
            catch (Exception ex)
            {
                LogWorkerFailure(ex, name, service.Name, "start");
            }
        }
    }

    private void LogChanges(ActiveScenarioSet previous, ActiveScenarioSet next)
    {
        foreach (var a in next.Activations)
        {
            var before = previous.Find(a.Name);
            if (before is null)
            {
                LogEnabled(a.Name, service.Name, next.Version, a.DescribeParameters(), a.Target.ToString(), a.ExpiresAt, a.Seed);
            }
            else if (before.Version != a.Version)
            {
                LogChanged(a.Name, service.Name, next.Version, a.DescribeParameters(), a.Target.ToString(), a.ExpiresAt);
            }
        }

        foreach (var a in previous.Activations)
        {
            if (next.Find(a.Name) is null)
            {
                LogDisabled(a.Name, service.Name, next.Version);
            }
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Scenario {Scenario} enabled in {Service} (set v{Version}): {Parameters}; target {Target}; expires {ExpiresAt:O}; seed {Seed}")]
    private partial void LogEnabled(string scenario, string service, long version, string parameters, string target, DateTimeOffset expiresAt, long seed);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Scenario {Scenario} changed in {Service} (set v{Version}): {Parameters}; target {Target}; expires {ExpiresAt:O}")]
    private partial void LogChanged(string scenario, string service, long version, string parameters, string target, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Scenario {Scenario} disabled in {Service} (set v{Version})")]
    private partial void LogDisabled(string scenario, string service, long version);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Scenario {Scenario} started its workers in {Service}: {Parameters}")]
    private partial void LogWorkersStarted(string scenario, string service, string parameters);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Scenario {Scenario} stopped its workers in {Service}")]
    private partial void LogWorkersStopped(string scenario, string service);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "Scenario {Scenario} failed to {Step} its workers in {Service}")]
    private partial void LogWorkerFailure(Exception ex, string scenario, string service, string step);
}
