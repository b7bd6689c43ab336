using System.Collections.Immutable;

namespace Lab.Scenarios;

/// <summary>The control plane as the control API and tools see it: the catalog with live status, and changes to the active set.</summary>
public interface IScenarioControlPlane
{
    /// <summary>Every scenario in the catalog with its live status.</summary>
    Task<IReadOnlyList<ScenarioStatus>> ListAsync(CancellationToken ct = default);

    /// <summary>One scenario with its live status, or null when no scenario has that name.</summary>
    Task<ScenarioStatus?> GetAsync(string name, CancellationToken ct = default);

    /// <summary>The active set (expired activations removed).</summary>
    Task<ActiveScenarioSet> GetActiveAsync(CancellationToken ct = default);

    /// <summary>The active set, or null when its version is still <paramref name="sinceVersion"/>.</summary>
    /// <param name="caller">The process polling, if it says: targets may then name only processes that poll.</param>
    Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller = null, CancellationToken ct = default);

    /// <summary>Enables (or replaces) a scenario's activation.</summary>
    Task<ControlResult> EnableAsync(ScenarioRequest request, CancellationToken ct = default);

    /// <summary>Changes parameters, target, TTL or seed of an active scenario.</summary>
    Task<ControlResult> ChangeAsync(ScenarioRequest request, CancellationToken ct = default);

    Task<ControlResult> DisableAsync(string name, string actor, CancellationToken ct = default);

    /// <summary>Disables everything at once.</summary>
    Task<ControlResult> ResetAsync(string actor, CancellationToken ct = default);

    /// <summary>The newest history lines, newest first.</summary>
    Task<IReadOnlyList<ScenarioHistoryEntry>> HistoryAsync(int limit, CancellationToken ct = default);
}

/// <summary>Composes the catalog (local, from the registry) with the active set (from wherever it is held).</summary>
public abstract class ScenarioControlPlaneBase(ScenarioRegistry registry) : IScenarioControlPlane
{
    public async Task<IReadOnlyList<ScenarioStatus>> ListAsync(CancellationToken ct = default)
    {
        var set = await GetActiveAsync(ct);
        return registry.All.Select(s => new ScenarioStatus(s.Meta, set.Find(s.Meta.Name))).ToArray();
    }

    public async Task<ScenarioStatus?> GetAsync(string name, CancellationToken ct = default)
    {
        if (registry.Find(name) is not { } scenario)
        {
            return null;
        }

        var set = await GetActiveAsync(ct);
        return new ScenarioStatus(scenario.Meta, set.Find(scenario.Meta.Name));
    }

    public abstract Task<ActiveScenarioSet> GetActiveAsync(CancellationToken ct = default);

    public abstract Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller = null, CancellationToken ct = default);

    public abstract Task<ControlResult> EnableAsync(ScenarioRequest request, CancellationToken ct = default);

    public abstract Task<ControlResult> ChangeAsync(ScenarioRequest request, CancellationToken ct = default);

    public abstract Task<ControlResult> DisableAsync(string name, string actor, CancellationToken ct = default);

    public abstract Task<ControlResult> ResetAsync(string actor, CancellationToken ct = default);

    public abstract Task<IReadOnlyList<ScenarioHistoryEntry>> HistoryAsync(int limit, CancellationToken ct = default);
}

/// <summary>The control plane held by the cluster: every call goes to the singleton <see cref="IScenarioControlGrain"/>.</summary>
public sealed class GrainScenarioControlPlane(IGrainFactory grains, ScenarioRegistry registry) : ScenarioControlPlaneBase(registry)
{
    private IScenarioControlGrain Grain => grains.GetGrain<IScenarioControlGrain>(IScenarioControlGrain.Key);

    public override Task<ActiveScenarioSet> GetActiveAsync(CancellationToken ct = default) => Grain.GetActiveAsync();

    public override Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller = null, CancellationToken ct = default) =>
        Grain.GetSnapshotAsync(sinceVersion, caller);

    public override Task<ControlResult> EnableAsync(ScenarioRequest request, CancellationToken ct = default) => Grain.EnableAsync(request);

    public override Task<ControlResult> ChangeAsync(ScenarioRequest request, CancellationToken ct = default) => Grain.ChangeAsync(request);

    public override Task<ControlResult> DisableAsync(string name, string actor, CancellationToken ct = default) => Grain.DisableAsync(name, actor);

    public override Task<ControlResult> ResetAsync(string actor, CancellationToken ct = default) => Grain.ResetAsync(actor);

    public override async Task<IReadOnlyList<ScenarioHistoryEntry>> HistoryAsync(int limit, CancellationToken ct = default) =>
        await Grain.HistoryAsync(limit);
}

/// <summary>A control plane held in this process (single-process labs and tests): the same logic as the grain, behind a lock.</summary>
public sealed class LocalScenarioControlPlane(ScenarioControlCore core, ScenarioRegistry registry) : ScenarioControlPlaneBase(registry), IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public override Task<ActiveScenarioSet> GetActiveAsync(CancellationToken ct = default) => Locked(c => c.GetActiveAsync(ct), ct);

    public override Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller = null, CancellationToken ct = default) =>
        Locked(c => c.GetSnapshotAsync(sinceVersion, caller, ct), ct);

    public override Task<ControlResult> EnableAsync(ScenarioRequest request, CancellationToken ct = default) => Locked(c => c.EnableAsync(request, ct), ct);

    public override Task<ControlResult> ChangeAsync(ScenarioRequest request, CancellationToken ct = default) => Locked(c => c.ChangeAsync(request, ct), ct);

    public override Task<ControlResult> DisableAsync(string name, string actor, CancellationToken ct = default) => Locked(c => c.DisableAsync(name, actor, ct), ct);

    public override Task<ControlResult> ResetAsync(string actor, CancellationToken ct = default) => Locked(c => c.ResetAsync(actor, ct), ct);

    public override Task<IReadOnlyList<ScenarioHistoryEntry>> HistoryAsync(int limit, CancellationToken ct = default) => Locked(c => c.HistoryAsync(limit, ct), ct);

    public void Dispose() => _gate.Dispose();

    private async Task<T> Locked<T>(Func<ScenarioControlCore, Task<T>> action, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await action(core);
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>
/// The cluster's singleton holder of the active set (key <see cref="Key"/>). Its interface lives in the
/// Lab namespace but the grain filters never hook it: the control plane is never subject to injected faults.
/// </summary>
public interface IScenarioControlGrain : IGrainWithIntegerKey
{
    const long Key = 0;

    Task<ActiveScenarioSet> GetActiveAsync();

    Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller);

    Task<ControlResult> EnableAsync(ScenarioRequest request);

    Task<ControlResult> ChangeAsync(ScenarioRequest request);

    Task<ControlResult> DisableAsync(string name, string actor);

    Task<ControlResult> ResetAsync(string actor);

    Task<ImmutableArray<ScenarioHistoryEntry>> HistoryAsync(int limit);
}
