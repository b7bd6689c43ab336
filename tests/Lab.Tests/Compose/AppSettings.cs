using System.Collections;
using System.Reflection;
using System.Text;
using Lab.Cli.Launch;
using Lab.Data;
using Lab.Grains;
using Lab.Scenarios;
using Orleans.Configuration;

namespace Lab.Tests.Compose;

/// <summary>The lab's processes as compose builds them: which Dockerfile, which program folder.</summary>
public enum LabApp
{
    Silo,
    Storefront,
    Payments,
    Cli,
}

/// <summary>
/// The settings agreed for the compose lab with the PostgreSQL provider and clustering work (issue 6). They are
/// accepted here even while the code does not bind them yet; once it does, <see cref="AppSettings"/> finds them in
/// the options classes as well, and <see cref="ComposeFileTests"/> reports which are still only promised.
/// </summary>
public static class ComposeSettingsContract
{
    public static readonly IReadOnlyDictionary<string, LabApp[]> Keys = new Dictionary<string, LabApp[]>(StringComparer.OrdinalIgnoreCase)
    {
        // Which store: "Postgres" in compose, SQLite otherwise.
        ["Database:Provider"] = [LabApp.Silo, LabApp.Payments],
        // "AdoNet": membership in PostgreSQL, for the silos and for the storefront's gateway list.
        ["Orleans:Clustering"] = [LabApp.Silo, LabApp.Storefront],
        ["Orleans:ClusteringConnectionString"] = [LabApp.Silo, LabApp.Storefront],
        // The host name a silo advertises to the others (its compose service name).
        ["Orleans:AdvertisedHost"] = [LabApp.Silo],
    };
}

/// <summary>
/// What each process really reads: configuration keys derived by reflection from the options classes it binds
/// (section + property path, arrays by index, nested classes recursively), the keys it reads directly, and
/// environment variables whose names occur as string literals in the assemblies of its program folder (the
/// OpenTelemetry SDK's OTEL_* variables, LAB_TOKEN...). A misspelt setting matches none of these.
/// </summary>
public static class AppSettings
{
    /// <summary>Read by the .NET host itself (prefix + host key), not spelled out as one literal anywhere.</summary>
    private static readonly HashSet<string> HostVariables = new(StringComparer.Ordinal)
    {
        "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS",
    };

    private static readonly Dictionary<string, List<byte[]>> AssemblyBytes = new();

    public static string ProgramFolder(LabApp app)
    {
        var silo = Path.GetDirectoryName(LabPaths.Silo)!;
        return app switch
        {
            LabApp.Silo => silo,
            LabApp.Storefront => Path.GetDirectoryName(LabPaths.Storefront)!,
            LabApp.Payments => Path.GetDirectoryName(LabPaths.Payments)!,
            // Same configuration and framework folder as the silo's build.
            LabApp.Cli => Path.Combine(LabPaths.RepositoryRoot, "clients", "Lab.Cli", "bin",
                new DirectoryInfo(silo).Parent!.Name, new DirectoryInfo(silo).Name),
            _ => throw new ArgumentOutOfRangeException(nameof(app)),
        };
    }

    /// <summary>The options classes (with their sections) and direct keys each process binds, as its Program.cs does.</summary>
    public static IReadOnlyList<(string Section, Type Options)> OptionsOf(LabApp app) => app switch
    {
        LabApp.Silo =>
        [
            ("Orleans", AppType(app, "Lab.Silo.SiloHostOptions")),
            ("Orleans:Scheduling", typeof(SchedulingOptions)),
            (DatabaseOptions.Section, typeof(DatabaseOptions)),
            (SeedOptions.Section, typeof(SeedOptions)),
            (ShopOptions.Section, typeof(ShopOptions)),
            (PaymentsClientOptions.Section, typeof(PaymentsClientOptions)),
            (LabScenarioOptions.SectionName, typeof(LabScenarioOptions)),
        ],
        LabApp.Storefront =>
        [
            ("Orleans", AppType(app, "Lab.Storefront.ClusterClientOptions")),
            (LabScenarioOptions.SectionName, typeof(LabScenarioOptions)),
        ],
        LabApp.Payments =>
        [
            (DatabaseOptions.Section, typeof(DatabaseOptions)),
            (LabScenarioOptions.SectionName, typeof(LabScenarioOptions)),
        ],
        LabApp.Cli => [],
        _ => throw new ArgumentOutOfRangeException(nameof(app)),
    };

    /// <summary>Keys read with configuration["..."] rather than through an options class.</summary>
    private static readonly string[] DirectKeys = ["Lab:ServiceName"];

    /// <summary>Why <paramref name="variable"/> (an environment variable name as compose sets it) is read by the app, or null if it is not.</summary>
    public static string? Explain(LabApp app, string variable, bool acceptContract = true)
    {
        if (HostVariables.Contains(variable))
        {
            return "read by the .NET host";
        }

        var key = variable.Replace("__", ":", StringComparison.Ordinal);
        if (app != LabApp.Cli)
        {
            if (DirectKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                return "read directly from the configuration";
            }

            foreach (var (section, options) in OptionsOf(app))
            {
                if (key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase)
                    && Binds(options, key[(section.Length + 1)..].Split(':')))
                {
                    return $"{options.Name} (section {section})";
                }
            }

            if (acceptContract && ComposeSettingsContract.Keys.TryGetValue(key, out var apps) && apps.Contains(app))
            {
                return "the PostgreSQL settings contract";
            }
        }

        // An environment variable read by name: its name is a string literal in the program's code.
        if (!variable.Contains("__", StringComparison.Ordinal) && variable == variable.ToUpperInvariant()
            && OccursInAssemblies(app, variable))
        {
            return "named in the program's assemblies";
        }

        return null;
    }

    /// <summary>Whether binding <paramref name="options"/> fills something at <paramref name="path"/>.</summary>
    public static bool Binds(Type options, IReadOnlyList<string> path)
    {
        if (path.Count == 0)
        {
            return IsScalar(options);
        }

        var property = options.GetProperty(path[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || property.GetIndexParameters().Length > 0)
        {
            return false;
        }

        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        var rest = path.Skip(1).ToArray();
        if (IsScalar(type))
        {
            return rest.Length == 0 && property.CanWrite;
        }

        if (ElementType(type) is { } element)
        {
            return rest.Length >= 1 && int.TryParse(rest[0], out _) && Binds(element, rest[1..]);
        }

        if (typeof(IDictionary).IsAssignableFrom(type))
        {
            return rest.Length >= 1;
        }

        return rest.Length > 0 && Binds(type, rest);
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(Uri) || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid);

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        return type.IsGenericType && type.GetGenericTypeDefinition() is var definition
               && (definition == typeof(List<>) || definition == typeof(IList<>) || definition == typeof(IReadOnlyList<>)
                   || definition == typeof(IEnumerable<>) || definition == typeof(ICollection<>))
            ? type.GetGenericArguments()[0]
            : null;
    }

    /// <summary>A type of a program the tests do not reference (silo, storefront), loaded from its build output.</summary>
    private static Type AppType(LabApp app, string fullName)
    {
        var assemblyName = fullName[..fullName.LastIndexOf('.')];
        var path = Path.Combine(ProgramFolder(app), assemblyName + ".dll");
        return Assembly.LoadFrom(path).GetType(fullName, throwOnError: true)!;
    }

    private static bool OccursInAssemblies(LabApp app, string literal)
    {
        var folder = ProgramFolder(app);
        List<byte[]> assemblies;
        lock (AssemblyBytes)
        {
            if (!AssemblyBytes.TryGetValue(folder, out assemblies!))
            {
                assemblies = Directory.EnumerateFiles(folder, "*.dll").Select(File.ReadAllBytes).ToList();
                AssemblyBytes[folder] = assemblies;
            }
        }

        // String literals live in the metadata's user-string heap as UTF-16, each preceded by its length in bytes
        // plus one (one byte below 128): requiring it matches whole literals, not a prefix of a longer name.
        var needle = Encoding.Unicode.GetBytes(literal);
        return needle.Length + 1 < 0x80 && assemblies.Any(bytes => ContainsLiteral(bytes, needle));
    }

    private static bool ContainsLiteral(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> needle)
    {
        for (var offset = 0; offset < bytes.Length;)
        {
            var found = bytes[offset..].IndexOf(needle);
            if (found < 0)
            {
                return false;
            }

            var at = offset + found;
            if (at > 0 && bytes[at - 1] == needle.Length + 1)
            {
                return true;
            }

            offset = at + 1;
        }

        return false;
    }
}
