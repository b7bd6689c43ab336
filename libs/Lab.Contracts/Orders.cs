namespace Lab.Contracts;

public enum OrderStatus
{
    Placed,
    StockReserved,
    PaymentCaptured,
    Confirmed,
    Shipped,
    Cancelled,
}

public static class OrderStatusExtensions
{
    /// <summary>A final order no longer moves through the saga (shipping may still follow confirmation).</summary>
    public static bool IsFinal(this OrderStatus status) =>
        status is OrderStatus.Confirmed or OrderStatus.Shipped or OrderStatus.Cancelled;
}

[GenerateSerializer, Immutable, Alias("Lab.OrderLine")]
public sealed record OrderLine(
    [property: Id(0)] string Sku,
    [property: Id(1)] int Quantity,
    [property: Id(2)] decimal UnitPrice);

[GenerateSerializer, Immutable, Alias("Lab.Order")]
public sealed record Order(
    [property: Id(0)] Guid OrderId,
    [property: Id(1)] int CustomerId,
    [property: Id(2)] OrderStatus Status,
    [property: Id(3)] decimal Total,
    [property: Id(4)] IReadOnlyList<OrderLine> Lines,
    [property: Id(5)] string? FailureReason,
    [property: Id(6)] string? PaymentId,
    [property: Id(7)] DateTimeOffset CreatedAt,
    [property: Id(8)] DateTimeOffset UpdatedAt);

/// <summary>Why a checkout did not confirm; the storefront maps it to an HTTP status.</summary>
public enum CheckoutFailure
{
    None,
    UnknownCustomer,
    EmptyCart,
    OutOfStock,
    PaymentFailed,

    /// <summary>The caller's deadline passed before the order could be confirmed (timeout-cascade with its cure).</summary>
    TimedOut,
}

[GenerateSerializer, Immutable, Alias("Lab.CheckoutResult")]
public sealed record CheckoutResult(
    [property: Id(0)] Order? Order,
    [property: Id(1)] CheckoutFailure Failure,
    [property: Id(2)] string? Detail);

/// <summary>An order as a saga (key: order id): reserve every line, charge, confirm; compensate on failure.</summary>
[Alias("Lab.IOrderGrain")]
public interface IOrderGrain : IGrainWithGuidKey
{
    [Alias("Place")]
    Task<CheckoutResult> PlaceAsync(int customerId, IReadOnlyList<OrderLine> lines);

    [Alias("Get")]
    Task<Order?> GetAsync();

    /// <summary>Called by shipping once the confirmed order left the warehouse.</summary>
    [Alias("MarkShipped")]
    Task MarkShippedAsync(string shipmentId);

    /// <summary>
    /// Recovery: publishes again the events of the order's outbox that no consumer acknowledged (a stream lost them with a
    /// silo), and resumes a saga that stopped mid-way.
    /// </summary>
    [Alias("Recover")]
    Task RecoverAsync();
}

public enum OrderEventKind
{
    Placed,
    StockReserved,
    PaymentCaptured,
    Confirmed,
    Shipped,
    Cancelled,
}

/// <summary>A domain event on the order stream; <see cref="Sequence"/> counts from 1 per order.</summary>
[GenerateSerializer, Immutable, Alias("Lab.OrderEvent")]
public sealed record OrderEvent(
    [property: Id(0)] Guid EventId,
    [property: Id(1)] Guid OrderId,
    [property: Id(2)] long Sequence,
    [property: Id(3)] OrderEventKind Kind,
    [property: Id(4)] DateTimeOffset Timestamp,
    [property: Id(5)] int CustomerId,
    [property: Id(6)] decimal Total,
    [property: Id(7)] string? Detail);

public static class OrderStreams
{
    /// <summary>Stream provider name, on silos and clients alike.</summary>
    public const string Provider = "orders";

    /// <summary>Namespace of the per-order event streams (stream key: order id).</summary>
    public const string EventsNamespace = "order-events";
}

[GenerateSerializer, Immutable, Alias("Lab.OrderStatusView")]
public sealed record OrderStatusView(
    [property: Id(0)] Guid OrderId,
    [property: Id(1)] OrderStatus Status,
    [property: Id(2)] long LastSequence,
    [property: Id(3)] int EventsApplied,
    [property: Id(4)] DateTimeOffset UpdatedAt);

/// <summary>The read model of one order, built from its events (key: order id).</summary>
[Alias("Lab.IOrderProjectionGrain")]
public interface IOrderProjectionGrain : IGrainWithGuidKey
{
    [Alias("Get")]
    Task<OrderStatusView?> GetAsync();
}

/// <summary>Ships confirmed orders (key: order id); subscribes to the order's events.</summary>
[Alias("Lab.IShippingGrain")]
public interface IShippingGrain : IGrainWithGuidKey
{
    [Alias("GetShipment")]
    Task<string?> GetShipmentIdAsync();
}

/// <summary>
/// Forwards one order's events to the order feed's subscribers (key: order id); subscribes to the order's events. How it
/// delivers (batched and bounded, or every event to every subscriber at once) is the order-feed-delivery seam's.
/// </summary>
[Alias("Lab.IOrderFeedGrain")]
public interface IOrderFeedGrain : IGrainWithGuidKey
{
}

/// <summary>A subscriber of the order feed (a partner system: loyalty, analytics, e-mail, ...); key: its number from 1.</summary>
[Alias("Lab.IOrderSubscriberGrain")]
public interface IOrderSubscriberGrain : IGrainWithIntegerKey
{
    /// <summary>Takes a batch of order events (one event when delivered one by one).</summary>
    [Alias("Deliver")]
    Task DeliverAsync(IReadOnlyList<OrderEvent> events);
}

/// <summary>Sales since a moment: totals, totals by order status and the best-selling SKUs, read in one transaction.</summary>
/// <param name="Isolation">The isolation level the report's reads ran at.</param>
[GenerateSerializer, Immutable, Alias("Lab.SalesReport")]
public sealed record SalesReport(
    [property: Id(0)] DateTimeOffset Since,
    [property: Id(1)] long Orders,
    [property: Id(2)] decimal Total,
    [property: Id(3)] IReadOnlyList<SalesByStatus> ByStatus,
    [property: Id(4)] IReadOnlyList<SkuSales> TopProducts,
    [property: Id(5)] string Isolation);

[GenerateSerializer, Immutable, Alias("Lab.SalesByStatus")]
public sealed record SalesByStatus([property: Id(0)] string Status, [property: Id(1)] long Orders, [property: Id(2)] decimal Total);

[GenerateSerializer, Immutable, Alias("Lab.SkuSales")]
public sealed record SkuSales([property: Id(0)] string Sku, [property: Id(1)] long Units);

/// <summary>The back office's reports (a stateless worker: reports are independent reads).</summary>
[Alias("Lab.IReportGrain")]
public interface IReportGrain : IGrainWithIntegerKey
{
    [Alias("Sales")]
    Task<SalesReport> SalesAsync(DateTimeOffset since);
}

/// <summary>What a replay of the dead letters did: how many events went back to their orders' outboxes, for how many orders.</summary>
[GenerateSerializer, Immutable, Alias("Lab.DeadLetterReplay")]
public sealed record DeadLetterReplay([property: Id(0)] int Orders);

/// <summary>The order events parked as dead letters, and their replay once what failed them is fixed (a stateless worker).</summary>
[Alias("Lab.IDeadLetterGrain")]
public interface IDeadLetterGrain : IGrainWithIntegerKey
{
    /// <summary>Puts every dead letter back in its order's outbox and has each order publish them again.</summary>
    [Alias("Replay")]
    Task<DeadLetterReplay> ReplayAsync();
}
