using System.Reflection;
using Lab.Scenarios.Shop;
using Lab.Shop;
using Microsoft.Extensions.DependencyInjection;

namespace Lab.Scenarios.Catalog;

/// <summary>
/// The lab's scenario catalog: the engine's generic scenarios and the shop's. Processes add it at their composition root
/// (<c>AddLabScenarioCatalog()</c>), so the shop's own code never names a scenario.
/// </summary>
public static class ScenarioCatalog
{
    /// <summary>The assemblies whose scenarios make up the catalog (the engine's own is always included).</summary>
    public static IReadOnlyList<Assembly> Assemblies { get; } = [ShopScenarios.Assembly];

    /// <summary>The seams the catalog's scenarios may regress.</summary>
    public static IReadOnlyList<Seam> Seams => ShopSeams.All;

    /// <summary>The whole catalog, outside a host (the CLI's experiments and docs, tests).</summary>
    public static ScenarioRegistry CreateRegistry() => ScenarioRegistry.FromAssemblies(Assemblies);

    /// <summary>Adds the catalog's assemblies to the registry of <c>AddLabScenarios</c>.</summary>
    public static IServiceCollection AddLabScenarioCatalog(this IServiceCollection services)
    {
        var scenarios = new LabScenariosBuilder(services);
        foreach (var assembly in Assemblies)
        {
            scenarios.AddScenariosFrom(assembly);
        }

        return services;
    }

    /// <summary>docs/scenarios.md, as <c>lab scenario docs</c> writes it.</summary>
    public static string RenderDocs() => ScenarioDocs.Render(CreateRegistry(), Seams);
}
