using Dapper;
using Lab.Contracts;
using Lab.Shop;
using Lab.Tests.Support;
using Orleans.Runtime;
using Orleans.Streams;

namespace Lab.Tests.Shop;

/// <summary>
/// The shop nobody broke is the cured shop: with no scenario active, history loads in two queries and the projection
/// survives events delivered out of order, replayed, or lost.
/// </summary>
[Collection(ShopClusterCollection.Name)]
public sealed class IdleShopTests(ShopClusterFixture fixture)
{
    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task History_loads_in_two_queries_whatever_its_length()
    {
        using var connection = fixture.OpenShopDatabase();
        var customerId = await connection.QuerySingleAsync<long>(
            "SELECT customer_id FROM orders GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 1");
        var customer = fixture.Client.GetGrain<ICustomerGrain>(customerId);
        await customer.ExistsAsync();
        using var telemetry = new TelemetryCapture();
        foreach (var limit in new[] { 2, 8 })
        {
            // Counted on the read's own trace.
            using var read = TelemetryCapture.Trace("order history");
            var history = await customer.GetOrderHistoryAsync(limit);
            Assert.Equal(limit, history!.Count);
            Assert.Equal(2, telemetry.DbCalls(read.TraceId, "customer.order-history") + telemetry.DbCalls(read.TraceId, "customer.order-history-lines")
                + telemetry.DbCalls(read.TraceId, ShopOperations.CustomerOrderLines));
        }
    }

    [Fact]
    public async Task The_projection_applies_events_in_sequence_when_they_arrive_reordered_and_replayed()
    {
        var orderId = Guid.NewGuid();
        // PaymentCaptured (#3) arrives after Shipped (#5), and StockReserved (#2) comes twice.
        await PublishAsync(orderId, 1, 2, 4, 2, 5, 3);
        var view = await Eventually.GetAsync(() => fixture.Client.GetGrain<IOrderProjectionGrain>(orderId).GetAsync(),
            v => v?.LastSequence == 5, StreamWait, "the projection reached #5");
        Assert.Equal(OrderStatus.Shipped, view!.Status);
        Assert.Equal(5, view.EventsApplied);
    }

    [Fact]
    public async Task A_lost_event_holds_the_projection_only_until_the_gap_timeout()
    {
        var orderId = Guid.NewGuid();
        await PublishAsync(orderId, 1, 2, 4, 5);
        var projection = fixture.Client.GetGrain<IOrderProjectionGrain>(orderId);
        var waiting = await Eventually.GetAsync(projection.GetAsync, v => v?.LastSequence == 2, StreamWait, "the projection applied #1 and #2");
        Assert.Equal(OrderStatus.StockReserved, waiting!.Status);

        var view = await Eventually.GetAsync(projection.GetAsync, v => v?.LastSequence == 5, ShopClusterFixture.ProjectionGapTimeout + StreamWait,
            "the projection gave up on #3 and applied #4 and #5");
        Assert.Equal(OrderStatus.Shipped, view!.Status);
        Assert.Equal(4, view.EventsApplied);

        // The lost event turns up at last: it is older than the view and is skipped.
        await PublishAsync(orderId, 3);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Equal(5, (await projection.GetAsync())!.LastSequence);
    }

    private async Task PublishAsync(Guid orderId, params int[] sequences)
    {
        var stream = fixture.Client.GetStreamProvider(OrderStreams.Provider)
            .GetStream<OrderEvent>(StreamId.Create(OrderStreams.EventsNamespace, orderId));
        foreach (var sequence in sequences)
        {
            var kind = sequence switch
            {
                1 => OrderEventKind.Placed,
                2 => OrderEventKind.StockReserved,
                3 => OrderEventKind.PaymentCaptured,
                // Not Confirmed: that would make the shipping grain ship an order that does not exist.
                4 => OrderEventKind.Cancelled,
                _ => OrderEventKind.Shipped,
            };
            await stream.OnNextAsync(new OrderEvent(Guid.NewGuid(), orderId, sequence, kind, DateTimeOffset.UtcNow, 7, 10m, "test"));
        }
    }
}
