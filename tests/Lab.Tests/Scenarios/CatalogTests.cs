using System.Collections.Immutable;
using Lab.Cli;
using Lab.Cli.Launch;
using Lab.Scenarios;
using Lab.Scenarios.Catalog;

using Lab.Tests.Support;

namespace Lab.Tests.Scenarios;

/// <summary>The catalog documents itself and every scenario's declarations hold: its seams, its experiment, its docs.</summary>
[Trait(TestStore.Trait, TestStore.Independent)]
public sealed class CatalogTests
{
    private static readonly ScenarioRegistry Registry = ScenarioCatalog.CreateRegistry();

    public static TheoryData<string> Names => [.. Registry.All.Select(s => s.Meta.Name)];

    [Fact]
    public void The_committed_catalog_document_is_what_the_code_says()
    {
        InjectedFlake.FailOnce();
        var path = Path.Combine(LabPaths.RepositoryRoot, ScenarioDocsCommand.DefaultPath);
        Assert.True(File.Exists(path), $"{path} is missing: run `lab scenario docs`.");
        var committed = File.ReadAllText(path).ReplaceLineEndings("\n");
        // Assert.Equal on the whole text would print 40 KB; name the first line that differs instead.
        var expected = ScenarioCatalog.RenderDocs().Split('\n');
        var actual = committed.Split('\n');
        var first = Enumerable.Range(0, Math.Min(expected.Length, actual.Length)).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(first < 0 && expected.Length == actual.Length,
            $"docs/scenarios.md differs from the catalog's code (run `lab scenario docs`) at line {(first < 0 ? Math.Min(expected.Length, actual.Length) + 1 : first + 1)}: " +
            $"expected \"{(first < 0 ? "" : expected[first])}\", found \"{(first < 0 ? "" : actual[first])}\"");
    }

    [Fact]
    public void Every_scenario_has_a_test_class_that_proves_it_and_names_it_with_its_store_trait()
    {
        var proven = typeof(CatalogTests).Assembly.GetTypes()
            .SelectMany(type => type.GetCustomAttributes(typeof(ScenarioTestAttribute), inherit: false).Cast<ScenarioTestAttribute>()
                .SelectMany(attribute => attribute.Scenarios.Select(name => (Name: name, Type: type))))
            .ToList();
        Assert.All(proven, p => Assert.True(Registry.Find(p.Name) is not null, $"{p.Type.Name} names '{p.Name}', which the catalog does not have"));
        var missing = Registry.All.Select(s => s.Meta.Name).Except(proven.Select(p => p.Name)).ToList();
        Assert.True(missing.Count == 0, $"scenarios no [ScenarioTest] class proves: {string.Join(", ", missing)}");

        // The store trait follows the scenario: a repository hook or a seam bound to the store runs it on both stores.
        Assert.True(ScenarioTestDiscoverer.TouchesStore([Lab.Scenarios.Shop.NPlusOneQueryScenario.Name]));
        Assert.True(ScenarioTestDiscoverer.TouchesStore([Lab.Scenarios.Shop.ConnectionLeakScenario.Name])); // a seam bound to the store
        Assert.True(ScenarioTestDiscoverer.TouchesStore([Lab.Scenarios.Shop.SchemaDriftScenario.Name])); // workers on the database
        Assert.False(ScenarioTestDiscoverer.TouchesStore([Lab.Scenarios.Shop.HotGrainScenario.Name]));
        Assert.False(ScenarioTestDiscoverer.TouchesStore([CpuSpikeScenario.Name]));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_scenario_regresses_only_the_seams_it_declares_and_its_cure_restores_what_it_says(string name)
    {
        var scenario = Registry.Find(name)!;
        var meta = scenario.Meta;
        Assert.All(meta.Seams, use => Assert.Contains(ScenarioCatalog.Seams, seam => seam.Name == use.Seam));
        var set = new HashSet<string>();
        foreach (var parameters in Variations(meta))
        {
            var seams = SeamRegressions.SeamsSetBy(scenario, ActivationOf(meta, parameters));
            set.UnionWith(seams);
            if (parameters.GetValueOrDefault("cure") == "true")
            {
                Assert.DoesNotContain(meta.Seams, use => use.CureRestores && seams.Contains(use.Seam));
            }
        }

        // Every declared seam is regressed by some setting: the documentation names nothing the code does not do.
        Assert.All(meta.Seams, use => Assert.Contains(use.Seam, set));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_scenario_declares_an_experiment_whose_settings_its_schema_accepts(string name)
    {
        var scenario = Registry.Find(name)!;
        var spec = scenario.Experiment;
        Assert.Equal(name, spec.Scenario);
        Assert.NotEmpty(spec.Figures);
        Assert.NotEmpty(spec.SteadyState);
        Assert.Equal(scenario.Meta.FindParameter("cure") is not null, spec.Cure is not null);
        Assert.All(spec.Target.Keys, key => Assert.Contains(key, TargetFilter.Keys));
        foreach (var (key, value) in spec.Fault.Concat(spec.Cure ?? ImmutableDictionary<string, string>.Empty))
        {
            var parameter = scenario.Meta.FindParameter(key);
            Assert.True(parameter is not null, $"{name}'s experiment sets '{key}', which is not one of its parameters");
            Assert.Null(ParameterValidator.CheckValue(parameter, value, caps: null));
        }
    }

    /// <summary>The defaults, and each value of every bool and enum parameter on its own (cure on and off, each mode).</summary>
    private static IEnumerable<IReadOnlyDictionary<string, string>> Variations(ScenarioMeta meta)
    {
        var defaults = meta.Parameters.ToDictionary(p => p.Name, p => p.Default);
        yield return defaults;
        var choices = meta.Parameters.Where(p => p.Type is ParameterType.Bool or ParameterType.Enum).ToList();
        foreach (var choice in choices)
        {
            foreach (var value in choice.Type == ParameterType.Bool ? ["true", "false"] : choice.AllowedValues!)
            {
                var one = new Dictionary<string, string>(defaults) { [choice.Name] = value };
                yield return one;
                // Each value with the cure on and off, so a mode's cure is seen too.
                if (choice.Name != "cure" && defaults.ContainsKey("cure"))
                {
                    yield return new Dictionary<string, string>(one) { ["cure"] = one["cure"] == "true" ? "false" : "true" };
                }
            }
        }
    }

    private static ScenarioActivation ActivationOf(ScenarioMeta meta, IReadOnlyDictionary<string, string> parameters) =>
        new(meta.Name, parameters.ToImmutableDictionary(), TargetFilter.Everywhere, 1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(5), 1, "test");
}
