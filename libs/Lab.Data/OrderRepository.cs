using Lab.Shop;
using Dapper;
using Lab.Contracts;

namespace Lab.Data;

/// <summary>Orders, their lines, and the order history of a customer.</summary>
public sealed class OrderRepository(LabDb db)
{
    private const string OrderColumns =
        "order_id, customer_id, status, total_cents, failure_reason, payment_id, created_at, updated_at, last_sequence";

    private static readonly DbOperation Insert = new(ShopOperations.OrderInsert, "orders", "INSERT",
        $"""
        INSERT INTO orders ({OrderColumns}) VALUES (@orderId, @customerId, @status, @totalCents, NULL, NULL, @createdAt, @createdAt, @sequence);
        INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_cents) VALUES (@orderId, @lineNo, @sku, @quantity, @unitPriceCents)
        """);

    private static readonly DbOperation UpdateStatus = new(ShopOperations.OrderUpdateStatus, "orders", "UPDATE",
        """
        UPDATE orders SET status = @status, failure_reason = @failureReason, payment_id = @paymentId,
            updated_at = @updatedAt, last_sequence = @sequence
        WHERE order_id = @orderId
        """);

    private static readonly DbOperation Get = new(ShopOperations.OrderGet, "orders", "SELECT",
        $"""
        SELECT {OrderColumns} FROM orders WHERE order_id = @orderId;
        SELECT order_id, sku, quantity, unit_price_cents FROM order_lines WHERE order_id = @orderId ORDER BY line_no
        """);

    private static readonly DbOperation HistoryOrders = new(ShopOperations.CustomerOrderHistory, "orders", "SELECT",
        $"SELECT {OrderColumns} FROM orders WHERE customer_id = @customerId ORDER BY created_at DESC LIMIT @limit");

    // A list parameter is spelled per provider (IN @list expanded by Dapper, or = ANY(@array)).
    private readonly DbOperation _historyLines = new(ShopOperations.CustomerOrderHistoryLines, "order_lines", "SELECT",
        $"SELECT order_id, sku, quantity, unit_price_cents FROM order_lines WHERE {db.Dialect.InList("order_id", "@orderIds")} ORDER BY order_id, line_no");

    private static readonly DbOperation LinesOfOrder = new(ShopOperations.CustomerOrderLines, "order_lines", "SELECT",
        "SELECT order_id, sku, quantity, unit_price_cents FROM order_lines WHERE order_id = @orderId ORDER BY line_no");

    public Task<int> InsertAsync(Order order, long sequence, CancellationToken cancellationToken = default) =>
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
                sequence,
            }, transaction, cancellationToken: cancellationToken));
            written += await connection.ExecuteAsync(new CommandDefinition(Insert.Parts[1], order.Lines.Select((line, index) => new
            {
                orderId,
                lineNo = index + 1,
                sku = line.Sku,
                quantity = line.Quantity,
                unitPriceCents = ShopKeys.ToCents(line.UnitPrice),
            }), transaction, cancellationToken: cancellationToken));
            return written;
        }, cancellationToken);

    public Task<int> UpdateStatusAsync(Order order, long sequence, CancellationToken cancellationToken = default) =>
        db.RunAsync(UpdateStatus, connection => connection.ExecuteAsync(new CommandDefinition(UpdateStatus.Statement, new
        {
            orderId = order.OrderId.ToString(),
            status = order.Status.ToString(),
            failureReason = order.FailureReason,
            paymentId = order.PaymentId,
            updatedAt = ShopKeys.ToUnixMs(order.UpdatedAt),
            sequence,
        }, cancellationToken: cancellationToken)), cancellationToken);

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
    /// Orders untouched since <paramref name="untouchedSince"/> that are still mid-saga (not confirmed, shipped or
    /// cancelled) or whose order-status view disagrees with them (an event the stream lost). Housekeeping outside
    /// the traced pipeline: it is not a shop call and must not count against the shop's pool or telemetry.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> FindUnsettledAsync(DateTimeOffset untouchedSince, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenUntracedAsync(cancellationToken);
        var ids = await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT o.order_id FROM orders o LEFT JOIN order_status_view v ON v.order_id = o.order_id
            WHERE o.updated_at < @before
                AND (o.status NOT IN ('Confirmed', 'Shipped', 'Cancelled') OR v.order_id IS NULL OR v.status <> o.status)
            ORDER BY o.updated_at LIMIT @limit
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

    private sealed record LineRow(string order_id, string sku, long quantity, long unit_price_cents);
}

public sealed record StoredOrder(Order Order, long LastSequence);
