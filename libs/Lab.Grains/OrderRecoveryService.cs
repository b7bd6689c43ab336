using Lab.Contracts;
using Lab.Data;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

/// <summary>
/// Finds the orders a dead silo left unsettled and calls their grain again (nothing else ever would): an order left
/// mid-saga gets a new activation, which resumes the saga (<see cref="OrderGrain"/>); an order whose event the stream
/// lost with the silo publishes its latest event again, so the projection and shipping catch up. Runs in every silo;
/// doing it twice is harmless (a live saga just answers; consumers apply the latest state).
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
                foreach (var orderId in await orders.FindUnsettledAsync(time.GetUtcNow() - settings.OrderRecoveryAfter, BatchSize, stoppingToken))
                {
                    await grains.GetGrain<IOrderGrain>(orderId).RepublishAsync();
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
