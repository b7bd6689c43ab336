using Lab.Data;
using Lab.Scenarios;
using Lab.Shop;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Lab.Payments;

public static class PaymentsServices
{
    /// <summary>
    /// What the charges API needs: its options, its database, the charge repository, a clock, and the shop's policies (it honours the
    /// caller's deadline). Call after <c>AddLabScenarios</c>, whose identity of this process wins over the default here.
    /// </summary>
    public static IServiceCollection AddPayments(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PaymentsOptions>().Bind(configuration.GetSection(PaymentsOptions.Section))
            .ValidateDataAnnotations()
            .Validate(options => options.ApiKeys.Count > 0,
                "Payments:ApiKeys must name at least one caller and its key (Payments__ApiKeys__shop=KEY): payments serves no anonymous caller.")
            .Validate(options => options.ApiKeys.Values.All(key => key.Length >= PaymentsOptions.MinKeyLength),
                $"Every key in Payments:ApiKeys must have at least {PaymentsOptions.MinKeyLength} characters.")
            .ValidateOnStart();
        services.AddLabDb(configuration);
        services.TryAddSingleton<ChargeRepository>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddShopPolicies(configuration);
        services.TryAddSingleton(new ServiceIdentity("payments", ServiceKind.Payments));
        return services;
    }
}
