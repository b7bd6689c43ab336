using Lab.Shop;
using Dapper;
using System.Data.Common;
using Lab.Contracts;

namespace Lab.Data;

/// <summary>Orders, their lines, and the order history of a customer.</summary>
public sealed class OrderRepository(LabDb db)
{
    private const string OrderColumns =
        "order_id, customer_id, status, total_cents, failure_reason, payment_id, created_at, updated_at, last_sequence";

    // The order's events go to its outbox in the transaction that changes the order: an event is never lost to a crash
    // between the write and the publish, nor with a stream queue (memory streams die with their silo). Consumers
    // acknowledge by deleting the rows they are done with (the projection in its own write, shipping through the order's
    // Shipped update); the recovery sweep publishes again what stays unacknowledged.
    private const string OutboxInsert =
        "INSERT INTO order_outbox (order_id, sequence, event_id, kind, occurred_at, detail) VALUES (@orderId, @sequence, @eventId, @kind, @occurredAt, @detail)";

    private static readonly DbOperation Insert = new(ShopOperations.OrderInsert, "orders", "INSERT",
        $"""
        INSERT INTO orders ({OrderColumns}) VALUES (@orderId, @customerId, @status, @totalCents, NULL, NULL, @createdAt, @createdAt, @sequence);
        INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_cents) VALUES (@orderId, @lineNo, @sku, @quantity, @unitPriceCents);
        {OutboxInsert}
        """);

    private static readonly DbOperation UpdateStatus = new(ShopOperations.OrderUpdateStatus, "orders", "UPDATE",
        $"""
        UPDATE orders SET status = @status, failure_reason = @failureReason, payment_id = @paymentId,
            updated_at = @updatedAt, last_sequence = @sequence
        WHERE order_id = @orderId AND last_sequence = @previous;
        {OutboxInsert};
        DELETE FROM order_outbox WHERE order_id = @orderId AND kind = 'Confirmed'
        """);

    private static readonly DbOperation Get = new(ShopOperations.OrderGet, "orders", "SELECT",
        $"""
        SELECT {OrderColumns} FROM orders WHERE order_id = @orderId;
        SELECT order_id, sku, quantity, unit_price_cents FROM order_lines WHERE order_id = @orderId ORDER BY line_no
        """);

    private static readonly DbOperation HistoryOrders = new(ShopOperations.CustomerOrderHistory, "orders", "SELECT",
        $"SELECT {OrderColumns} FROM orders WHERE customer_id = @customerId ORDER BY created_at DESC LIMIT @limit")
    {
        PlanSample = new { customerId = 1, limit = 20 },
    };

    // A list parameter is spelled per provider (IN @list expanded by Dapper, or = ANY(@array)).
    private readonly DbOperation _historyLines = new(ShopOperations.CustomerOrderHistoryLines, "order_lines", "SELECT",
        $"SELECT order_id, sku, quantity, unit_price_cents FROM order_lines WHERE {db.Dialect.InList("order_id", "@orderIds")} ORDER BY order_id, line_no");

    private static readonly DbOperation LinesOfOrder = new(ShopOperations.CustomerOrderLines, "order_lines", "SELECT",
        "SELECT order_id, sku, quantity, unit_price_cents FROM order_lines WHERE order_id = @orderId ORDER BY line_no");

    private static readonly DbOperation LastSequence = new(ShopOperations.OrderGet, "orders", "SELECT",
        "SELECT last_sequence FROM orders WHERE order_id = @orderId");

    private static readonly DbOperation OutboxOfOrder = new(ShopOperations.OrderOutbox, "order_outbox", "SELECT",
        "SELECT sequence, event_id, kind, occurred_at, detail FROM order_outbox WHERE order_id = @orderId ORDER BY sequence");

    /// <summary>Writes a new order, its lines and its first event (<paramref name="placed"/>) in one transaction.</summary>
    public Task<int> InsertAsync(Order order, OrderEvent placed, CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(Insert, async (connection, transaction) =>
        {
            var orderId = order.OrderId.ToString();
            var written = await connection.ExecuteAsync(new CommandDefinition(Insert.Parts[0], new
            {
                orderId,
                customerId = order.CustomerId,
                status = order.Status.ToString(),
                totalCents = ShopKeys.ToCents(order.Total),
                createdAt = ShopKeys.ToUnixMs(order.CreatedAt),
                sequence = placed.Sequence,
            }, transaction, cancellationToken: cancellationToken));
            written += await connection.ExecuteAsync(new CommandDefinition(Insert.Parts[1], order.Lines.Select((line, index) => new
            {
                orderId,
                lineNo = index + 1,
                sku = line.Sku,
                quantity = line.Quantity,
                unitPriceCents = ShopKeys.ToCents(line.UnitPrice),
            }), transaction, cancellationToken: cancellationToken));
            return written + await InsertOutboxAsync(connection, transaction, Insert.Parts[2], placed, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// Writes the order's new status and the event that announces it (<paramref name="advanced"/>) in one transaction,
    /// fenced: only over the event before it. An activation whose view of the order is stale (another one advanced it,
    /// while this one's silo was presumed dead) writes nothing.
    /// </summary>
    /// <exception cref="OrderFencedException">The order is no longer at the event before <paramref name="advanced"/>.</exception>
    public Task<int> UpdateStatusAsync(Order order, OrderEvent advanced, CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(UpdateStatus, async (connection, transaction) =>
        {
            var written = await connection.ExecuteAsync(new CommandDefinition(UpdateStatus.Parts[0], new
            {
                orderId = order.OrderId.ToString(),
                status = order.Status.ToString(),
                failureReason = order.FailureReason,
                paymentId = order.PaymentId,
                updatedAt = ShopKeys.ToUnixMs(order.UpdatedAt),
                sequence = advanced.Sequence,
                previous = advanced.Sequence - 1,
            }, transaction, cancellationToken: cancellationToken));
            if (written == 0)
            {
                throw new OrderFencedException(order.OrderId, advanced.Sequence - 1);
            }

            written += await InsertOutboxAsync(connection, transaction, UpdateStatus.Parts[1], advanced, cancellationToken);
            if (order.Status == OrderStatus.Shipped)
            {
                // Shipping acted on the confirmation: it acknowledged that event (the projection acknowledges the rest).
                written += await connection.ExecuteAsync(new CommandDefinition(UpdateStatus.Parts[2],
                    new { orderId = order.OrderId.ToString() }, transaction, cancellationToken: cancellationToken));
            }

            return written;
        }, cancellationToken);

    private static Task<int> InsertOutboxAsync(DbConnection connection, DbTransaction transaction, string statement, OrderEvent orderEvent,
        CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(statement, new
        {
            orderId = orderEvent.OrderId.ToString(),
            sequence = orderEvent.Sequence,
            eventId = orderEvent.EventId.ToString(),
            kind = orderEvent.Kind.ToString(),
            occurredAt = ShopKeys.ToUnixMs(orderEvent.Timestamp),
            detail = orderEvent.Detail,
        }, transaction, cancellationToken: cancellationToken));

    /// <summary>The sequence of the order's last event as stored: what an activation compares with its own before it compensates.</summary>
    public Task<long?> GetLastSequenceAsync(Guid orderId, CancellationToken cancellationToken = default) =>
        db.RunAsync(LastSequence, connection => connection.ExecuteScalarAsync<long?>(new CommandDefinition(LastSequence.Statement,
            new { orderId = orderId.ToString() }, cancellationToken: cancellationToken)), cancellationToken);

    /// <summary>The order's events still in its outbox (not yet acknowledged by its consumers), in sequence.</summary>
    public Task<IReadOnlyList<OrderEvent>> GetOutboxAsync(Order order, CancellationToken cancellationToken = default) =>
        db.RunAsync(OutboxOfOrder, async connection =>
        {
            var rows = await connection.QueryAsync<OutboxRow>(new CommandDefinition(OutboxOfOrder.Statement,
                new { orderId = order.OrderId.ToString() }, cancellationToken: cancellationToken));
            return (IReadOnlyList<OrderEvent>)rows.Select(row => new OrderEvent(Guid.Parse(row.event_id), order.OrderId, row.sequence,
                Enum.Parse<OrderEventKind>(row.kind), ShopKeys.FromUnixMs(row.occurred_at), order.CustomerId, order.Total, row.detail)).ToList();
        }, cancellationToken);

    public Task<StoredOrder?> GetAsync(Guid orderId, CancellationToken cancellationToken = default) =>
        db.RunAsync(Get, async connection =>
        {
            await using var results = await connection.QueryMultipleAsync(
                new CommandDefinition(Get.Statement, new { orderId = orderId.ToString() }, cancellationToken: cancellationToken));
            var row = await results.ReadSingleOrDefaultAsync<OrderRow>();
            var lines = (await results.ReadAsync<LineRow>()).ToList();
            return row is null ? null : new StoredOrder(ToOrder(row, lines), row.last_sequence);
        }, cancellationToken);

    /// <summary>The newest orders of a customer with their lines, in two queries whatever the history length.</summary>
    public async Task<List<Order>> GetHistoryAsync(int customerId, int limit, CancellationToken cancellationToken = default)
    {
        var orders = await LoadHistoryOrdersAsync(customerId, limit, cancellationToken);
        if (orders.Count == 0)
        {
            return [];
        }

        var lines = await db.RunAsync(_historyLines, async connection =>
            (await connection.QueryAsync<LineRow>(new CommandDefinition(_historyLines.Statement,
                new { orderIds = orders.Select(order => order.order_id).ToArray() }, cancellationToken: cancellationToken))).ToList(),
            cancellationToken);
        var linesByOrder = lines.ToLookup(line => line.order_id);
        return orders.Select(order => ToOrder(order, linesByOrder[order.order_id])).ToList();
    }

    /// <summary>The same history loaded the naive way: the orders, then one query per order for its lines (N+1).</summary>
    public async Task<List<Order>> GetHistoryOneByOneAsync(int customerId, int limit, CancellationToken cancellationToken = default)
    {
        var orders = await LoadHistoryOrdersAsync(customerId, limit, cancellationToken);
        var result = new List<Order>(orders.Count);
        foreach (var order in orders)
        {
            var lines = await db.RunAsync(LinesOfOrder, async connection =>
                (await connection.QueryAsync<LineRow>(new CommandDefinition(LinesOfOrder.Statement,
                    new { orderId = order.order_id }, cancellationToken: cancellationToken))).ToList(), cancellationToken);
            result.Add(ToOrder(order, lines));
        }

        return result;
    }

    private Task<List<OrderRow>> LoadHistoryOrdersAsync(int customerId, int limit, CancellationToken cancellationToken) =>
        db.RunAsync(HistoryOrders, async connection =>
            (await connection.QueryAsync<OrderRow>(new CommandDefinition(HistoryOrders.Statement,
                new { customerId, limit }, cancellationToken: cancellationToken))).ToList(), cancellationToken);

    /// <summary>
    /// Orders that need the recovery sweep: mid-saga (not confirmed, shipped or cancelled) and untouched since
    /// <paramref name="untouchedSince"/>, or holding an event that old in their outbox (its consumers did not acknowledge
    /// it: the stream lost it with a silo, or a consumer failed). Housekeeping outside the traced pipeline: it is not a shop call
    /// and must not count against the shop's pool or telemetry.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> FindUnsettledAsync(DateTimeOffset untouchedSince, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenUntracedAsync(cancellationToken);
        var ids = await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT order_id FROM (
                SELECT order_id FROM orders WHERE status NOT IN ('Confirmed', 'Shipped', 'Cancelled') AND updated_at < @before
                UNION
                SELECT order_id FROM order_outbox WHERE occurred_at < @before) unsettled
            LIMIT @limit
            """, new { before = ShopKeys.ToUnixMs(untouchedSince), limit }, cancellationToken: cancellationToken));
        return ids.Select(Guid.Parse).ToList();
    }

    private static Order ToOrder(OrderRow row, IEnumerable<LineRow> lines) => new(
        Guid.Parse(row.order_id),
        (int)row.customer_id,
        Enum.Parse<OrderStatus>(row.status),
        ShopKeys.FromCents(row.total_cents),
        lines.Select(line => new OrderLine(line.sku, (int)line.quantity, ShopKeys.FromCents(line.unit_price_cents))).ToList(),
        row.failure_reason,
        row.payment_id,
        ShopKeys.FromUnixMs(row.created_at),
        ShopKeys.FromUnixMs(row.updated_at));

    private sealed record OrderRow(string order_id, long customer_id, string status, long total_cents, string? failure_reason,
        string? payment_id, long created_at, long updated_at, long last_sequence);

    private sealed record OutboxRow(long sequence, string event_id, string kind, long occurred_at, string? detail);

    private sealed record LineRow(string order_id, string sku, long quantity, long unit_price_cents);
}

public sealed record StoredOrder(Order Order, long LastSequence);

/// <summary>
/// An order activation tried to write over a newer state of its order: another activation of the same order (started
/// while this one's silo was presumed dead) has advanced it. The stale activation must stop, and compensate nothing.
/// </summary>
[GenerateSerializer]
public sealed class OrderFencedException : Exception
{
    public OrderFencedException()
    {
    }

    public OrderFencedException(Guid orderId, long expected)
        : base($"Order {orderId} is no longer at event #{expected}: another activation advanced it; this one is stale.")
    {
        OrderId = orderId;
        Expected = expected;
    }

    public OrderFencedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    [Id(0)]
    public Guid OrderId { get; private set; }

    [Id(1)]
    public long Expected { get; private set; }
}
