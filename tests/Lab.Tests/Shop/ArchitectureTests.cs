using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Lab.Cli.Launch;

using Lab.Tests.Support;

namespace Lab.Tests.Shop;

/// <summary>
/// Dependencies point one way: the scenario catalog knows the shop, the shop never names a scenario. Checked on the
/// compiled assemblies (the compiler references an assembly only when a type of it is used) and on the project files.
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
public sealed class ArchitectureTests
{
    private const string ShopCatalog = "Lab.Scenarios.Shop";
    private const string Composition = "Lab.Scenarios.Catalog";

    public static TheoryData<string, string[]> ShopAssemblies => new()
    {
        // Libraries: neither the catalog nor the composition that names it.
        { "Lab.Shop", [ShopCatalog, Composition] },
        { "Lab.Data", [ShopCatalog, Composition] },
        { "Lab.Grains", [ShopCatalog, Composition] },
        // The services' Program.cs compose the catalog into the process; no other code of theirs may use a scenario.
        { "Lab.Storefront", [ShopCatalog] },
        { "Lab.Payments", [ShopCatalog] },
    };

    [Theory]
    [MemberData(nameof(ShopAssemblies))]
    public void Shop_assemblies_reference_no_scenario_catalog(string assembly, string[] forbidden)
    {
        var references = ReferencesOf(FindAssembly(assembly));
        Assert.NotEmpty(references);
        Assert.DoesNotContain(references, forbidden.Contains);
    }

    [Theory]
    [InlineData("libs/Lab.Shop/Lab.Shop.csproj")]
    [InlineData("libs/Lab.Data/Lab.Data.csproj")]
    [InlineData("libs/Lab.Grains/Lab.Grains.csproj")]
    public void Shop_projects_reference_no_scenario_catalog(string project)
    {
        var references = XDocument.Load(Path.Combine(LabPaths.RepositoryRoot, project)).Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
            .ToList();
        Assert.DoesNotContain(ShopCatalog, references);
        Assert.DoesNotContain(Composition, references);
    }

    private static string FindAssembly(string name)
    {
        // Referenced projects are copied next to the tests; the storefront is built to its own folder.
        var local = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        return File.Exists(local) ? local : Path.Combine(Path.GetDirectoryName(LabPaths.Storefront)!, name + ".dll");
    }

    private static List<string> ReferencesOf(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        return metadata.AssemblyReferences.Select(handle => metadata.GetString(metadata.GetAssemblyReference(handle).Name)).ToList();
    }
}
