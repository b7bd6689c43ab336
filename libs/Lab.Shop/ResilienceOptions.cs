using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Lab.Shop;

/// <summary>The shop's own resilience: deadlines, one retrying layer with a budget, the payments breaker. Section "Resilience".</summary>
public sealed class ResilienceOptions
{
    public const string Section = "Resilience";

    /// <summary>The storefront's budget for one checkout; every layer below stops when it is spent.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan CheckoutBudget { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>What each layer keeps back from the deadline it passes down, for its own remaining steps and its answer's way back.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan DeadlineMargin { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Attempts of one payments call in the payments client (the one layer that retries).</summary>
    [Range(1, 10)]
    public int PaymentsAttempts { get; set; } = 3;

    /// <summary>Base delay of the payments client's jittered exponential backoff.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:30")]
    public TimeSpan PaymentsBackoff { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Retries allowed per first attempt within <see cref="RetryBudgetWindow"/>.</summary>
    [Range(0.0, 1.0)]
    public double RetryBudgetRatio { get; set; } = 0.2;

    /// <summary>Retries the budget always allows per window, however few requests there were.</summary>
    [Range(0, 1000)]
    public int RetryBudgetFloor { get; set; } = 3;

    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RetryBudgetWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one payments attempt may take. Payments answers a charge in tens of milliseconds (its authorisation
    /// time); a second leaves room for its slow tail and gives up long before the checkout budget is spent.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan PaymentsAttemptTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Payments calls one process lets be in flight at once (a bulkhead): the calls beyond fail at once.</summary>
    [Range(1, 10_000)]
    public int PaymentsConcurrency { get; set; } = 32;

    /// <summary>Extra attempts of a slow product read (0 = no hedging).</summary>
    [Range(0, 3)]
    public int ProductReadHedges { get; set; } = 1;

    /// <summary>How long a product read may take before the storefront hedges it: well above a read's normal few milliseconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan ProductReadHedgeDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Share of failed payments calls in the sampling window that opens the breaker.</summary>
    [Range(0.01, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Calls needed in the sampling window before the breaker may open.</summary>
    [Range(2, 100_000)]
    public int BreakerMinimumThroughput { get; set; } = 20;

    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the breaker stays open before a half-open probe.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>The shop's own variant of each seam that has settings, built once from <see cref="ResilienceOptions"/>.</summary>
public sealed class ShopPolicies(IOptions<ResilienceOptions> options)
{
    public TimeSpan CheckoutBudget { get; } = options.Value.CheckoutBudget;

    public DeadlinePropagation Deadlines { get; } = new(true, options.Value.DeadlineMargin);

    public RetryPolicy PaymentsRetry { get; } = new(options.Value.PaymentsAttempts, options.Value.PaymentsBackoff, Jitter: true,
        new RetryBudgetPolicy(options.Value.RetryBudgetRatio, options.Value.RetryBudgetFloor, options.Value.RetryBudgetWindow));

    public TimeSpan PaymentsTimeout { get; } = options.Value.PaymentsAttemptTimeout;

    public BulkheadPolicy PaymentsBulkhead { get; } = new(options.Value.PaymentsConcurrency);

    public HedgingPolicy ProductReadHedging { get; } = new(options.Value.ProductReadHedges, options.Value.ProductReadHedgeDelay);

    public BreakerPolicy PaymentsBreaker { get; } = new(true, options.Value.BreakerFailureRatio, options.Value.BreakerMinimumThroughput,
        options.Value.BreakerSamplingDuration, options.Value.BreakerBreakDuration);
}

public static class ShopPoliciesServiceCollectionExtensions
{
    /// <summary>Binds <see cref="ResilienceOptions"/> (validated at start-up) and registers <see cref="ShopPolicies"/>.</summary>
    public static IServiceCollection AddShopPolicies(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ResilienceOptions>().Bind(configuration.GetSection(ResilienceOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<ShopPolicies>();
        return services;
    }
}
