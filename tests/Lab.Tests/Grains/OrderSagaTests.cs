using Dapper;
using Lab.Contracts;
using Lab.Tests.Scenarios;
using Lab.Tests.Support;

namespace Lab.Tests.Grains;

[Collection(ShopClusterCollection.Name)]
public sealed class OrderSagaTests(ShopClusterFixture fixture)
{
    private static readonly TimeSpan StreamWait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Checkout_confirms_charges_once_moves_stock_and_ships()
    {
        var before = await Stock("SKU-00003");
        var cart = fixture.Client.GetGrain<ICartGrain>(1);
        Assert.Equal(CartChangeOutcome.Changed, (await cart.AddItemAsync("SKU-00003", 2)).Outcome);

        var result = await cart.CheckoutAsync();

        Assert.Equal(CheckoutFailure.None, result.Failure);
        var order = result.Order!;
        Assert.Equal(OrderStatus.Confirmed, order.Status);
        Assert.NotNull(order.PaymentId);
        var after = await Stock("SKU-00003");
        Assert.Equal(before.Available - 2, after.Available);
        Assert.Equal(before.Sold + 2, after.Sold);
        Assert.Single(await fixture.Payments.Charges.GetByOrderAsync(order.OrderId));
        Assert.Empty((await cart.GetAsync())!.Lines);

        // Shipping and the projection follow from the order's events on the stream.
        var shipped = await Eventually.GetAsync(() => fixture.Client.GetGrain<IOrderGrain>(order.OrderId).GetAsync(),
            o => o?.Status == OrderStatus.Shipped, StreamWait, "order shipped");
        Assert.Equal(OrderStatus.Shipped, shipped!.Status);
        var view = await Eventually.GetAsync(() => fixture.Client.GetGrain<IOrderProjectionGrain>(order.OrderId).GetAsync(),
            v => v?.Status == OrderStatus.Shipped, StreamWait, "projection shows Shipped");
        Assert.Equal(5, view!.LastSequence);
        Assert.Equal(5, view.EventsApplied);
    }

    [Fact]
    public async Task Placing_the_same_order_twice_returns_the_first_outcome_and_charges_once()
    {
        var orderId = Guid.NewGuid();
        var order = fixture.Client.GetGrain<IOrderGrain>(orderId);
        OrderLine[] lines = [new("SKU-00004", 1, 10m)];

        var first = await order.PlaceAsync(2, lines);
        var second = await order.PlaceAsync(2, lines);

        Assert.Equal(OrderStatus.Confirmed, first.Order!.Status);
        Assert.Equal(first.Order.PaymentId, second.Order!.PaymentId);
        Assert.Single(await fixture.Payments.Charges.GetByOrderAsync(orderId));
    }

    [Fact]
    public async Task Checkout_beyond_stock_is_cancelled_and_releases_every_reservation()
    {
        var hot = await Stock("SKU-00001");
        var scarce = await Stock("SKU-00010");
        var cart = fixture.Client.GetGrain<ICartGrain>(3);
        await cart.AddItemAsync("SKU-00001", 1);
        await cart.AddItemAsync("SKU-00010", scarce.Available + 1);

        var result = await cart.CheckoutAsync();

        Assert.Equal(CheckoutFailure.OutOfStock, result.Failure);
        Assert.Equal(OrderStatus.Cancelled, result.Order!.Status);
        Assert.Contains("SKU-00010", result.Detail);
        // SKU-00001 was reserved first (SKU order) and must be back on the shelf.
        Assert.Equal(hot.Available, (await Stock("SKU-00001")).Available);
        Assert.Equal(scarce, await Stock("SKU-00010"));
        Assert.Empty(await fixture.Payments.Charges.GetByOrderAsync(result.Order.OrderId));
        Assert.Equal(2, (await cart.GetAsync())!.Lines.Count);
        await cart.RemoveItemAsync("SKU-00010");
    }

    [Fact]
    public async Task Payment_failure_cancels_the_order_and_returns_the_stock()
    {
        var before = await Stock("SKU-00005");
        var cart = fixture.Client.GetGrain<ICartGrain>(4);
        await cart.AddItemAsync("SKU-00005", 3);

        fixture.Payments.Down = true;
        CheckoutResult result;
        try
        {
            result = await cart.CheckoutAsync();
        }
        finally
        {
            fixture.Payments.Down = false;
        }

        Assert.Equal(CheckoutFailure.PaymentFailed, result.Failure);
        Assert.Equal(OrderStatus.Cancelled, result.Order!.Status);
        Assert.Contains("503", result.Detail);
        Assert.Equal(before, await Stock("SKU-00005"));
    }

    [Fact]
    public async Task Order_history_lists_the_newest_orders_with_their_lines()
    {
        using var connection = fixture.OpenShopDatabase();
        var customerId = await connection.ExecuteScalarAsync<long>(
            "SELECT customer_id FROM orders GROUP BY customer_id ORDER BY COUNT(*) DESC LIMIT 1");

        var history = await fixture.Client.GetGrain<ICustomerGrain>(customerId).GetOrderHistoryAsync(5);

        Assert.NotNull(history);
        Assert.Equal(5, history!.Count);
        Assert.True(history.Zip(history.Skip(1)).All(pair => pair.First.CreatedAt >= pair.Second.CreatedAt));
        Assert.All(history, order => Assert.NotEmpty(order.Lines));
        Assert.Null(await fixture.Client.GetGrain<ICustomerGrain>(999_999).GetOrderHistoryAsync(5));
    }

    [Fact]
    public async Task Cart_rejects_unknown_skus_customers_and_oversized_quantities()
    {
        var cart = fixture.Client.GetGrain<ICartGrain>(5);
        Assert.Equal(CartChangeOutcome.UnknownSku, (await cart.AddItemAsync("SKU-99999", 1)).Outcome);
        Assert.Equal(CartChangeOutcome.QuantityTooLarge, (await cart.AddItemAsync("SKU-00002", ShopLimits.MaxQuantityPerLine + 1)).Outcome);
        Assert.Equal(CartChangeOutcome.UnknownCustomer, (await fixture.Client.GetGrain<ICartGrain>(777_777).AddItemAsync("SKU-00002", 1)).Outcome);
        Assert.Empty((await cart.GetAsync())!.Lines);
    }

    private async Task<StockLevel> Stock(string sku) => (await fixture.Client.GetGrain<IInventoryGrain>(sku).GetStockAsync())!;
}

/// <summary>Reservations on a cluster whose reservations expire after 2 s: one never committed frees its stock.</summary>
[Collection(ShortReservationsClusterCollection.Name)]
public sealed class ReservationExpiryTests(ShortReservationsClusterFixture cluster)
{
    [Fact]
    public async Task A_reservation_not_committed_in_time_expires_and_its_stock_returns()
    {
        var inventory = cluster.Shop.Client.GetGrain<IInventoryGrain>("SKU-00020");
        var before = (await inventory.GetStockAsync())!;
        var orderId = Guid.NewGuid();

        Assert.Equal(ReservationOutcome.Reserved, (await inventory.ReserveAsync(orderId, 4)).Outcome);
        Assert.Equal(before.Available - 4, (await inventory.GetStockAsync())!.Available);
        await Eventually.GetAsync(() => inventory.GetStockAsync(), stock => stock!.Reserved == before.Reserved,
            ShortReservationsClusterFixture.ReservationTtl * 3, "reservation expired");

        Assert.Equal(CommitOutcome.NotReserved, await inventory.CommitAsync(orderId));
        Assert.Equal(before, await inventory.GetStockAsync());
    }
}
