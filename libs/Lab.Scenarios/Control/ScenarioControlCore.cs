using System.Collections.Immutable;
using System.Globalization;

namespace Lab.Scenarios;

/// <summary>
/// The control plane's logic: validates requests against the registry, stamps TTLs and versions, persists
/// through <see cref="IScenarioStore"/> and records history. Not thread-safe: its host serialises calls
/// (the control grain by being a grain, <see cref="LocalScenarioControlPlane"/> with a lock).
/// A rejected request changes nothing; a failed save changes nothing either.
/// </summary>
public sealed class ScenarioControlCore(ScenarioRegistry registry, IScenarioStore store, LabScenarioOptions options, TimeProvider time)
{
    private const string ExpiryActor = "ttl";

    /// <summary>How long a process that stopped polling still counts as one of the lab's (a poll every 250 ms is usual).</summary>
    public static readonly TimeSpan ServiceSeenFor = TimeSpan.FromSeconds(30);

    private ActiveScenarioSet? _set;

    // The processes that polled for snapshots, and when they last did: what a "service" target may name.
    private readonly Dictionary<string, (ServiceIdentity Service, DateTimeOffset At)> _seen = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The active set, expired activations removed (and recorded as expired).</summary>
    public async Task<ActiveScenarioSet> GetActiveAsync(CancellationToken ct)
    {
        var set = await LoadAsync(ct);
        var now = time.GetUtcNow();
        var expired = set.Activations.Where(a => a.IsExpired(now)).ToArray();
        if (expired.Length == 0)
        {
            return set;
        }

        var next = new ActiveScenarioSet(set.Version + 1, set.Activations.RemoveRange(expired));
        var history = expired
            .Select(a => new ScenarioHistoryEntry(now, HistoryAction.Expired, a.Name, ExpiryActor, a.Parameters, a.Target.ToString(), next.Version,
                $"TTL ran out at {a.ExpiresAt:O}"))
            .ToArray();
        await CommitAsync(next, history, ct);
        return next;
    }

    /// <summary>The set, or null when its version is still <paramref name="sinceVersion"/>.</summary>
    /// <param name="caller">The polling process, remembered as one of the lab's for <see cref="ServiceSeenFor"/>.</param>
    public async Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity? caller, CancellationToken ct)
    {
        if (caller is not null)
        {
            _seen[caller.Name] = (caller, time.GetUtcNow());
        }

        var set = await GetActiveAsync(ct);

        // "Different", not "newer": a store that was wiped restarts its versions, and pollers must follow.
        return set.Version == sinceVersion ? null : set;
    }

    public async Task<ControlResult> EnableAsync(ScenarioRequest request, CancellationToken ct)
    {
        var set = await GetActiveAsync(ct);
        if (registry.Find(request.Name) is not { } scenario)
        {
            return UnknownScenario(request.Name, set);
        }

        var meta = scenario.Meta;
        var errors = new ValidationErrors();
        var parameters = ParameterValidator.Merge(meta, null, request.Parameters, options.Caps, errors);
        var target = ParseTarget(TargetFilter.Everywhere, request.Target, errors);
        CheckService(target, errors);
        var ttl = ParseTtl(request.Ttl, options.DefaultTtl, errors);
        var now = time.GetUtcNow();
        var version = set.Version + 1;
        var activation = new ScenarioActivation(
            meta.Name, parameters, target, request.Seed ?? NewSeed(), now, now + ttl, version, request.Actor);
        if (Reject(scenario, activation, errors, set) is { } rejected)
        {
            return rejected;
        }

        var next = new ActiveScenarioSet(version, Without(set, meta.Name).Add(activation));
        await CommitAsync(next, [History(HistoryAction.Enabled, activation, now, request.Actor, $"ttl {Format(ttl)}, seed {activation.Seed}")], ct);
        return new ControlResult(ControlOutcome.Ok, activation, version, null, $"{meta.Name} enabled until {activation.ExpiresAt:O}.");
    }

    public async Task<ControlResult> ChangeAsync(ScenarioRequest request, CancellationToken ct)
    {
        var set = await GetActiveAsync(ct);
        if (registry.Find(request.Name) is not { } scenario)
        {
            return UnknownScenario(request.Name, set);
        }

        var meta = scenario.Meta;
        if (set.Find(meta.Name) is not { } current)
        {
            return NotActive(meta.Name, set);
        }

        var errors = new ValidationErrors();
        var parameters = ParameterValidator.Merge(meta, current.Parameters, request.Parameters, options.Caps, errors);
        var target = ParseTarget(current.Target, request.Target, errors);
        if (target.Service != current.Target.Service)
        {
            CheckService(target, errors);
        }

        var now = time.GetUtcNow();
        var expiresAt = request.Ttl is null ? current.ExpiresAt : now + ParseTtl(request.Ttl, options.DefaultTtl, errors);
        var version = set.Version + 1;
        var activation = current with
        {
            Parameters = parameters,
            Target = target,
            Seed = request.Seed ?? current.Seed,
            ExpiresAt = expiresAt,
            Version = version,
            ActivatedBy = request.Actor,
        };
        if (Reject(scenario, activation, errors, set) is { } rejected)
        {
            return rejected;
        }

        var next = new ActiveScenarioSet(version, Without(set, meta.Name).Add(activation));
        await CommitAsync(next, [History(HistoryAction.Changed, activation, now, request.Actor, null)], ct);
        return new ControlResult(ControlOutcome.Ok, activation, version, null, $"{meta.Name} changed.");
    }

    public async Task<ControlResult> DisableAsync(string name, string actor, CancellationToken ct)
    {
        var set = await GetActiveAsync(ct);
        if (registry.Find(name) is not { } scenario)
        {
            return UnknownScenario(name, set);
        }

        if (set.Find(scenario.Meta.Name) is not { } current)
        {
            return NotActive(scenario.Meta.Name, set);
        }

        var now = time.GetUtcNow();
        var next = new ActiveScenarioSet(set.Version + 1, Without(set, current.Name));
        await CommitAsync(next, [History(HistoryAction.Disabled, current, now, actor, null) with { Version = next.Version }], ct);
        return new ControlResult(ControlOutcome.Ok, current, next.Version, null, $"{current.Name} disabled.");
    }

    public async Task<ControlResult> ResetAsync(string actor, CancellationToken ct)
    {
        var set = await GetActiveAsync(ct);
        var next = new ActiveScenarioSet(set.Version + 1, []);
        var cleared = set.Activations.Select(a => a.Name).ToArray();
        var detail = cleared.Length == 0 ? "nothing was active" : "cleared " + string.Join(", ", cleared);
        await CommitAsync(next, [new ScenarioHistoryEntry(time.GetUtcNow(), HistoryAction.Reset, null, actor, null, null, next.Version, detail)], ct);
        return new ControlResult(ControlOutcome.Ok, null, next.Version, null, $"Reset: {detail}.");
    }

    public async Task<IReadOnlyList<ScenarioHistoryEntry>> HistoryAsync(int limit, CancellationToken ct)
    {
        await GetActiveAsync(ct); // records expiries first, so the history is current
        return await store.ReadHistoryAsync(Math.Clamp(limit, 1, options.MaxHistoryPage), ct);
    }

    /// <summary>The longest target value taken: longer than any grain, method, route or SKU the shop has.</summary>
    public const int MaxTargetValueLength = 256;

    /// <summary>Parses target fields (keys of <see cref="TargetFilter.Keys"/>) over <paramref name="baseline"/>; errors go under "target.KEY".</summary>
    public static TargetFilter ParseTarget(TargetFilter baseline, IReadOnlyDictionary<string, string>? fields, ValidationErrors errors)
    {
        if (fields is null || fields.Count == 0)
        {
            return baseline;
        }

        var result = baseline;
        foreach (var (rawKey, rawValue) in fields)
        {
            var key = TargetFilter.Keys.FirstOrDefault(k => string.Equals(k, rawKey, StringComparison.OrdinalIgnoreCase));
            if (key is null)
            {
                errors.Add("target." + rawKey, $"Unknown target field '{rawKey}' (known: {string.Join(", ", TargetFilter.Keys)}).");
                continue;
            }

            var value = string.IsNullOrWhiteSpace(rawValue) ? null : rawValue.Trim();
            if (value is { Length: > MaxTargetValueLength })
            {
                errors.Add("target." + key, $"'{key}' is {value.Length} characters long; a target value has at most {MaxTargetValueLength}.");
                continue;
            }

            double? percentage = null;
            if (key == "percentage" && value is not null)
            {
                if (!ParameterParser.TryParseDouble(value.TrimEnd('%'), out var p) || p is < 0 or > 100)
                {
                    errors.Add("target.percentage", $"'percentage' must be a number from 0 to 100, not '{rawValue}'.");
                    continue;
                }

                percentage = p;
            }

            result = key switch
            {
                "grainInterface" => result with { GrainInterface = value },
                "grainMethod" => result with { GrainMethod = value },
                "grainKey" => result with { GrainKey = value },
                "repositoryOperation" => result with { RepositoryOperation = value },
                "route" => result with { Route = value },
                "service" => result with { Service = value },
                "sku" => result with { Sku = value },
                "remoteHost" => result with { RemoteHost = value },
                _ => result with { Percentage = percentage },
            };
        }

        return result;
    }

    /// <summary>
    /// A "service" target must name a kind of process or match a process that polls this control plane: a name that
    /// matches nothing ("silo-99") would switch nothing on. Until some process has polled (a lab still starting, a
    /// plane without processes) there is nothing to check against, and any name is taken.
    /// </summary>
    private void CheckService(TargetFilter target, ValidationErrors errors)
    {
        var now = time.GetUtcNow();
        var present = _seen.Values.Where(seen => now - seen.At <= ServiceSeenFor).Select(seen => seen.Service).ToList();
        if (target.Service is null || present.Count == 0 || present.Any(target.MatchesService)
            || Enum.GetNames<ServiceKind>().Contains(target.Service, StringComparer.OrdinalIgnoreCase))
        {
            return;
        }

        errors.Add("target.service", $"'{target.Service}' matches no process of this lab (processes: " +
            $"{string.Join(", ", present.Select(s => s.Name).Order(StringComparer.Ordinal))}; kinds: {string.Join(", ", Enum.GetNames<ServiceKind>().Select(k => k.ToLowerInvariant()))}).");
    }

    private TimeSpan ParseTtl(string? text, TimeSpan fallback, ValidationErrors errors)
    {
        if (text is null)
        {
            return fallback;
        }

        if (!ParameterParser.TryParseDuration(text, out var ttl) || ttl <= TimeSpan.Zero)
        {
            errors.Add("ttl", $"'ttl' must be a positive duration such as 30s, 5m or 1h, not '{text}'.");
            return fallback;
        }

        if (ttl > options.MaxTtl)
        {
            errors.Add("ttl", $"'ttl' is {text}, above the maximum {Format(options.MaxTtl)}.");
            return fallback;
        }

        return ttl;
    }

    private ControlResult? Reject(Scenario scenario, ScenarioActivation candidate, ValidationErrors errors, ActiveScenarioSet set)
    {
        if (errors.IsEmpty)
        {
            scenario.Validate(candidate, options.Caps, errors);
        }

        if (errors.IsEmpty)
        {
            // Every process compiles the scenario's seam regressions from the set; one it cannot compile must not enter it.
            try
            {
                SeamRegressions.SeamsSetBy(scenario, candidate);
            }
            catch (InvalidOperationException ex)
            {
                errors.Add("scenario", ex.Message);
            }
        }

        return errors.IsEmpty
            ? null
            : new ControlResult(ControlOutcome.Invalid, null, set.Version, errors.ToDictionary().ToImmutableDictionary(), $"The request for '{scenario.Meta.Name}' is invalid; nothing changed.");
    }

    private static ImmutableArray<ScenarioActivation> Without(ActiveScenarioSet set, string name) =>
        set.Activations.RemoveAll(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase));

    private ControlResult UnknownScenario(string name, ActiveScenarioSet set) =>
        new(ControlOutcome.UnknownScenario, null, set.Version, null,
            $"No scenario is named '{name}'. Known: {string.Join(", ", registry.All.Select(s => s.Meta.Name))}.");

    private static ControlResult NotActive(string name, ActiveScenarioSet set) =>
        new(ControlOutcome.NotActive, null, set.Version, null, $"Scenario '{name}' is not active.");

    private static ScenarioHistoryEntry History(HistoryAction action, ScenarioActivation a, DateTimeOffset at, string actor, string? detail) =>
        new(at, action, a.Name, actor, a.Parameters, a.Target.ToString(), a.Version, detail);

    private async Task<ActiveScenarioSet> LoadAsync(CancellationToken ct)
    {
        // A fresh state starts its versions at the clock, so pollers that saw an older state never mistake it for unchanged.
        return _set ??= await store.LoadAsync(ct) ?? new ActiveScenarioSet(time.GetUtcNow().ToUnixTimeMilliseconds(), []);
    }

    private async Task CommitAsync(ActiveScenarioSet next, IReadOnlyList<ScenarioHistoryEntry> history, CancellationToken ct)
    {
        await store.SaveAsync(next, ct);
        _set = next;
        await store.AppendHistoryAsync(history, ct);
    }

    private static long NewSeed() => Random.Shared.NextInt64(1, int.MaxValue);

    internal static string Format(TimeSpan t) =>
        t.TotalHours >= 1 && t.TotalHours == Math.Floor(t.TotalHours) ? $"{t.TotalHours:0}h"
        : t.TotalMinutes >= 1 && t.TotalMinutes == Math.Floor(t.TotalMinutes) ? $"{t.TotalMinutes:0}m"
        : t.TotalSeconds >= 1 && t.TotalSeconds == Math.Floor(t.TotalSeconds) ? $"{t.TotalSeconds:0}s"
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0.###}ms");
}
