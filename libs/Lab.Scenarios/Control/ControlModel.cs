using System.Collections.Immutable;

namespace Lab.Scenarios;

/// <summary>
/// A request to enable or change a scenario. Parameters and target travel as text (as typed on the CLI or
/// sent in JSON) and are validated by the control plane against the scenario's schema.
/// </summary>
/// <param name="Name">Scenario name.</param>
/// <param name="Parameters">Parameter values by name; on a change, only those to change.</param>
/// <param name="Target">Target fields by key (see <see cref="TargetFilter.Keys"/>); on a change, an empty value clears a field.</param>
/// <param name="Ttl">Time to live, e.g. "5m"; null means the default on enable, unchanged on change.</param>
/// <param name="Seed">Seed of the activation's random; null picks one on enable (recorded), unchanged on change.</param>
/// <param name="Actor">Who asks, for the history.</param>
[GenerateSerializer, Immutable]
public sealed record ScenarioRequest(
    [property: Id(0)] string Name,
    [property: Id(1)] ImmutableDictionary<string, string>? Parameters = null,
    [property: Id(2)] ImmutableDictionary<string, string>? Target = null,
    [property: Id(3)] string? Ttl = null,
    [property: Id(4)] long? Seed = null,
    [property: Id(5)] string Actor = "unknown");

/// <summary>How a control request ended.</summary>
public enum ControlOutcome
{
    /// <summary>Done; the set changed.</summary>
    Ok,

    /// <summary>Rejected: see <see cref="ControlResult.Errors"/>. Nothing changed.</summary>
    Invalid,

    /// <summary>No scenario has that name. Nothing changed.</summary>
    UnknownScenario,

    /// <summary>The scenario exists but is not active (change, disable). Nothing changed.</summary>
    NotActive,
}

/// <summary>The answer to a control request.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Activation">The activation enabled, changed or disabled.</param>
/// <param name="Version">The set version after the request.</param>
/// <param name="Errors">Validation errors keyed by field (parameter name, "target.X", "ttl", "seed").</param>
/// <param name="Detail">A sentence for the user.</param>
[GenerateSerializer, Immutable]
public sealed record ControlResult(
    [property: Id(0)] ControlOutcome Outcome,
    [property: Id(1)] ScenarioActivation? Activation,
    [property: Id(2)] long Version,
    [property: Id(3)] ImmutableDictionary<string, string[]>? Errors,
    [property: Id(4)] string? Detail)
{
    public bool Succeeded => Outcome == ControlOutcome.Ok;
}

/// <summary>What happened to the active set.</summary>
public enum HistoryAction
{
    Enabled,
    Changed,
    Disabled,
    Expired,
    Reset,
}

/// <summary>One line of the control plane's history.</summary>
/// <param name="At">When (control plane clock).</param>
/// <param name="Action">What happened.</param>
/// <param name="Name">Scenario name; null for a reset.</param>
/// <param name="Actor">Who did it ("ttl" for expiries).</param>
/// <param name="Parameters">Parameters after the action (enable, change).</param>
/// <param name="Target">Target after the action, as text.</param>
/// <param name="Version">Set version after the action.</param>
/// <param name="Detail">Extra information, e.g. the scenarios a reset cleared.</param>
[GenerateSerializer, Immutable]
public sealed record ScenarioHistoryEntry(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] HistoryAction Action,
    [property: Id(2)] string? Name,
    [property: Id(3)] string Actor,
    [property: Id(4)] ImmutableDictionary<string, string>? Parameters,
    [property: Id(5)] string? Target,
    [property: Id(6)] long Version,
    [property: Id(7)] string? Detail);

/// <summary>A catalog entry with its live status.</summary>
public sealed record ScenarioStatus(ScenarioMeta Meta, ScenarioActivation? Activation)
{
    public bool Active => Activation is not null;
}

/// <summary>
/// Persists the control plane's state, so the active set survives the restart of the silo holding it.
/// The engine ships <see cref="InMemoryScenarioStore"/>; the shop implements one over its database.
/// Implementations must be safe to call from one grain at a time (no concurrent writers).
/// </summary>
public interface IScenarioStore
{
    /// <summary>The last saved set, or null when nothing was ever saved.</summary>
    Task<ActiveScenarioSet?> LoadAsync(CancellationToken ct);

    /// <summary>Replaces the saved set.</summary>
    Task SaveAsync(ActiveScenarioSet set, CancellationToken ct);

    /// <summary>Appends history lines (oldest first).</summary>
    Task AppendHistoryAsync(IReadOnlyList<ScenarioHistoryEntry> entries, CancellationToken ct);

    /// <summary>The newest <paramref name="limit"/> history lines, newest first.</summary>
    Task<IReadOnlyList<ScenarioHistoryEntry>> ReadHistoryAsync(int limit, CancellationToken ct);
}

/// <summary>Keeps the state in memory: survives grain deactivation in the same process, not a process restart.</summary>
public sealed class InMemoryScenarioStore : IScenarioStore
{
    private readonly Lock _lock = new();
    private readonly List<ScenarioHistoryEntry> _history = [];
    private ActiveScenarioSet? _set;

    /// <summary>Most history lines kept.</summary>
    public int HistoryCapacity { get; init; } = 10_000;

    public Task<ActiveScenarioSet?> LoadAsync(CancellationToken ct)
    {
        lock (_lock)
        {
            return Task.FromResult(_set);
        }
    }

    public Task SaveAsync(ActiveScenarioSet set, CancellationToken ct)
    {
        lock (_lock)
        {
            _set = set;
        }

        return Task.CompletedTask;
    }

    public Task AppendHistoryAsync(IReadOnlyList<ScenarioHistoryEntry> entries, CancellationToken ct)
    {
        lock (_lock)
        {
            _history.AddRange(entries);
            if (_history.Count > HistoryCapacity)
            {
                _history.RemoveRange(0, _history.Count - HistoryCapacity);
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ScenarioHistoryEntry>> ReadHistoryAsync(int limit, CancellationToken ct)
    {
        lock (_lock)
        {
            IReadOnlyList<ScenarioHistoryEntry> newestFirst = _history.AsEnumerable().Reverse().Take(limit).ToArray();
            return Task.FromResult(newestFirst);
        }
    }
}
