using Lab.Contracts;
using Lab.Data;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lab.Grains;

/// <summary>
/// The outbox's relay, the saga's sweeper and the reservations' janitor. Each round it wakes the inventory grains of SKUs
/// holding expired reservations (a grain that died with its silo releases nothing until it is active again), and calls the
/// grain of every order left unsettled (nothing else ever would): an order holding an event its consumers did not
/// acknowledge in time publishes its outbox again, so the projection and shipping catch up with what a dead silo's stream
/// lost; an order left mid-saga resumes it (<see cref="OrderGrain"/>). Runs in every silo; doing it twice is harmless
/// (consumers skip sequences they applied, shipping is idempotent, a live saga just answers).
/// </summary>
public sealed class OrderRecoveryService(
    OrderRepository orders, InventoryRepository inventory, IGrainFactory grains, IOptions<ShopOptions> options, TimeProvider time, ILogger<OrderRecoveryService> logger)
    : BackgroundService
{
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(settings.OrderRecoveryInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            IReadOnlyList<Guid> unsettled;
            try
            {
                unsettled = await orders.FindUnsettledAsync(time.GetUtcNow() - settings.OrderRecoveryAfter, BatchSize, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogDebug(ex, "Order recovery could not read the unsettled orders; the next round tries again");
                continue;
            }

            // Reservations whose grain is not active (its silo died with it) are released by nobody else: wake their grains.
            try
            {
                foreach (var sku in await inventory.FindExpiredReservationSkusAsync(time.GetUtcNow() - settings.OrderRecoveryAfter, BatchSize, stoppingToken))
                {
                    await grains.GetGrain<IInventoryGrain>(sku).ReleaseExpiredAsync();
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogDebug(ex, "Releasing expired reservations failed; the next round tries again");
            }

            // Each order on its own: one whose grain cannot answer yet (its silo just died, a call of its saga still times
            // out) must not keep the sweep from every order after it.
            foreach (var orderId in unsettled)
            {
                try
                {
                    await grains.GetGrain<IOrderGrain>(orderId).RecoverAsync();
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning("Recovery of order {OrderId} failed ({Error}); the next round tries again", orderId, $"{ex.GetType().Name}: {ex.Message}");
                }
            }
        }
    }
}
