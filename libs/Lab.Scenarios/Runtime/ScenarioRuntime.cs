using System.Collections.Immutable;

namespace Lab.Scenarios;

/// <summary>
/// The process-wide scenario runtime every hook calls. With nothing active a hook costs one volatile read
/// and a branch:
/// <code>
/// if (ScenarioRuntime.IsActiveAt(HookPoint.Repository))
/// {
///     var ctx = new HookContext(HookPoint.Repository, identity) { RepositoryOperation = "inventory.reserve", Statement = sql, Carrier = command };
///     await ScenarioRuntime.InvokeAsync(ctx, ct);
///     sql = ctx.Statement!;
/// }
/// </code>
/// The snapshot is swapped by <see cref="ScenarioRuntimeHost"/> (fed by <see cref="ScenarioSync"/>). The set is
/// cluster-wide, so processes hosting several silos (test clusters) share it; targeting by service uses the
/// <see cref="HookContext.Service"/> of each call.
/// </summary>
public static class ScenarioRuntime
{
    /// <summary>
    /// The environment form of the configuration key <c>Lab:Scenarios:Bypass</c>. Read once, when this class is
    /// first touched: with "true" every hook is bypassed for the life of the process (the hosting extensions
    /// register no filter, middleware, handler or sync, and every hook site's check is constant false). For
    /// measuring what the idle hooks cost against the same build without them.
    /// </summary>
    public const string BypassVariable = "Lab__Scenarios__Bypass";

    // static readonly: once the class is initialised the JIT treats it as a constant, so the check costs nothing
    // and, when true, removes the hook code behind it.
    private static readonly bool s_bypassed = bool.TryParse(Environment.GetEnvironmentVariable(BypassVariable), out var bypass) && bypass;

    private static volatile RuntimeState? s_state;

    /// <summary>True when this process runs with every hook bypassed (<see cref="BypassVariable"/>); snapshots are then ignored.</summary>
    public static bool IsBypassed => s_bypassed;

    /// <summary>True when no scenario is active: the hook's fast path.</summary>
    public static bool IsIdle => s_bypassed || s_state is null;

    /// <summary>True when some active scenario acts at <paramref name="point"/>; false costs one volatile read.</summary>
    public static bool IsActiveAt(HookPoint point) => !s_bypassed && s_state is { } state && state.ForPoint(point).Length > 0;

    /// <summary>The snapshot currently applied in this process.</summary>
    public static ActiveScenarioSet Current => s_state?.Set ?? ActiveScenarioSet.Empty;

    /// <summary>Active and not yet expired, for the active-scenarios gauge.</summary>
    public static int ActiveCount => s_state is { } state ? state.CountLive() : 0;

    /// <summary>Names of the scenarios active and not yet expired, for the per-scenario activation gauge.</summary>
    public static IEnumerable<string> LiveNames() => s_state is { } state ? state.LiveNames() : [];

    /// <summary>
    /// Runs every active scenario that applies to the call described by <paramref name="ctx"/>: each may delay,
    /// throw (the exception propagates to the hook site, which lets it fail the real call) or set an outcome
    /// on <paramref name="ctx"/>. Expired activations are skipped at once.
    /// </summary>
    public static ValueTask InvokeAsync(HookContext ctx, CancellationToken ct = default)
    {
        var state = s_state;
        if (s_bypassed || state is null)
        {
            return ValueTask.CompletedTask;
        }

        var entries = state.ForPoint(ctx.Point);
        return entries.Length == 0 ? ValueTask.CompletedTask : state.InvokeAsync(entries, ctx, ct);
    }

    /// <summary>
    /// The variant a live activation puts in place of the shop's own for <paramref name="seam"/> here; false when none
    /// does (idle: one volatile read). A regression used tags the current span and counts, like an injection.
    /// </summary>
    internal static bool TryRegressed(Seam seam, ServiceIdentity service, string? subject, out object variant)
    {
        var state = s_state;
        if (s_bypassed || state is null || state.Regressions.Count == 0)
        {
            variant = null!;
            return false;
        }

        return state.TryRegressed(seam, service, subject, out variant);
    }

    /// <summary>The clock skew active for <paramref name="service"/>: the sum over active <see cref="IClockSkewScenario"/>s.</summary>
    public static TimeSpan ClockSkew(ServiceIdentity service)
    {
        var state = s_state;
        return s_bypassed || state is null || state.ClockScenarios.Length == 0 ? TimeSpan.Zero : state.ClockSkew(service);
    }

    /// <summary>Makes <paramref name="set"/> the active snapshot (an empty set makes the runtime idle).</summary>
    public static void Apply(ActiveScenarioSet set, ScenarioRegistry registry, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(set);
        ScenarioTelemetry.EnsureRegistered();
        if (s_bypassed)
        {
            return;
        }

        s_state = set.Activations.IsDefaultOrEmpty ? null : new RuntimeState(set, registry, time, s_state);
    }

    /// <summary>Back to idle.</summary>
    public static void Clear() => s_state = null;

    /// <summary>A compiled snapshot: scenarios resolved, entries grouped by hook point.</summary>
    private sealed class RuntimeState
    {
        private readonly Entry[][] _byPoint;
        private readonly TimeProvider _time;
        private readonly Entry[] _all;

        public RuntimeState(ActiveScenarioSet set, ScenarioRegistry registry, TimeProvider time, RuntimeState? previous)
        {
            Set = set;
            _time = time;
            var entries = new List<Entry>();
            foreach (var activation in set.Activations)
            {
                // A process may lack a scenario assembly (payments knows no shop scenario): skip what it cannot run.
                if (registry.Find(activation.Name) is not { } scenario)
                {
                    continue;
                }

                // Keep the random stream of an unchanged activation, so a snapshot swap does not restart its sequence.
                var random = previous?._all.FirstOrDefault(e => e.Activation.Name == activation.Name && e.Activation.Version == activation.Version)?.Random
                    ?? new ActivationRandom(activation.Seed);
                entries.Add(new Entry(scenario, activation, random));
            }

            _all = [.. entries];
            _byPoint = new Entry[Enum.GetValues<HookPoint>().Length][];
            foreach (var point in Enum.GetValues<HookPoint>())
            {
                _byPoint[(int)point] = point == HookPoint.Process
                    ? []
                    : _all.Where(e => e.Scenario.Meta.Targets.Contains(point)).ToArray();
            }

            ClockScenarios = [.. _all.Where(e => e.Scenario is IClockSkewScenario)];
            Regressions = CompileRegressions(_all);
        }

        /// <summary>Per seam, the variants the active scenarios put in its place, in activation order.</summary>
        public IReadOnlyDictionary<Seam, SeamEntry[]> Regressions { get; }

        private static Dictionary<Seam, SeamEntry[]> CompileRegressions(Entry[] entries)
        {
            var bySeam = new Dictionary<Seam, List<SeamEntry>>();
            foreach (var entry in entries)
            {
                var regressions = new SeamRegressions(entry.Scenario.Meta);
                entry.Scenario.Regress(entry.Activation, regressions);
                foreach (var regression in regressions.Items)
                {
                    if (!bySeam.TryGetValue(regression.Seam, out var list))
                    {
                        bySeam[regression.Seam] = list = [];
                    }

                    list.Add(new SeamEntry(entry.Activation, regression));
                }
            }

            return bySeam.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray());
        }

        public bool TryRegressed(Seam seam, ServiceIdentity service, string? subject, out object variant)
        {
            if (Regressions.TryGetValue(seam, out var candidates))
            {
                var now = _time.GetUtcNow();
                foreach (var candidate in candidates)
                {
                    var regression = candidate.Regression;
                    if (candidate.Activation.IsExpired(now)
                        || (!regression.Everywhere && !candidate.Activation.Target.MatchesService(service))
                        || (regression.AppliesTo is { } applies && !applies(subject)))
                    {
                        continue;
                    }

                    ScenarioTelemetry.RecordRegression(seam, service, candidate.Activation);
                    variant = regression.Variant;
                    return true;
                }
            }

            variant = null!;
            return false;
        }

        public ActiveScenarioSet Set { get; }

        public ImmutableArray<Entry> ClockScenarios { get; }

        public Entry[] ForPoint(HookPoint point) => _byPoint[(int)point];

        public int CountLive()
        {
            var now = _time.GetUtcNow();
            return _all.Count(e => !e.Activation.IsExpired(now));
        }

        public IEnumerable<string> LiveNames()
        {
            var now = _time.GetUtcNow();
            return _all.Where(e => !e.Activation.IsExpired(now)).Select(e => e.Activation.Name);
        }

        public TimeSpan ClockSkew(ServiceIdentity service)
        {
            var now = _time.GetUtcNow();
            var skew = TimeSpan.Zero;
            foreach (var e in ClockScenarios)
            {
                if (!e.Activation.IsExpired(now) && e.Activation.Target.MatchesService(service))
                {
                    skew += ((IClockSkewScenario)e.Scenario).GetSkew(e.Activation);
                }
            }

            return skew;
        }

        public async ValueTask InvokeAsync(Entry[] entries, HookContext ctx, CancellationToken ct)
        {
            var now = _time.GetUtcNow();
            ctx.Now = now;
            foreach (var e in entries)
            {
                var activation = e.Activation;
                if (activation.IsExpired(now))
                {
                    continue;
                }

                ctx.Random = e.Random;
                if (!e.Scenario.IsApplicable(ctx, activation))
                {
                    continue;
                }

                if (activation.Target.Percentage is { } percentage && !e.Random.Chance(percentage / 100))
                {
                    continue;
                }

                if (!e.Scenario.TryClaim(ctx, activation))
                {
                    continue;
                }

                ScenarioTelemetry.RecordInjection(ctx, activation);
                ctx.MarkApplied(activation.Name);
                // No ConfigureAwait(false): in a grain filter the continuation must stay on the grain's scheduler.
                await e.Scenario.ApplyAsync(ctx, activation, ct);
            }
        }
    }

    private sealed record Entry(Scenario Scenario, ScenarioActivation Activation, ActivationRandom Random);

    private sealed record SeamEntry(ScenarioActivation Activation, SeamRegression Regression);
}

/// <summary>A scenario that shifts the wall clock seen through <see cref="ScenarioTimeProvider"/> (clock-skew).</summary>
public interface IClockSkewScenario
{
    TimeSpan GetSkew(ScenarioActivation activation);
}
