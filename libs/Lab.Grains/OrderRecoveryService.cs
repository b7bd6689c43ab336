using Lab.Contracts;
using Lab.Data;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

/// <summary>
/// Finds orders left mid-saga when a silo died (nothing else would ever call their grain again) and touches their
/// grain: the new activation resumes the saga (<see cref="OrderGrain"/>). Runs in every silo; touching an order twice
/// is harmless, since a live activation just answers.
/// </summary>
public sealed class OrderRecoveryService(
    OrderRepository orders, IGrainFactory grains, IOptions<ShopOptions> options, TimeProvider time, ILogger<OrderRecoveryService> logger)
    : BackgroundService
{
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(settings.OrderRecoveryInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                foreach (var orderId in await orders.FindUnfinishedAsync(time.GetUtcNow() - settings.OrderRecoveryAfter, BatchSize, stoppingToken))
                {
                    await grains.GetGrain<IOrderGrain>(orderId).GetAsync();
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The silo may still be joining, or the grain's silo just died: the next round tries again.
                logger.LogDebug(ex, "Order recovery round failed");
            }
        }
    }
}
