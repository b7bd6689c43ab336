using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.PageCache;

/// <summary>
/// The storefront's page cache for products: in-process (L1), with Redis as the shared second level when Redis is set. Off
/// unless ProductTtl is set: the product grains are the shop's cache, and a page cache in front of them hides what happens
/// to them (a hot grain, a slow or failing product read) from the requests that would show it.
/// </summary>
public sealed class ProductCacheOptions
{
    public const string Section = "Cache";

    /// <summary>How long a product page stays cached (both levels) before it is read again from the silos; zero = no page cache.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ProductTtl { get; set; } = TimeSpan.Zero;

    public bool Enabled => ProductTtl > TimeSpan.Zero;

    /// <summary>A StackExchange.Redis configuration ("127.0.0.1:6379"); empty = no second level.</summary>
    public string? Redis { get; set; }

    /// <summary>How many of the best sellers the storefront loads into its cache when it starts.</summary>
    [Range(0, 10_000)]
    public int WarmProducts { get; set; } = 20;
}

/// <summary>A cached product page: the product (null = no such SKU) and when it was read from the silos.</summary>
public sealed record CachedProduct(Product? Product, DateTimeOffset LoadedAt);

/// <summary>The cache tier's metrics, tagged cache=product.</summary>
public static class CacheTelemetry
{
    private static readonly KeyValuePair<string, object?> ProductCache = new("cache", "product");

    public static readonly Counter<long> Requests = LabTelemetry.Meter.CreateCounter<long>("lab.cache.requests", "{request}",
        "Reads of the storefront's cache, by outcome: hit (served from L1 or L2), miss (loaded from the silos), bypass (a scenario sent it past the cache).");

    public static readonly Counter<long> Loads = LabTelemetry.Meter.CreateCounter<long>("lab.cache.loads", "{load}",
        "Loads of cache entries from the silos, by outcome (ok, error), warm-up included.");

    public static readonly Histogram<double> ServedAge = LabTelemetry.Meter.CreateHistogram("lab.cache.served_age", "s",
        "How old a cached entry was when it was served: the staleness a reader saw at most.", advice: LabTelemetry.SecondsAdvice);

    public static readonly Counter<long> Warmed = LabTelemetry.Meter.CreateCounter<long>("lab.cache.warmed", "{entry}",
        "Entries the start-up warm-up loaded, by outcome (ok, error).");

    public static void Request(string outcome) => Requests.Add(1, ProductCache, new("outcome", outcome));

    public static void Load(string outcome) => Loads.Add(1, ProductCache, new("outcome", outcome));

    public static void Served(TimeSpan age) => ServedAge.Record(Math.Max(0, age.TotalSeconds), ProductCache);

    public static void Warm(string outcome) => Warmed.Add(1, ProductCache, new("outcome", outcome));
}

public static class ProductCacheServiceCollectionExtensions
{
    /// <summary>HybridCache for product pages, Redis as its second level when Cache:Redis is set, and the start-up warm-up.</summary>
    public static IServiceCollection AddProductCache(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ProductCacheOptions>().Bind(configuration.GetSection(ProductCacheOptions.Section))
            .ValidateDataAnnotations().ValidateOnStart();
        var redis = configuration[$"{ProductCacheOptions.Section}:Redis"];
        if (!string.IsNullOrWhiteSpace(redis))
        {
            // HybridCache uses the registered IDistributedCache as its second level.
            services.AddStackExchangeRedisCache(options =>
            {
                options.Configuration = redis;
                options.InstanceName = "lab:";
            });
        }

        services.AddHybridCache();
        services.AddSingleton<ProductReads>();
        services.AddHostedService<ProductCacheWarmUp>();
        return services;
    }
}

/// <summary>
/// Loads the best sellers' pages into the cache when the storefront starts, so that its first visitors do not all go to
/// the silos at once. Retries while the cluster is not reachable yet, for a bounded time.
/// </summary>
public sealed partial class ProductCacheWarmUp(ProductReads reads, IOptions<ProductCacheOptions> options, ILogger<ProductCacheWarmUp> logger)
    : BackgroundService
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var count = options.Value.WarmProducts;
        if (count == 0 || !options.Value.Enabled)
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        using var span = LabTelemetry.Source.StartActivity("cache product.warm-up");
        var warmed = 0;
        for (var rank = 1; rank <= count && !stoppingToken.IsCancellationRequested; rank++)
        {
            var sku = $"SKU-{rank:00000}";
            while (true)
            {
                try
                {
                    await reads.WarmAsync(sku, stoppingToken);
                    CacheTelemetry.Warm("ok");
                    warmed++;
                    break;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    CacheTelemetry.Warm("error");
                    if (clock.Elapsed > GiveUpAfter)
                    {
                        LogGaveUp(ex, warmed, count, clock.Elapsed.TotalSeconds);
                        return;
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(500), stoppingToken);
                }
            }
        }

        span?.SetTag("lab.cache.warmed", warmed);
        LogWarmed(warmed, clock.Elapsed.TotalMilliseconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Product cache warmed with the {Count} best sellers in {Elapsed:0} ms")]
    private partial void LogWarmed(int count, double elapsed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Product cache warm-up gave up after {Warmed} of {Count} products ({Elapsed:0} s); the cache fills as visitors read")]
    private partial void LogGaveUp(Exception ex, int warmed, int count, double elapsed);
}
