using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Lab.Tests.Compose;

/// <summary>docker-compose.yml read as plain data (anchors and merge keys resolved), with the questions the tests ask.</summary>
public sealed partial class ComposeModel
{
    private ComposeModel(string root, Dictionary<string, ComposeService> services, IReadOnlyList<string> volumes)
    {
        Root = root;
        Services = services;
        Volumes = volumes;
    }

    public string Root { get; }
    public IReadOnlyDictionary<string, ComposeService> Services { get; }
    public IReadOnlyList<string> Volumes { get; }

    public static ComposeModel Load(string root, string file = "docker-compose.yml")
    {
        // Interpolated as compose does with none of the variables set: ${NAME:-default} -> default.
        var text = Interpolation().Replace(File.ReadAllText(Path.Combine(root, file)), m => m.Groups[2].Value);
        using var reader = new StringReader(text);
        var document = (Dictionary<object, object>)new DeserializerBuilder().Build()
            .Deserialize<object>(new MergingParser(new Parser(reader)))!;
        var services = Map(document["services"]).ToDictionary(
            pair => pair.Key, pair => ComposeService.From(pair.Key, Map(pair.Value)));
        var volumes = document.TryGetValue("volumes", out var v) ? Map(v).Keys.ToList() : [];
        return new ComposeModel(root, services, volumes);
    }

    internal static Dictionary<string, object?> Map(object? node) =>
        node is Dictionary<object, object> map
            ? map.ToDictionary(pair => (string)pair.Key, pair => (object?)pair.Value)
            : throw new InvalidDataException($"Expected a mapping, found {node?.GetType().Name ?? "nothing"}.");

    internal static List<string> Strings(object? node) => node switch
    {
        null => [],
        List<object> list => list.Select(item => item?.ToString() ?? "").ToList(),
        string single => [single],
        _ => throw new InvalidDataException($"Expected a list, found {node.GetType().Name}."),
    };

    /// <summary>host:port pairs in a text (URLs, "targets", collector endpoints).</summary>
    public static IEnumerable<(string Host, int Port)> Endpoints(string text) =>
        EndpointPattern().Matches(text).Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value)));

    [GeneratedRegex(@"(?<![\w.-])([a-z][a-z0-9-]*):(\d{2,5})(?![\d.])")]
    private static partial Regex EndpointPattern();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")]
    private static partial Regex Interpolation();
}

public sealed record ComposeService(
    string Name,
    string? Image,
    string? BuildContext,
    string? Dockerfile,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<string> Command,
    IReadOnlyList<string> Ports,
    IReadOnlyList<int> Expose,
    IReadOnlyDictionary<string, string?> DependsOn,
    IReadOnlyList<string> Volumes,
    IReadOnlyList<string> Profiles,
    bool HasHealthcheck,
    string? MemLimit)
{
    public static ComposeService From(string name, Dictionary<string, object?> node)
    {
        string? context = null, dockerfile = null;
        if (node.TryGetValue("build", out var build) && build is not null)
        {
            var b = ComposeModel.Map(build);
            context = b.GetValueOrDefault("context")?.ToString() ?? ".";
            dockerfile = b.GetValueOrDefault("dockerfile")?.ToString() ?? "Dockerfile";
        }

        var environment = node.GetValueOrDefault("environment") switch
        {
            null => new Dictionary<string, string>(),
            Dictionary<object, object> map => map.ToDictionary(p => (string)p.Key, p => p.Value?.ToString() ?? ""),
            List<object> list => list.Select(item => item.ToString()!.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : ""),
            var other => throw new InvalidDataException($"{name}: environment is a {other.GetType().Name}."),
        };

        var dependsOn = node.GetValueOrDefault("depends_on") switch
        {
            null => new Dictionary<string, string?>(),
            List<object> list => list.ToDictionary(item => item.ToString()!, _ => (string?)null),
            Dictionary<object, object> map => map.ToDictionary(p => (string)p.Key,
                p => p.Value is null ? null : ComposeModel.Map(p.Value).GetValueOrDefault("condition")?.ToString()),
            var other => throw new InvalidDataException($"{name}: depends_on is a {other.GetType().Name}."),
        };

        var healthcheck = node.GetValueOrDefault("healthcheck") is Dictionary<object, object> check
                          && !(check.TryGetValue("disable", out var disabled) && disabled?.ToString() == "true");

        return new ComposeService(
            name,
            node.GetValueOrDefault("image")?.ToString(),
            context,
            dockerfile,
            environment,
            ComposeModel.Strings(node.GetValueOrDefault("command")),
            ComposeModel.Strings(node.GetValueOrDefault("ports")),
            ComposeModel.Strings(node.GetValueOrDefault("expose")).Select(int.Parse).ToList(),
            dependsOn,
            ComposeModel.Strings(node.GetValueOrDefault("volumes")),
            ComposeModel.Strings(node.GetValueOrDefault("profiles")),
            healthcheck,
            node.GetValueOrDefault("mem_limit")?.ToString());
    }

    /// <summary>The container port of each published port ("5100:8080" -> 8080).</summary>
    public IEnumerable<(int Host, int Container)> PublishedPorts() =>
        Ports.Select(port => port.Split(':')).Select(parts => (int.Parse(parts[^2]), int.Parse(parts[^1])));

    /// <summary>Bind mounts of files or folders of the repository: (host path relative to the compose file, container path).</summary>
    public IEnumerable<(string HostPath, string ContainerPath)> BindMounts() =>
        Volumes.Select(volume => volume.Split(':'))
            .Where(parts => parts[0].StartsWith('.') || parts[0].StartsWith('/'))
            .Select(parts => (parts[0], parts[1]));

    public IEnumerable<string> NamedVolumes() =>
        Volumes.Select(volume => volume.Split(':')).Where(parts => !parts[0].StartsWith('.') && !parts[0].StartsWith('/'))
            .Select(parts => parts[0]);
}

/// <summary>The instructions of a Dockerfile the tests look at.</summary>
public sealed record DockerfileModel(string Path, IReadOnlyList<(string Instruction, string Arguments)> Lines)
{
    public static DockerfileModel Load(string path)
    {
        var lines = new List<(string, string)>();
        var pending = "";
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.TrimEnd();
            if (pending.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            var full = (pending + line).Trim();
            pending = "";
            var space = full.IndexOf(' ');
            lines.Add(space < 0 ? (full.ToUpperInvariant(), "") : (full[..space].ToUpperInvariant(), full[(space + 1)..].Trim()));
        }

        return new DockerfileModel(path, lines);
    }

    public IEnumerable<string> Arguments(string instruction) =>
        Lines.Where(line => line.Instruction == instruction).Select(line => line.Arguments);

    /// <summary>The instructions of the last stage (the image that runs).</summary>
    public DockerfileModel FinalStage()
    {
        var start = Lines.Select((line, index) => (line, index)).Last(pair => pair.line.Instruction == "FROM").index;
        return this with { Lines = Lines.Skip(start).ToList() };
    }

    public IEnumerable<int> ExposedPorts() =>
        FinalStage().Arguments("EXPOSE").SelectMany(args => args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(port => int.Parse(port.Split('/')[0]));
}
