using Lab.Clustering;
using Lab.Shop;
using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
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
    public static IReadOnlyList<(string Section, OptionsShape Options)> OptionsOf(LabApp app) => app switch
    {
        LabApp.Silo =>
        [
            (LabClusterOptions.Section, OptionsShape.Of<LabClusterOptions>()),
            ("Orleans:Scheduling", OptionsShape.Of<SchedulingOptions>()),
            (ResilienceOptions.Section, OptionsShape.Of<ResilienceOptions>()),
            (DatabaseOptions.Section, OptionsShape.Of<DatabaseOptions>()),
            (SeedOptions.Section, OptionsShape.Of<SeedOptions>()),
            (ShopOptions.Section, OptionsShape.Of<ShopOptions>()),
            (PaymentsClientOptions.Section, OptionsShape.Of<PaymentsClientOptions>()),
            (LabScenarioOptions.SectionName, OptionsShape.Of<LabScenarioOptions>()),
        ],
        LabApp.Storefront =>
        [
            (LabClusterOptions.Section, OptionsShape.Of<LabClusterOptions>()),
            (ResilienceOptions.Section, OptionsShape.Of<ResilienceOptions>()),
            (Lab.PageCache.ProductCacheOptions.Section, OptionsShape.Of<Lab.PageCache.ProductCacheOptions>()),
            (LabScenarioOptions.SectionName, OptionsShape.Of<LabScenarioOptions>()),
        ],
        LabApp.Payments =>
        [
            (Lab.Payments.PaymentsOptions.Section, OptionsShape.Of<Lab.Payments.PaymentsOptions>()),
            (DatabaseOptions.Section, OptionsShape.Of<DatabaseOptions>()),
            (ResilienceOptions.Section, OptionsShape.Of<ResilienceOptions>()),
            (LabScenarioOptions.SectionName, OptionsShape.Of<LabScenarioOptions>()),
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
                    && options.Binds(key[(section.Length + 1)..].Split(':')))
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

    /// <summary>Whether binding a property of <paramref name="type"/> fills something at <paramref name="rest"/> below it.</summary>
    public static bool BindsValue(Type type, bool canWrite, IReadOnlyList<string> rest)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(type))
        {
            return rest.Count == 0 && canWrite;
        }

        if (ElementType(type) is { } element)
        {
            return rest.Count >= 1 && int.TryParse(rest[0], out _) && BindsValue(element, canWrite: true, rest.Skip(1).ToArray());
        }

        if (typeof(IDictionary).IsAssignableFrom(type))
        {
            return rest.Count >= 1;
        }

        return rest.Count > 0 && OptionsShape.Of(type).Binds(rest);
    }

    internal static bool IsScalar(Type type) =>
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

/// <summary>The bindable properties of an options class: name -> (type, has a public setter).</summary>
public sealed class OptionsShape(string name, IReadOnlyDictionary<string, (Type Type, bool CanWrite)> properties)
{
    public string Name { get; } = name;

    public static OptionsShape Of<T>() => Of(typeof(T));

    public static OptionsShape Of(Type type) => new(type.Name, type
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(property => property.GetIndexParameters().Length == 0)
        .ToDictionary(property => property.Name, property => (property.PropertyType, property.SetMethod?.IsPublic == true),
            StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// An options class of a program the tests do not reference (silo, storefront), read from its build output's
    /// metadata without loading the assembly (a loaded program assembly could change what Orleans discovers in the
    /// test process's own clusters).
    /// </summary>
    public static OptionsShape FromProgram(string folder, string assembly, string fullName)
    {
        using var pe = new PEReader(File.OpenRead(Path.Combine(folder, assembly + ".dll")));
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(handle);
            if ($"{metadata.GetString(type.Namespace)}.{metadata.GetString(type.Name)}" != fullName)
            {
                continue;
            }

            var properties = new Dictionary<string, (Type, bool)>(StringComparer.OrdinalIgnoreCase);
            foreach (var propertyHandle in type.GetProperties())
            {
                var property = metadata.GetPropertyDefinition(propertyHandle);
                var typeName = property.DecodeSignature(new TypeNameProvider(), genericContext: null).ReturnType;
                var setter = property.GetAccessors().Setter;
                var canWrite = !setter.IsNil && (metadata.GetMethodDefinition(setter).Attributes & MethodAttributes.Public) == MethodAttributes.Public;
                properties[metadata.GetString(property.Name)] = (Type.GetType(typeName) ?? LibraryType(typeName)
                    ?? throw new InvalidDataException($"{fullName}.{metadata.GetString(property.Name)}: type {typeName} is not a framework or lab library type; extend the check"), canWrite);
            }

            return new OptionsShape(fullName, properties);
        }

        throw new InvalidDataException($"{fullName} is not in {assembly}.dll");
    }

    /// <summary>A type of one of the lab's libraries (Lab.Clustering.ClusteringMode is in Lab.Clustering.dll); unlike the programs, libraries are safe to load.</summary>
    private static Type? LibraryType(string typeName)
    {
        var parts = typeName.Split('.');
        for (var length = parts.Length - 1; length >= 2; length--)
        {
            if (Type.GetType($"{typeName}, {string.Join('.', parts[..length])}") is { } type)
            {
                return type;
            }
        }

        return null;
    }

    public bool Binds(IReadOnlyList<string> path) =>
        path.Count > 0 && properties.TryGetValue(path[0], out var property)
        && AppSettings.BindsValue(property.Type, property.CanWrite, path.Skip(1).ToArray());

    /// <summary>Assembly-qualified-enough type names from signatures: framework types, arrays and generics of them.</summary>
    private sealed class TypeNameProvider : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode switch
        {
            PrimitiveTypeCode.Boolean => "System.Boolean",
            PrimitiveTypeCode.Char => "System.Char",
            PrimitiveTypeCode.SByte => "System.SByte",
            PrimitiveTypeCode.Byte => "System.Byte",
            PrimitiveTypeCode.Int16 => "System.Int16",
            PrimitiveTypeCode.UInt16 => "System.UInt16",
            PrimitiveTypeCode.Int32 => "System.Int32",
            PrimitiveTypeCode.UInt32 => "System.UInt32",
            PrimitiveTypeCode.Int64 => "System.Int64",
            PrimitiveTypeCode.UInt64 => "System.UInt64",
            PrimitiveTypeCode.Single => "System.Single",
            PrimitiveTypeCode.Double => "System.Double",
            PrimitiveTypeCode.String => "System.String",
            PrimitiveTypeCode.Object => "System.Object",
            _ => typeCode.ToString(),
        };

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            var definition = reader.GetTypeDefinition(handle);
            return $"{reader.GetString(definition.Namespace)}.{reader.GetString(definition.Name)}";
        }

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            var reference = reader.GetTypeReference(handle);
            return $"{reader.GetString(reference.Namespace)}.{reader.GetString(reference.Name)}";
        }

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            $"{genericType}[{string.Join(",", typeArguments.Select(argument => $"[{argument}]"))}]";

        public string GetArrayType(string elementType, ArrayShape shape) => $"{elementType}[{new string(',', shape.Rank - 1)}]";

        public string GetByReferenceType(string elementType) => elementType + "&";

        public string GetPointerType(string elementType) => elementType + "*";

        public string GetPinnedType(string elementType) => elementType;

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

        public string GetFunctionPointerType(MethodSignature<string> signature) => "System.IntPtr";

        public string GetGenericMethodParameter(object? genericContext, int index) => $"!!{index}";

        public string GetGenericTypeParameter(object? genericContext, int index) => $"!{index}";

        public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
    }
}
