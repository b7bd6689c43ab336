using Lab.Shop;
using Dapper;
using Lab.Contracts;

namespace Lab.Data;

/// <summary>The order-status read model and the shipments table, both written by stream consumers.</summary>
public sealed class ProjectionRepository(LabDb db)
{
    private static readonly DbOperation GetView = new(ShopOperations.ProjectionGet, "order_status_view", "SELECT",
        "SELECT order_id, status, last_sequence, events_applied, updated_at FROM order_status_view WHERE order_id = @orderId");

    private static readonly DbOperation SaveView = new(ShopOperations.ProjectionSave, "order_status_view", "INSERT",
        """
        INSERT INTO order_status_view (order_id, status, last_sequence, events_applied, updated_at)
        VALUES (@orderId, @status, @lastSequence, @eventsApplied, @updatedAt)
        ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, last_sequence = excluded.last_sequence,
            events_applied = excluded.events_applied, updated_at = excluded.updated_at
        """);

    private static readonly DbOperation GetShipment = new(ShopOperations.ShippingGet, "shipments", "SELECT",
        "SELECT shipment_id FROM shipments WHERE order_id = @orderId");

    private static readonly DbOperation InsertShipment = new(ShopOperations.ShippingInsert, "shipments", "INSERT",
        "INSERT INTO shipments (shipment_id, order_id, created_at) VALUES (@shipmentId, @orderId, @createdAt) ON CONFLICT (order_id) DO NOTHING");

    public Task<OrderStatusView?> GetViewAsync(Guid orderId, CancellationToken cancellationToken = default) =>
        db.RunAsync(GetView, async connection =>
        {
            var row = await connection.QuerySingleOrDefaultAsync<ViewRow>(
                new CommandDefinition(GetView.Statement, new { orderId = orderId.ToString() }, cancellationToken: cancellationToken));
            return row is null
                ? null
                : new OrderStatusView(orderId, Enum.Parse<OrderStatus>(row.status), row.last_sequence, (int)row.events_applied,
                    ShopKeys.FromUnixMs(row.updated_at));
        }, cancellationToken);

    public Task<int> SaveViewAsync(OrderStatusView view, CancellationToken cancellationToken = default) =>
        db.RunAsync(SaveView, connection => connection.ExecuteAsync(new CommandDefinition(SaveView.Statement, new
        {
            orderId = view.OrderId.ToString(),
            status = view.Status.ToString(),
            lastSequence = view.LastSequence,
            eventsApplied = view.EventsApplied,
            updatedAt = ShopKeys.ToUnixMs(view.UpdatedAt),
        }, cancellationToken: cancellationToken)), cancellationToken);

    public Task<string?> GetShipmentIdAsync(Guid orderId, CancellationToken cancellationToken = default) =>
        db.RunAsync(GetShipment, connection => connection.ExecuteScalarAsync<string?>(
            new CommandDefinition(GetShipment.Statement, new { orderId = orderId.ToString() }, cancellationToken: cancellationToken)),
            cancellationToken);

    /// <returns>The shipment id stored for the order (the existing one if it was shipped before).</returns>
    public Task<string> InsertShipmentAsync(Guid orderId, string shipmentId, DateTimeOffset createdAt, CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(InsertShipment, async (connection, transaction) =>
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertShipment.Statement,
                new { shipmentId, orderId = orderId.ToString(), createdAt = ShopKeys.ToUnixMs(createdAt) }, transaction,
                cancellationToken: cancellationToken));
            return await connection.ExecuteScalarAsync<string>(new CommandDefinition(GetShipment.Statement,
                new { orderId = orderId.ToString() }, transaction, cancellationToken: cancellationToken)) ?? shipmentId;
        }, cancellationToken);

    private sealed record ViewRow(string order_id, string status, long last_sequence, long events_applied, long updated_at);
}
