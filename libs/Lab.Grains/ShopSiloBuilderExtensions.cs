using Orleans.Runtime.Hosting;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

public static class ShopSiloBuilderExtensions
{
    /// <summary>
    /// Everything a silo needs to host the shop's grains: repositories, the payments client, the order event stream,
    /// trace propagation and the scenario engine's hooks (its state kept in the shop's database). Clustering and the
    /// scenario catalog are the host's choice.
    /// </summary>
    public static ISiloBuilder AddShop(this ISiloBuilder silo, IConfiguration configuration)
    {
        silo.Services.AddShopServices(configuration);
        silo.Services.AddLabScenarios(options => options.UseServiceName(configuration, "silo", ServiceKind.Silo))
            .SyncFromCluster()
            .UseStore<ShopScenarioStore>();
        // Activity propagation first: its filter opens the grain call's span, so the scenario filter (inside it)
        // tags that span with lab.scenario. Filters run in the order they are registered.
        silo.AddActivityPropagation();
        silo.AddLabScenarioFilters();
        silo.AddMemoryStreams(OrderStreams.Provider);
        silo.AddMemoryGrainStorage("PubSubStore");
        silo.Services.AddGrainStorage(ShopGrainStorage.Name, (provider, _) => ActivatorUtilities.CreateInstance<ShopGrainStorage>(provider));
        silo.Services.AddSingleton<OrderFeed>();
        silo.Services.AddHostedService(provider => provider.GetRequiredService<OrderFeed>());
        silo.Services.AddSingleton<ShopWarmUp>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(provider => provider.GetRequiredService<ShopWarmUp>());
        silo.Services.AddHealthChecks().AddCheck<ShopWarmUp>("warm");
        return silo;
    }

    public static IServiceCollection AddShopServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddShopData(configuration);
        services.AddShopPolicies(configuration);
        services.AddOptions<ShopOptions>().Bind(configuration.GetSection(ShopOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddHostedService<OrderRecoveryService>();
        services.AddOptions<PaymentsClientOptions>().Bind(configuration.GetSection(PaymentsClientOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new ScenarioTimeProvider(sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ServiceIdentity>() ?? new ServiceIdentity("silo", ServiceKind.Silo)));
        services.TryAddSingleton<PaymentsResiliencePipelines>();
        services.TryAddTransient<PaymentsResilienceHandler>();
        services.AddHttpClient<PaymentsClient>(PaymentsClient.HttpClientName, (provider, http) =>
            {
                var options = provider.GetRequiredService<IOptions<PaymentsClientOptions>>().Value;
                http.BaseAddress = new Uri(options.BaseUrl.TrimEnd('/') + "/");
                http.Timeout = options.Timeout;
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.ApiKey);
            })
            // Outer: the shop's retries and breaker; inner: the scenario hook, so they see what it injects.
            .AddHttpMessageHandler<PaymentsResilienceHandler>()
            .AddLabScenarioHandler();
        return services;
    }
}
