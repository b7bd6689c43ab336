using System.Collections.Immutable;
using Microsoft.Extensions.Options;

namespace Lab.Scenarios;

/// <summary>Holds the active set for the cluster; state is loaded from and saved to <see cref="IScenarioStore"/>.</summary>
public sealed class ScenarioControlGrain(ScenarioRegistry registry, IScenarioStore store, IOptions<LabScenarioOptions> options, TimeProvider time)
    : Grain, IScenarioControlGrain
{
    private readonly ScenarioControlCore _core = new(registry, store, options.Value, time);

    public Task<ActiveScenarioSet> GetActiveAsync() => _core.GetActiveAsync(CancellationToken.None);

    public Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller) =>
        _core.GetSnapshotAsync(sinceVersion, caller, CancellationToken.None);

    public Task<ControlResult> EnableAsync(ScenarioRequest request) => _core.EnableAsync(request, CancellationToken.None);

    public Task<ControlResult> ChangeAsync(ScenarioRequest request) => _core.ChangeAsync(request, CancellationToken.None);

    public Task<ControlResult> DisableAsync(string name, string actor) => _core.DisableAsync(name, actor, CancellationToken.None);

    public Task<ControlResult> ResetAsync(string actor) => _core.ResetAsync(actor, CancellationToken.None);

    public async Task<ImmutableArray<ScenarioHistoryEntry>> HistoryAsync(int limit) =>
        [.. await _core.HistoryAsync(limit, CancellationToken.None)];
}
