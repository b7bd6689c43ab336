using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Lab.Scenarios;

/// <summary>
/// One registration per process kind:
/// <list type="bullet">
/// <item>silo: <c>services.AddLabScenarios(...).SyncFromCluster().UseStore&lt;TStore&gt;()</c> and <c>siloBuilder.AddLabScenarioFilters()</c>;</item>
/// <item>storefront: <c>services.AddLabScenarios(...).SyncFromCluster()</c>, <c>clientBuilder.AddLabScenarioFilters()</c>,
/// <c>app.UseLabScenarios()</c>, <c>app.MapLabControlApi()</c>;</item>
/// <item>payments: <c>services.AddLabScenarios(...).SyncFromControlApi()</c>, <c>app.UseLabScenarios()</c>;</item>
/// <item>any HttpClient to perturb: <c>services.AddHttpClient&lt;T&gt;().AddLabScenarioHandler()</c>.</item>
/// </list>
/// </summary>
public static class LabScenarioHostingExtensions
{
    /// <summary>
    /// Registers the engine: options (section "Lab:Scenarios", validated at start-up), the registry, this process's
    /// <see cref="ServiceIdentity"/>, <see cref="ScenarioRuntimeHost"/>, the hook adapters and <see cref="ScenarioTimeProvider"/>.
    /// Choose where snapshots come from with the returned builder.
    /// </summary>
    public static LabScenariosBuilder AddLabScenarios(this IServiceCollection services, Action<LabScenarioOptions>? configure = null)
    {
        var options = services.AddOptions<LabScenarioOptions>().BindConfiguration(LabScenarioOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LabScenarioOptions>, LabScenarioOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => ScenarioRegistry.FromAssemblies(sp.GetServices<ScenarioAssembly>().Select(a => a.Assembly)));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<LabScenarioOptions>>().Value.Identity);
        services.TryAddSingleton<ScenarioRuntimeHost>();
        services.TryAddSingleton(sp => new ScenarioTimeProvider(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ServiceIdentity>()));
        services.TryAddSingleton<ScenarioIncomingGrainCallFilter>();
        services.TryAddSingleton<ScenarioOutgoingGrainCallFilter>();
        services.TryAddTransient<ScenarioHttpClientHandler>();
        return new LabScenariosBuilder(services);
    }

    /// <summary>Silo: incoming and outgoing grain call filters, and the in-memory store unless another was chosen.</summary>
    public static ISiloBuilder AddLabScenarioFilters(this ISiloBuilder silo)
    {
        if (!ScenarioRuntime.IsBypassed && !silo.Services.Any(d => d.ServiceType == typeof(FiltersAdded)))
        {
            silo.Services.AddSingleton<FiltersAdded>();
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(sp => sp.GetRequiredService<ScenarioIncomingGrainCallFilter>());
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(sp => sp.GetRequiredService<ScenarioOutgoingGrainCallFilter>());
        }

        silo.Services.TryAddSingleton<IScenarioStore, InMemoryScenarioStore>();
        return silo;
    }

    /// <summary>Orleans client (storefront): the outgoing grain call filter.</summary>
    public static IClientBuilder AddLabScenarioFilters(this IClientBuilder client)
    {
        if (!ScenarioRuntime.IsBypassed && !client.Services.Any(d => d.ServiceType == typeof(FiltersAdded)))
        {
            client.Services.AddSingleton<FiltersAdded>();
            client.Services.AddSingleton<IOutgoingGrainCallFilter>(sp => sp.GetRequiredService<ScenarioOutgoingGrainCallFilter>());
        }

        return client;
    }

    /// <summary>HTTP server hook: add after routing (WebApplication routes first by default), before the endpoints.</summary>
    public static IApplicationBuilder UseLabScenarios(this IApplicationBuilder app) =>
        ScenarioRuntime.IsBypassed ? app : app.UseMiddleware<ScenarioHttpServerMiddleware>();

    /// <summary>HTTP client hook for one HttpClient.</summary>
    public static IHttpClientBuilder AddLabScenarioHandler(this IHttpClientBuilder builder) =>
        ScenarioRuntime.IsBypassed ? builder : builder.AddHttpMessageHandler<ScenarioHttpClientHandler>();

    /// <summary>
    /// <c>GET /lab/runtime</c>: the snapshot this process applies (service, version, active names, bypassed). Map it in
    /// every process, so a user or a benchmark can see when a change reached each one. Read-only, no token.
    /// </summary>
    public static IEndpointConventionBuilder MapLabRuntimeStatus(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(RuntimeStatus.Path, (ScenarioRuntimeHost host) =>
            {
                var applied = host.Applied;
                return Results.Json(
                    new RuntimeStatus(host.Service.Name, applied.Version, [.. applied.Activations.Select(a => a.Name)], ScenarioRuntime.ActiveCount, ScenarioRuntime.IsBypassed),
                    LabJson.Options);
            })
            .WithName("LabRuntimeStatus").WithTags("Lab scenarios").WithSummary("The scenario snapshot this process applies.");

    private sealed class FiltersAdded;
}

/// <summary>What <c>GET /lab/runtime</c> answers: the snapshot one process applies.</summary>
public sealed record RuntimeStatus(string Service, long Version, string[] Active, int Live, bool Bypassed)
{
    public const string Path = "/lab/runtime";
}

/// <summary>An assembly the registry scans for scenarios.</summary>
public sealed record ScenarioAssembly(Assembly Assembly);

/// <summary>Chooses where this process gets its snapshots from and where the control plane keeps its state.</summary>
public sealed class LabScenariosBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;

    /// <summary>Adds the scenarios of <paramref name="assembly"/> to the registry (the engine's own are always there).</summary>
    public LabScenariosBuilder AddScenariosFrom(Assembly assembly)
    {
        Services.AddSingleton(new ScenarioAssembly(assembly));
        return this;
    }

    /// <summary>Silos and Orleans clients: poll the control grain; <see cref="IScenarioControlPlane"/> talks to it too.</summary>
    public LabScenariosBuilder SyncFromCluster()
    {
        Services.TryAddSingleton<IScenarioSnapshotSource, GrainSnapshotSource>();
        Services.TryAddSingleton<IScenarioControlPlane, GrainScenarioControlPlane>();
        AddSync();
        return this;
    }

    /// <summary>Processes outside the cluster (payments): poll the control API at <see cref="LabScenarioOptions.ControlApiUrl"/>.</summary>
    public LabScenariosBuilder SyncFromControlApi()
    {
        Services.AddOptions<LabScenarioOptions>()
            .Validate(o => o.ControlApiUrl is { IsAbsoluteUri: true }, "Lab:Scenarios:ControlApiUrl (the storefront's base address) is required to sync from the control API.");
        Services.AddHttpClient(HttpSnapshotSource.ClientName, (sp, http) =>
        {
            http.BaseAddress = sp.GetRequiredService<IOptions<LabScenarioOptions>>().Value.ControlApiUrl;
            http.Timeout = TimeSpan.FromSeconds(2);
        });
        Services.TryAddSingleton<IScenarioSnapshotSource, HttpSnapshotSource>();
        AddSync();
        return this;
    }

    /// <summary>Single-process labs and tests: the control plane lives in this process, no Orleans needed.</summary>
    public LabScenariosBuilder UseLocalControlPlane()
    {
        Services.TryAddSingleton<IScenarioStore, InMemoryScenarioStore>();
        Services.TryAddSingleton(sp => new ScenarioControlCore(
            sp.GetRequiredService<ScenarioRegistry>(),
            sp.GetRequiredService<IScenarioStore>(),
            sp.GetRequiredService<IOptions<LabScenarioOptions>>().Value,
            sp.GetRequiredService<TimeProvider>()));
        Services.TryAddSingleton<LocalScenarioControlPlane>();
        Services.TryAddSingleton<IScenarioControlPlane>(sp => sp.GetRequiredService<LocalScenarioControlPlane>());
        Services.TryAddSingleton<IScenarioSnapshotSource, LocalSnapshotSource>();
        AddSync();
        return this;
    }

    /// <summary>Where the control grain keeps the active set and history (the shop's database, so it survives a silo restart).</summary>
    public LabScenariosBuilder UseStore<TStore>()
        where TStore : class, IScenarioStore
    {
        Services.RemoveAll<IScenarioStore>();
        Services.AddSingleton<IScenarioStore, TStore>();
        return this;
    }

    // Bypassed: no polling either, so the comparison run has none of the engine's background work.
    private void AddSync()
    {
        if (!ScenarioRuntime.IsBypassed)
        {
            Services.AddHostedService<ScenarioSync>();
        }
    }

    private sealed class LocalSnapshotSource(IScenarioControlPlane plane) : IScenarioSnapshotSource
    {
        public Task<ActiveScenarioSet?> GetSnapshotAsync(long sinceVersion, ServiceIdentity caller, CancellationToken ct) =>
            plane.GetSnapshotAsync(sinceVersion, caller, ct);
    }
}
