using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Lab.Data;

public static class DataServiceCollectionExtensions
{
    /// <summary>The shop database: options validated at start-up, the pipeline, and every repository.</summary>
    public static IServiceCollection AddShopData(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddLabDb(configuration);
        services.AddOptions<SeedOptions>().Bind(configuration.GetSection(SeedOptions.Section))
            .ValidateDataAnnotations()
            .Validate(seed => seed.MaxStock >= seed.MinStock, "Seed:MaxStock must be at least Seed:MinStock.")
            .ValidateOnStart();
        services.AddSingleton<ShopDatabase>();
        services.AddSingleton<CatalogRepository>();
        services.AddSingleton<InventoryRepository>();
        services.AddSingleton<CartRepository>();
        services.AddSingleton<OrderRepository>();
        services.AddSingleton<CustomerRepository>();
        services.AddSingleton<GrainStateRepository>();
        services.AddSingleton<ProjectionRepository>();
        services.AddSingleton<ReportRepository>();
        return services;
    }

    /// <summary>Just the pipeline, for a process with a database of its own (payments).</summary>
    public static IServiceCollection AddLabDb(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>().Bind(configuration.GetSection(DatabaseOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<LabDb>();
        return services;
    }
}
