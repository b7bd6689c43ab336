using System.Text.Json;
using System.Text.RegularExpressions;
using Lab.Cli.Launch;
using Xunit.Abstractions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

using Lab.Tests.Support;

namespace Lab.Tests.Compose;

/// <summary>
/// docker-compose.yml is consistent with the repository: images build from Dockerfiles and projects that exist,
/// every environment variable is a setting its process reads, ports, hosts and dependencies resolve, mounted files
/// exist, dashboards parse and use only provisioned data sources, and the memory limits fit the budget.
/// (`docker-compose config` in .ci/run checks the syntax; dashboards/check-promql.sh checks the queries.)
/// </summary>
[Trait(TestStore.Trait, TestStore.Independent)]
public sealed partial class ComposeFileTests(ITestOutputHelper output)
{
    /// <summary>The whole default lab must fit well under 2 GB (the issue's target).</summary>
    private const long MemoryBudgetBytes = 1856L << 20;

    private static readonly string Root = LabPaths.RepositoryRoot;
    private static readonly ComposeModel Compose = ComposeModel.Load(Root);

    private static IEnumerable<ComposeService> Built => Compose.Services.Values.Where(service => service.Dockerfile is not null);

    [Fact]
    public void Every_built_image_comes_from_a_dockerfile_and_project_that_exist_and_runs_unprivileged_with_a_health_check()
    {
        var failures = new List<string>();
        Assert.NotEmpty(Built);
        foreach (var service in Built)
        {
            var context = Path.GetFullPath(Path.Combine(Root, service.BuildContext!));
            var dockerfilePath = Path.Combine(context, service.Dockerfile!);
            if (!File.Exists(dockerfilePath))
            {
                failures.Add($"{service.Name}: no Dockerfile at {service.Dockerfile}");
                continue;
            }

            var dockerfile = DockerfileModel.Load(dockerfilePath);
            var project = PublishedProject(dockerfile);
            if (project is null || !File.Exists(Path.Combine(context, project)))
            {
                failures.Add($"{service.Name}: {service.Dockerfile} publishes '{project}', which does not exist");
            }
            else if (EntryAssembly(dockerfile) is var entry && entry != AssemblyName(Path.Combine(context, project)) + ".dll")
            {
                failures.Add($"{service.Name}: ENTRYPOINT runs {entry}, but {project} builds {AssemblyName(Path.Combine(context, project))}.dll");
            }

            foreach (var copy in dockerfile.Arguments("COPY").Where(args => !args.StartsWith("--from", StringComparison.Ordinal)))
            {
                var sources = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(part => !part.StartsWith("--")).SkipLast(1);
                failures.AddRange(sources.Where(source => !Path.Exists(Path.Combine(context, source)))
                    .Select(source => $"{service.Name}: COPY {source} names nothing in the build context"));
            }

            var final = dockerfile.FinalStage();
            var from = final.Arguments("FROM").Single();
            if (from.Contains("/sdk:", StringComparison.Ordinal))
            {
                failures.Add($"{service.Name}: the runtime stage is the SDK image ({from})");
            }

            var user = final.Arguments("USER").LastOrDefault();
            if (user is null or "root" or "0")
            {
                failures.Add($"{service.Name}: the image runs as root (USER {user ?? "not set"})");
            }

            if (!final.Arguments("HEALTHCHECK").Any())
            {
                failures.Add($"{service.Name}: no HEALTHCHECK in {service.Dockerfile}");
            }

            if (service.Image is null)
            {
                failures.Add($"{service.Name}: a built service needs an image name, so the three silos share one build");
            }
        }

        // Every Dockerfile in the repository is one compose builds.
        var used = Built.Select(service => Path.GetFullPath(Path.Combine(Root, service.BuildContext!, service.Dockerfile!))).ToHashSet();
        failures.AddRange(Directory.EnumerateFiles(Root, "Dockerfile", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !used.Contains(path))
            .Select(path => $"{Path.GetRelativePath(Root, path)} is not built by any service"));

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Every_environment_variable_of_a_lab_process_is_a_setting_that_process_reads()
    {
        var failures = new List<string>();
        var promised = new SortedSet<string>();
        foreach (var service in Built)
        {
            var app = AppOf(service);
            Assert.NotEmpty(service.Environment);
            foreach (var variable in service.Environment.Keys)
            {
                var why = AppSettings.Explain(app, variable);
                output.WriteLine($"{service.Name,-11} {variable,-42} {why ?? "READ BY NOTHING"}");
                if (why is null)
                {
                    failures.Add($"{service.Name}: {variable} is not a setting {app} reads (no options property, direct key or literal matches)");
                }
                else if (AppSettings.Explain(app, variable, acceptContract: false) is null)
                {
                    promised.Add($"{app}: {variable}");
                }
            }
        }

        output.WriteLine(promised.Count == 0
            ? "Every settings-contract key is bound by the code."
            : "Accepted from the settings contract, not (yet) bound by the code: " + string.Join(", ", promised));
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        // The programs' options were read from metadata: their assemblies stay out of this process's Orleans clusters.
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name is "Lab.Silo" or "Lab.Storefront");
    }

    [Theory]
    [InlineData(LabApp.Silo, "Orleans__SiloPort", true)]
    [InlineData(LabApp.Silo, "Orleans__Scheduling__TurnWarningLengthThreshold", true)]
    [InlineData(LabApp.Silo, "Lab__Scenarios__Caps__MaxMemoryBytes", true)]
    [InlineData(LabApp.Silo, "Payments__BaseUrl", true)]
    [InlineData(LabApp.Silo, "OTEL_METRICS_EXEMPLAR_FILTER", true)]
    [InlineData(LabApp.Storefront, "Orleans__GatewayPorts__0", true)]
    [InlineData(LabApp.Payments, "Lab__Scenarios__ControlApiUrl", true)]
    [InlineData(LabApp.Payments, "Payments__ApiKeys__shop", true)]
    [InlineData(LabApp.Silo, "Payments__ApiKey", true)]
    [InlineData(LabApp.Cli, "LAB_TOKEN", true)]
    [InlineData(LabApp.Cli, "OTEL_EXPORTER_OTLP_ENDPOINT", true)]
    [InlineData(LabApp.Silo, "Orleans__SiloPrt", false)]
    [InlineData(LabApp.Silo, "Database__ConnectionStrings", false)]
    [InlineData(LabApp.Silo, "Lab__Scenarios__Caps__MaxMemory", false)]
    [InlineData(LabApp.Silo, "OTEL_BSP_SCHEDULE", false)]
    [InlineData(LabApp.Payments, "Orleans__SiloPort", false)]
    [InlineData(LabApp.Payments, "Orleans__AdvertisedHost", false)]
    [InlineData(LabApp.Storefront, "Orleans__GatewayPorts__x", false)]
    [InlineData(LabApp.Cli, "LAB_TOKENS", false)]
    public void The_settings_check_tells_read_settings_from_misspelt_or_misplaced_ones(LabApp app, string variable, bool read) =>
        Assert.Equal(read, AppSettings.Explain(app, variable) is not null);

    [Fact]
    public void Every_dependency_port_host_and_volume_resolves()
    {
        var failures = new List<string>();
        var services = Compose.Services;
        var exposed = services.Values.ToDictionary(s => s.Name, ExposedPorts);

        foreach (var service in services.Values)
        {
            foreach (var (target, condition) in service.DependsOn)
            {
                if (!services.TryGetValue(target, out var dependency))
                {
                    failures.Add($"{service.Name}: depends on '{target}', which is not a service");
                    continue;
                }

                if (condition == "service_healthy" && !HasHealthCheck(dependency))
                {
                    failures.Add($"{service.Name}: waits for {target} to be healthy, but {target} has no health check");
                }

                if (service.Profiles.Count == 0 && dependency.Profiles.Count > 0)
                {
                    failures.Add($"{service.Name}: always started, but depends on {target}, which only starts with a profile");
                }
            }

            foreach (var (_, container) in service.PublishedPorts())
            {
                if (!exposed[service.Name].Contains(container))
                {
                    failures.Add($"{service.Name}: publishes container port {container}, which it does not listen on (expose/EXPOSE)");
                }
            }

            // host:port in settings and commands must name a service and a port it listens on.
            var texts = service.Environment.Values.Concat(service.Command)
                .Concat(service.BindMounts().Select(m => Path.Combine(Root, m.HostPath)).Where(File.Exists).Select(File.ReadAllText));
            foreach (var text in texts)
            {
                failures.AddRange(UnresolvedEndpoints(text, exposed).Select(problem => $"{service.Name}: {problem}"));
                foreach (Match host in DatabaseHost().Matches(text))
                {
                    if (!services.ContainsKey(host.Groups[1].Value))
                    {
                        failures.Add($"{service.Name}: connection string host '{host.Groups[1].Value}' is not a service");
                    }
                }
            }

            failures.AddRange(service.NamedVolumes().Where(volume => !Compose.Volumes.Contains(volume))
                .Select(volume => $"{service.Name}: named volume '{volume}' is not declared under volumes:"));
        }

        var hostPorts = services.Values.SelectMany(s => s.PublishedPorts().Select(p => (s.Name, p.Host))).ToList();
        failures.AddRange(hostPorts.GroupBy(p => p.Host).Where(g => g.Count() > 1)
            .Select(g => $"host port {g.Key} is published by {string.Join(" and ", g.Select(p => p.Name))}"));
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Every_file_mounted_into_a_container_exists()
    {
        var mounts = Compose.Services.Values.SelectMany(s => s.BindMounts().Select(m => (s.Name, m.HostPath))).ToList();
        Assert.NotEmpty(mounts);
        var missing = mounts.Where(m => !Path.Exists(Path.Combine(Root, m.HostPath))).Select(m => $"{m.Name}: {m.HostPath}").ToList();

        // Container paths in settings and commands (GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, --config=...) that fall
        // inside a bind mount name a file of the repository, which must exist too.
        foreach (var service in Compose.Services.Values)
        {
            var paths = service.Environment.Values.Concat(service.Command.Select(arg => arg[(arg.IndexOf('=') + 1)..]))
                .Where(value => value.StartsWith('/'));
            foreach (var path in paths)
            {
                var mount = service.BindMounts().FirstOrDefault(m => path == m.ContainerPath || path.StartsWith(m.ContainerPath + "/", StringComparison.Ordinal));
                if (mount.HostPath is null && ConfigFile().IsMatch(path))
                {
                    missing.Add($"{service.Name}: {path} is a configuration file no volume mounts");
                }
                else if (mount.HostPath is not null && !Path.Exists(Path.Combine(Root, mount.HostPath, path[mount.ContainerPath.Length..].TrimStart('/'))))
                {
                    missing.Add($"{service.Name}: {path} (from {mount.HostPath})");
                }
            }
        }

        Assert.True(missing.Count == 0, "Mounted but missing: " + string.Join(", ", missing));
    }

    [Fact]
    public void Dashboards_parse_and_use_only_provisioned_data_sources_and_latency_panels_link_exemplars_to_traces()
    {
        var grafana = Compose.Services["grafana"];
        var provisioned = ProvisionedDataSources(grafana);
        Assert.Contains("prometheus", provisioned.Keys);
        Assert.Contains("jaeger", provisioned.Keys);

        // The provider reads the folder compose mounts the dashboards into.
        var providerPath = DashboardProviderPath(grafana);
        var dashboardMount = grafana.BindMounts().Single(m => m.ContainerPath == providerPath);
        var files = Directory.GetFiles(Path.Combine(Root, dashboardMount.HostPath), "*.json");
        Assert.True(files.Length >= 4, $"expected the four dashboards in {dashboardMount.HostPath}, found {files.Length}");

        var failures = new List<string>();
        var uids = new HashSet<string>();
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            var root = document.RootElement;
            if (!root.TryGetProperty("uid", out var uid) || !uids.Add(uid.GetString()!))
            {
                failures.Add($"{name}: missing or duplicate dashboard uid");
            }

            foreach (var source in DataSourceReferences(root))
            {
                if (source.ValueKind != JsonValueKind.Object)
                {
                    failures.Add($"{name}: data source referred to by name ({source}), not by uid");
                    continue;
                }

                var sourceUid = source.GetProperty("uid").GetString()!;
                var type = source.TryGetProperty("type", out var t) ? t.GetString() : null;
                if (sourceUid == "-- Grafana --" && type == "grafana")
                {
                    continue;
                }

                if (!provisioned.TryGetValue(sourceUid, out var provisionedType))
                {
                    failures.Add($"{name}: data source uid '{sourceUid}' is not provisioned");
                }
                else if (type is not null && type != provisionedType)
                {
                    failures.Add($"{name}: data source '{sourceUid}' is a {provisionedType}, the dashboard says {type}");
                }
            }

            var panels = root.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
            failures.AddRange(panels.Where(p => !p.TryGetProperty("datasource", out _) || !p.GetProperty("targets").EnumerateArray().Any())
                .Select(p => $"{name}: panel '{p.GetProperty("title")}' has no data source or no query"));

            // Latency panels show exemplars, which open their trace in Jaeger. Orleans records its histograms outside
            // the call's trace, so they have none to show (dashboards/check-promql.sh checks the others really do).
            failures.AddRange(panels.SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (Panel: p, Target: t)))
                .Where(pt => pt.Target.GetProperty("expr").GetString() is { } expr
                             && expr.Contains("_bucket", StringComparison.Ordinal) && !expr.Contains("orleans_", StringComparison.Ordinal)
                             && !(pt.Target.TryGetProperty("exemplar", out var e) && e.GetBoolean()))
                .Select(pt => $"{name}: latency panel '{pt.Panel.GetProperty("title")}' does not show exemplars (no link to its traces)"));
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Every_service_has_a_memory_limit_and_the_default_lab_fits_the_budget()
    {
        var limits = Compose.Services.Values.ToDictionary(s => s.Name, s => s.MemLimit is null ? (long?)null : Bytes(s.MemLimit));
        Assert.True(limits.All(l => l.Value is > 0), "No mem_limit: " + string.Join(", ", limits.Where(l => l.Value is null).Select(l => l.Key)));

        var total = Compose.Services.Values.Where(s => s.Profiles.Count == 0).Sum(s => limits[s.Name]!.Value);
        foreach (var (name, limit) in limits)
        {
            output.WriteLine($"{name,-17} {limit!.Value >> 20,5} MiB{(Compose.Services[name].Profiles.Count > 0 ? $"  (profile {string.Join(",", Compose.Services[name].Profiles)})" : "")}");
        }

        output.WriteLine($"default profile   {total >> 20,5} MiB of a {MemoryBudgetBytes >> 20} MiB budget");
        Assert.True(total <= MemoryBudgetBytes, $"The default lab's limits add up to {total >> 20} MiB, over the {MemoryBudgetBytes >> 20} MiB budget.");
    }

    private static LabApp AppOf(ComposeService service) =>
        Path.GetFileName(Path.GetDirectoryName(service.Dockerfile!)) switch
        {
            "Lab.Silo" => LabApp.Silo,
            "Lab.Storefront" => LabApp.Storefront,
            "Lab.Payments" => LabApp.Payments,
            "Lab.Cli" => LabApp.Cli,
            var other => throw new InvalidDataException($"{service.Name}: unknown program {other}"),
        };

    private static string? PublishedProject(DockerfileModel dockerfile) =>
        dockerfile.Arguments("RUN").Select(run => PublishPattern().Match(run)).FirstOrDefault(m => m.Success)?.Groups[1].Value;

    private static string? EntryAssembly(DockerfileModel dockerfile) =>
        dockerfile.FinalStage().Arguments("ENTRYPOINT").LastOrDefault() is { } entry
            ? JsonSerializer.Deserialize<string[]>(entry)!.Select(Path.GetFileName).LastOrDefault(part => part!.EndsWith(".dll", StringComparison.Ordinal))
            : null;

    private static string AssemblyName(string csproj) =>
        AssemblyNamePattern().Match(File.ReadAllText(csproj)) is { Success: true } match
            ? match.Groups[1].Value
            : Path.GetFileNameWithoutExtension(csproj);

    private static bool HasHealthCheck(ComposeService service)
    {
        if (service.HasHealthcheck)
        {
            return true;
        }

        return service.Dockerfile is not null
               && DockerfileModel.Load(Path.Combine(Root, service.BuildContext!, service.Dockerfile)).FinalStage()
                   .Arguments("HEALTHCHECK").Any(args => !args.StartsWith("NONE", StringComparison.OrdinalIgnoreCase));
    }

    private static HashSet<int> ExposedPorts(ComposeService service)
    {
        var ports = service.Expose.ToHashSet();
        if (service.Dockerfile is not null)
        {
            ports.UnionWith(DockerfileModel.Load(Path.Combine(Root, service.BuildContext!, service.Dockerfile)).ExposedPorts());
        }

        return ports;
    }

    private static IEnumerable<string> UnresolvedEndpoints(string text, Dictionary<string, HashSet<int>> exposed) =>
        ComposeModel.Endpoints(text)
            .Where(endpoint => exposed.ContainsKey(endpoint.Host) && !exposed[endpoint.Host].Contains(endpoint.Port))
            .Select(endpoint => $"{endpoint.Host}:{endpoint.Port} is not a port {endpoint.Host} listens on");

    private static Dictionary<string, string> ProvisionedDataSources(ComposeService grafana)
    {
        var file = grafana.BindMounts().Single(m => m.ContainerPath.Contains("/provisioning/datasources/", StringComparison.Ordinal));
        var yaml = Yaml(Path.Combine(Root, file.HostPath));
        var sources = ((List<object>)yaml["datasources"]).Select(ComposeModel.Map).ToList();
        var byUid = sources.ToDictionary(s => s["uid"]!.ToString()!, s => s["type"]!.ToString()!);

        // Exemplar links must point at a provisioned tracing data source.
        foreach (var source in sources.Where(s => s.ContainsKey("jsonData")))
        {
            var json = ComposeModel.Map(source["jsonData"]);
            if (json.TryGetValue("exemplarTraceIdDestinations", out var destinations))
            {
                foreach (var destination in ((List<object>)destinations!).Select(ComposeModel.Map))
                {
                    Assert.Equal("jaeger", byUid.GetValueOrDefault(destination["datasourceUid"]!.ToString()!));
                }
            }
        }

        return byUid;
    }

    private static string DashboardProviderPath(ComposeService grafana)
    {
        var file = grafana.BindMounts().Single(m => m.ContainerPath.Contains("/provisioning/dashboards/", StringComparison.Ordinal));
        var provider = ComposeModel.Map(((List<object>)Yaml(Path.Combine(Root, file.HostPath))["providers"]).Single());
        return ComposeModel.Map(provider["options"])["path"]!.ToString()!;
    }

    private static Dictionary<string, object> Yaml(string path) =>
        ComposeModel.Map(new DeserializerBuilder().Build().Deserialize<object>(new Parser(new StringReader(File.ReadAllText(path)))))
            .ToDictionary(p => p.Key, p => p.Value!);

    private static IEnumerable<JsonElement> DataSourceReferences(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name == "datasource")
                    {
                        yield return property.Value;
                    }

                    foreach (var nested in DataSourceReferences(property.Value))
                    {
                        yield return nested;
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var nested in element.EnumerateArray().SelectMany(DataSourceReferences))
                {
                    yield return nested;
                }

                break;
        }
    }

    private static long Bytes(string limit)
    {
        var match = MemoryPattern().Match(limit.Trim().ToLowerInvariant());
        Assert.True(match.Success, $"unreadable mem_limit '{limit}'");
        var value = long.Parse(match.Groups[1].Value);
        return match.Groups[2].Value switch
        {
            "k" => value << 10,
            "m" => value << 20,
            "g" => value << 30,
            _ => value,
        };
    }

    [GeneratedRegex(@"\.(ya?ml|json)$")]
    private static partial Regex ConfigFile();

    [GeneratedRegex(@"dotnet publish (\S+\.csproj)")]
    private static partial Regex PublishPattern();

    [GeneratedRegex(@"<AssemblyName>([^<]+)</AssemblyName>")]
    private static partial Regex AssemblyNamePattern();

    [GeneratedRegex(@"Host=([A-Za-z0-9-]+)")]
    private static partial Regex DatabaseHost();

    [GeneratedRegex(@"^(\d+)([kmg]?)b?$")]
    private static partial Regex MemoryPattern();
}
