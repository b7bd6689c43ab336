using Lab.Scenarios.Catalog;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Lab.Tests.Support;

/// <summary>
/// Marks the test class that proves <see cref="Scenarios"/>: traits <c>Scenario=NAME</c>, and <c>Store=independent</c> when
/// none of them touches the store (derived from each scenario's hook points and seams, <c>ScenarioMeta.TouchesStore</c>), so
/// that .ci/run tests it once, on SQLite, instead of again on PostgreSQL.
/// </summary>
[TraitDiscoverer("Lab.Tests.Support.ScenarioTestDiscoverer", "Lab.Tests")]
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ScenarioTestAttribute(params string[] scenarios) : Attribute, ITraitAttribute
{
    public IReadOnlyList<string> Scenarios { get; } = scenarios;
}

public sealed class ScenarioTestDiscoverer : ITraitDiscoverer
{
    public const string Trait = "Scenario";

    private static readonly Lazy<Lab.Scenarios.ScenarioRegistry> Catalog = new(ScenarioCatalog.CreateRegistry);

    public IEnumerable<KeyValuePair<string, string>> GetTraits(IAttributeInfo traitAttribute)
    {
        var names = traitAttribute.GetConstructorArguments().OfType<string[]>().SingleOrDefault() ?? [];
        foreach (var name in names)
        {
            yield return new(Trait, name);
        }

        if (!TouchesStore(names))
        {
            yield return new(TestStore.Trait, TestStore.Independent);
        }
    }

    /// <summary>Whether any of the scenarios touches the store; a name the catalog does not know counts as touching it (tested everywhere).</summary>
    public static bool TouchesStore(IEnumerable<string> names)
    {
        return names.Any(name => Catalog.Value.Find(name) is not { } scenario || scenario.Meta.TouchesStore(ScenarioCatalog.Seams));
    }
}
