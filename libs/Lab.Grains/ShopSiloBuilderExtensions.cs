using Lab.Contracts;
using Lab.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

public static class ShopSiloBuilderExtensions
{
    /// <summary>
    /// Everything a silo needs to host the shop's grains: repositories, the payments client, the order
    /// event stream and trace propagation. Clustering is the host's choice.
    /// </summary>
    public static ISiloBuilder AddShop(this ISiloBuilder silo, IConfiguration configuration)
    {
        silo.Services.AddShopServices(configuration);
        silo.AddActivityPropagation();
        silo.AddMemoryStreams(OrderStreams.Provider);
        silo.AddMemoryGrainStorage("PubSubStore");
        return silo;
    }

    public static IServiceCollection AddShopServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddShopData(configuration);
        services.AddOptions<ShopOptions>().Bind(configuration.GetSection(ShopOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<PaymentsClientOptions>().Bind(configuration.GetSection(PaymentsClientOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient<PaymentsClient>(PaymentsClient.HttpClientName, (provider, http) =>
        {
            var options = provider.GetRequiredService<IOptions<PaymentsClientOptions>>().Value;
            http.BaseAddress = new Uri(options.BaseUrl.TrimEnd('/') + "/");
            http.Timeout = options.Timeout;
        });
        return services;
    }
}
