using System.Reflection;

namespace Lab.Cli.Launch;

/// <summary>Where the programs the launcher starts were built, recorded in the CLI at build time.</summary>
public static class LabPaths
{
    private static readonly Dictionary<string, string?> Metadata = typeof(LabPaths).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .ToDictionary(attribute => attribute.Key, attribute => attribute.Value);

    public static string RepositoryRoot => Metadata.GetValueOrDefault("LabRepositoryRoot") ?? Directory.GetCurrentDirectory();

    private static string Configuration => Metadata.GetValueOrDefault("LabConfiguration") ?? "Debug";

    public static string Silo => Program("silo", "Lab.Silo");

    public static string Storefront => Program("services", "Lab.Storefront");

    public static string Payments => Program("services", "Lab.Payments");

    /// <summary>The standalone Aspire dashboard from its NuGet package, or null where that package is not available.</summary>
    public static string? AspireDashboard
    {
        get
        {
            var package = Metadata.GetValueOrDefault("AspireDashboardPackage");
            var path = string.IsNullOrEmpty(package) ? null : Path.Combine(package, "tools", "Aspire.Dashboard");
            return path is not null && File.Exists(path) ? path : null;
        }
    }

    private static string Program(string folder, string name)
    {
        var executable = OperatingSystem.IsWindows() ? name + ".exe" : name;
        return Path.Combine(RepositoryRoot, folder, name, "bin", Configuration, "net10.0", executable);
    }
}
