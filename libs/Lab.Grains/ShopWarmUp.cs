using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lab.Contracts;
using Lab.Data;
using Lab.Scenarios;
using Lab.ServiceDefaults;
using Lab.Shop;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

/// <summary>
/// A silo's warm-up: once it is active in the cluster, before its start completes, it loads the best sellers' product and
/// inventory grains (the product cache fills, the repository pool opens), and its /health says "warming up" until that
/// is done. It also registers the silo's <see cref="ProcessRestart"/>: every idle activation of the silo collected and
/// the pool closed, as a restart would leave them, then the warm-up again. How much is warmed is the warm-up seam's.
/// </summary>
public sealed class ShopWarmUp(IGrainFactory grains, CatalogRepository catalog, LabDb db, ILocalSiloDetails silo, IOptions<ShopOptions> options,
    ServiceIdentity identity, ILogger<ShopWarmUp> logger) : ILifecycleParticipant<ISiloLifecycle>, IHealthCheck
{
    private static readonly Counter<long> Restarts = LabTelemetry.Meter.CreateCounter<long>(
        "lab.process.restarts", "{restart}", "In-process restarts: the silo's activations collected and its pool closed, as a restart leaves them.");

    private static readonly Counter<long> WarmUps = LabTelemetry.Meter.CreateCounter<long>(
        "lab.warmup.runs", "{run}", "Warm-ups after a start or restart, by outcome (warmed, skipped, incomplete).");

    private static readonly Counter<long> WarmedProducts = LabTelemetry.Meter.CreateCounter<long>(
        "lab.warmup.products", "{product}", "Best sellers whose product and inventory grains a warm-up loaded.");

    private static readonly Histogram<double> WarmUpDuration = LabTelemetry.Meter.CreateHistogram(
        "lab.warmup.duration", "s", "Time a silo spent warming up before it reported ready.",
        advice: LabTelemetry.SecondsAdvice);

    // Null when ready; else what /health says the silo is doing.
    private volatile string? _notReady = "starting";

    /// <summary>The shop's own warm-up, from <see cref="ShopOptions.WarmUpProducts"/>.</summary>
    public WarmUpPolicy Own { get; } = new(options.Value.WarmUpProducts);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ShopWarmUp), ServiceLifecycleStage.Active,
            async ct =>
            {
                ProcessRestart.Register(RestartAsync);
                await WarmAsync(ct);
            },
            _ =>
            {
                ProcessRestart.Register(null);
                return Task.CompletedTask;
            });

    /// <summary>Drops what a restart loses (idle activations of this silo, pooled connections), then warms up as a start does.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        _notReady = "restarting";
        using var activity = LabTelemetry.Source.StartActivity("process restart");
        Restarts.Add(1);
        await grains.GetGrain<IManagementGrain>(0).ForceActivationCollection([silo.SiloAddress], TimeSpan.Zero);
        db.ClearPool();
        logger.LogInformation("Silo state dropped as by a restart: idle activations collected, connection pool closed");
        await WarmAsync(cancellationToken);
    }

    private async Task WarmAsync(CancellationToken cancellationToken)
    {
        var policy = ShopSeams.WarmUp.Resolve(identity, Own);
        var clock = Stopwatch.StartNew();
        var outcome = "skipped";
        try
        {
            if (policy.Products > 0)
            {
                _notReady = $"warming up the {policy.Products} best sellers";
                using var activity = LabTelemetry.Source.StartActivity("warm-up");
                using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                bound.CancelAfter(options.Value.WarmUpTimeout);
                var hottest = await catalog.SearchAsync(new CatalogQuery(null, null, 1, policy.Products), bound.Token);
                await Parallel.ForEachAsync(hottest.Items, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = bound.Token },
                    async (product, ct) =>
                    {
                        await grains.GetGrain<IProductGrain>(product.Sku).GetAsync(ct);
                        await grains.GetGrain<IInventoryGrain>(product.Sku).GetStockAsync();
                        WarmedProducts.Add(1);
                    });
                outcome = "warmed";
                logger.LogInformation("Warmed up the {Count} best sellers in {Elapsed} ms", hottest.Items.Count, clock.ElapsedMilliseconds);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A warm-up is an optimisation: one that fails or overruns its bound leaves a slower silo, not one that never serves.
            outcome = "incomplete";
            logger.LogWarning("Warm-up incomplete after {Elapsed} ms; ready all the same: {Error}", clock.ElapsedMilliseconds, ex.Message);
        }
        finally
        {
            WarmUps.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            WarmUpDuration.Record(clock.Elapsed.TotalSeconds);
            _notReady = null;
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_notReady is { } doing ? HealthCheckResult.Unhealthy(doing) : HealthCheckResult.Healthy("warm"));
}
