using System.Collections.Frozen;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Lab.Scenarios;

/// <summary>
/// Every scenario the lab knows, found by reflection: all non-abstract <see cref="Scenario"/> subclasses with
/// a public parameterless constructor in the given assemblies. Adding a scenario is adding one file.
/// Metas are checked when the registry is built, so a bad schema fails at start-up, not at enable time.
/// </summary>
public sealed partial class ScenarioRegistry
{
    /// <summary>Names that cannot be parameters because the API uses them next to the parameters.</summary>
    private static readonly string[] ReservedParameterNames = ["ttl", "seed", "target", "parameters"];

    private readonly FrozenDictionary<string, Scenario> _byName;

    public ScenarioRegistry(IEnumerable<Scenario> scenarios)
    {
        var list = scenarios.OrderBy(s => s.Meta.Name, StringComparer.Ordinal).ToArray();
        var byName = new Dictionary<string, Scenario>(StringComparer.OrdinalIgnoreCase);
        foreach (var scenario in list)
        {
            CheckMeta(scenario);
            if (!byName.TryAdd(scenario.Meta.Name, scenario))
            {
                throw new InvalidOperationException(
                    $"Two scenarios are named '{scenario.Meta.Name}': {byName[scenario.Meta.Name].GetType()} and {scenario.GetType()}.");
            }
        }

        All = list;
        _byName = byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Scenarios of the given assemblies (the engine's own assembly is always included).</summary>
    public static ScenarioRegistry FromAssemblies(IEnumerable<Assembly> assemblies)
    {
        var all = assemblies.Append(typeof(Scenario).Assembly).Distinct();
        var scenarios = all
            .SelectMany(a => a.GetTypes())
            .Where(t => t.IsClass && !t.IsAbstract && typeof(Scenario).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (Scenario)Activator.CreateInstance(t)!);
        return new ScenarioRegistry(scenarios);
    }

    public IReadOnlyList<Scenario> All { get; }

    public Scenario? Find(string name) => _byName.GetValueOrDefault(name);

    private static void CheckMeta(Scenario scenario)
    {
        var meta = scenario.Meta;
        var where = $"Scenario {scenario.GetType().FullName} ('{meta.Name}')";
        if (!KebabCase().IsMatch(meta.Name))
        {
            throw new InvalidOperationException($"{where}: the name must be kebab-case.");
        }

        if (meta.Targets.Count == 0)
        {
            throw new InvalidOperationException($"{where}: declares no hook point.");
        }

        if (meta.Seams.Select(use => use.Seam).Distinct().Count() != meta.Seams.Count)
        {
            throw new InvalidOperationException($"{where}: a seam is declared twice.");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in meta.Parameters)
        {
            if (!seen.Add(p.Name) || ReservedParameterNames.Contains(p.Name, StringComparer.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"{where}: parameter name '{p.Name}' is duplicated or reserved.");
            }

            if (!KebabCase().IsMatch(p.Name))
            {
                throw new InvalidOperationException($"{where}: parameter name '{p.Name}' must be kebab-case, like every other (--set {p.Name}=...).");
            }

            if (ParameterValidator.CheckValue(p, p.Default, caps: null) is { } problem)
            {
                throw new InvalidOperationException($"{where}: default of '{p.Name}' is invalid: {problem}");
            }
        }
    }

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex KebabCase();
}
