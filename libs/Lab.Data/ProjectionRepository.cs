using Lab.Shop;
using Dapper;
using Lab.Contracts;

namespace Lab.Data;

/// <summary>The order-status read model and the shipments table, both written by stream consumers.</summary>
public sealed class ProjectionRepository(LabDb db)
{
    private static readonly DbOperation GetView = new(ShopOperations.ProjectionGet, "order_status_view", "SELECT",
        "SELECT order_id, status, last_sequence, events_applied, updated_at FROM order_status_view WHERE order_id = @orderId");

    private const string UpsertView = """
        INSERT INTO order_status_view (order_id, status, last_sequence, events_applied, updated_at)
        VALUES (@orderId, @status, @lastSequence, @eventsApplied, @updatedAt)
        ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, last_sequence = excluded.last_sequence,
            events_applied = excluded.events_applied, updated_at = excluded.updated_at
        """;

    private const string AcknowledgeApplied = "DELETE FROM order_outbox WHERE order_id = @orderId AND sequence <= @lastSequence AND kind <> 'Confirmed'";

    private static readonly DbOperation SaveView = new(ShopOperations.ProjectionSave, "order_status_view", "INSERT",
        $"""
        {UpsertView};
        {AcknowledgeApplied}
        """);

    // Forward only: a view is never written over a newer one, whichever activation of the projection holds the older
    // one in memory (two can live at once for a moment when a silo is presumed dead).
    private static readonly DbOperation SaveViewForward = new(ShopOperations.ProjectionSave, "order_status_view", "INSERT",
        $"""
        {UpsertView}
            WHERE order_status_view.last_sequence < excluded.last_sequence;
        {AcknowledgeApplied}
        """);

    private static readonly DbOperation Acknowledge = new(ShopOperations.ProjectionAcknowledge, "order_outbox", "DELETE", AcknowledgeApplied);

    private static readonly DbOperation DeadLetter = new(ShopOperations.ProjectionDeadLetter, "order_dead_letters", "INSERT",
        """
        INSERT INTO order_dead_letters (order_id, sequence, event_id, kind, occurred_at, detail, attempts, reason, dead_lettered_at)
        VALUES (@orderId, @sequence, @eventId, @kind, @occurredAt, @detail, @attempts, @reason, @now) ON CONFLICT (order_id, sequence) DO NOTHING;
        DELETE FROM order_outbox WHERE order_id = @orderId AND sequence = @sequence
        """);

    private static readonly DbOperation Replay = new(ShopOperations.ProjectionReplayDeadLetters, "order_dead_letters", "DELETE",
        """
        SELECT DISTINCT order_id FROM order_dead_letters;
        INSERT INTO order_outbox (order_id, sequence, event_id, kind, occurred_at, detail)
            -- "WHERE true": SQLite would read the ON of ON CONFLICT as a join's
            SELECT order_id, sequence, event_id, kind, occurred_at, detail FROM order_dead_letters WHERE true ON CONFLICT (order_id, sequence) DO NOTHING;
        DELETE FROM order_dead_letters
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

    /// <summary>
    /// Saves the view and, in the same transaction, acknowledges the events it has applied: their outbox rows go
    /// (a confirmation stays until shipping has acted on it).
    /// </summary>
    /// <param name="forwardOnly">Write only over an older view (the shop's own projection); false writes whatever it is given.</param>
    /// <returns>False when a newer view was already stored and this one was not written.</returns>
    public Task<bool> SaveViewAsync(OrderStatusView view, bool forwardOnly, CancellationToken cancellationToken = default)
    {
        var operation = forwardOnly ? SaveViewForward : SaveView;
        return db.InTransactionAsync(operation, async (connection, transaction) =>
        {
            var orderId = view.OrderId.ToString();
            var written = await connection.ExecuteAsync(new CommandDefinition(operation.Parts[0], new
            {
                orderId,
                status = view.Status.ToString(),
                lastSequence = view.LastSequence,
                eventsApplied = view.EventsApplied,
                updatedAt = ShopKeys.ToUnixMs(view.UpdatedAt),
            }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(operation.Parts[1],
                new { orderId, lastSequence = view.LastSequence }, transaction, cancellationToken: cancellationToken));
            return written > 0;
        }, cancellationToken);
    }

    /// <summary>Acknowledges the order's events up to <paramref name="lastSequence"/> (a confirmation stays until shipping has acted on it).</summary>
    public Task<int> AcknowledgeAsync(Guid orderId, long lastSequence, CancellationToken cancellationToken = default) =>
        db.RunAsync(Acknowledge, connection => connection.ExecuteAsync(new CommandDefinition(Acknowledge.Statement,
            new { orderId = orderId.ToString(), lastSequence }, cancellationToken: cancellationToken)), cancellationToken);

    /// <summary>
    /// Parks an event its consumer could not process: it goes to order_dead_letters and leaves the outbox in one
    /// transaction, so nothing publishes it again until someone replays it (<see cref="ReplayDeadLettersAsync"/>).
    /// </summary>
    /// <returns>True when the event was parked now, false when it was parked already (two deliveries of it failed at once).</returns>
    public Task<bool> DeadLetterAsync(OrderEvent orderEvent, int attempts, string reason, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(DeadLetter, async (connection, transaction) =>
        {
            var row = new
            {
                orderId = orderEvent.OrderId.ToString(),
                sequence = orderEvent.Sequence,
                eventId = orderEvent.EventId.ToString(),
                kind = orderEvent.Kind.ToString(),
                occurredAt = ShopKeys.ToUnixMs(orderEvent.Timestamp),
                detail = orderEvent.Detail,
                attempts,
                reason = reason.Length > 500 ? reason[..500] : reason,
                now = ShopKeys.ToUnixMs(now),
            };
            var parked = await connection.ExecuteAsync(new CommandDefinition(DeadLetter.Parts[0], row, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(DeadLetter.Parts[1], row, transaction, cancellationToken: cancellationToken));
            return parked > 0;
        }, cancellationToken);

    /// <summary>Puts every dead letter back in its order's outbox (to be published again) and returns the orders they belong to.</summary>
    public Task<IReadOnlyList<Guid>> ReplayDeadLettersAsync(CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(Replay, async (connection, transaction) =>
        {
            var orders = (await connection.QueryAsync<string>(new CommandDefinition(Replay.Parts[0], transaction: transaction, cancellationToken: cancellationToken)))
                .Select(Guid.Parse).ToList();
            await connection.ExecuteAsync(new CommandDefinition(Replay.Parts[1], transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(Replay.Parts[2], transaction: transaction, cancellationToken: cancellationToken));
            return (IReadOnlyList<Guid>)orders;
        }, cancellationToken);

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
