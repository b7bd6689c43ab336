using Lab.Shop;
using Dapper;
using Lab.Contracts;

namespace Lab.Data;

/// <summary>Stock rows and reservations. Every change keeps available + reserved + sold = initial stock.</summary>
public sealed class InventoryRepository(LabDb db)
{
    // A list parameter is spelled per provider (IN @list expanded by Dapper, or = ANY(@array)).
    private readonly DbOperation _readLevels = new(ShopOperations.InventoryReadLevels, "inventory", "SELECT",
        $"SELECT sku, initial_stock, available, reserved, sold, version FROM inventory WHERE {db.Dialect.InList("sku", "@skus")}");

    private static readonly DbOperation Load = new(ShopOperations.InventoryLoad, "inventory", "SELECT",
        """
        SELECT sku, initial_stock, available, reserved, sold, version FROM inventory WHERE sku = @sku;
        SELECT order_id, quantity, expires_at FROM reservations WHERE sku = @sku;
        """);

    private static readonly DbOperation Reserve = new(ShopOperations.InventoryReserve, "inventory", "UPDATE",
        """
        UPDATE inventory SET available = available - @quantity, reserved = reserved + @quantity, version = version + 1
        WHERE sku = @sku AND available >= @quantity;
        INSERT INTO reservations (order_id, sku, quantity, expires_at) VALUES (@orderId, @sku, @quantity, @expiresAt) ON CONFLICT (order_id, sku) DO NOTHING;
        """);

    private static readonly DbOperation Commit = new(ShopOperations.InventoryCommit, "inventory", "UPDATE",
        """
        DELETE FROM reservations WHERE order_id = @orderId AND sku = @sku;
        UPDATE inventory SET reserved = reserved - @quantity, sold = sold + @quantity, version = version + 1 WHERE sku = @sku;
        """);

    private static readonly DbOperation Release = new(ShopOperations.InventoryRelease, "inventory", "UPDATE",
        """
        DELETE FROM reservations WHERE order_id = @orderId AND sku = @sku;
        UPDATE inventory SET reserved = reserved - @quantity, available = available + @quantity, version = version + 1 WHERE sku = @sku;
        """);

    private static readonly DbOperation Return = new(ShopOperations.InventoryReturn, "inventory", "UPDATE",
        "UPDATE inventory SET sold = sold - @quantity, available = available + @quantity, version = version + 1 WHERE sku = @sku AND sold >= @quantity");

    private static readonly DbOperation Restock = new(ShopOperations.InventoryRestock, "inventory", "UPDATE",
        "UPDATE inventory SET initial_stock = initial_stock + @quantity, available = available + @quantity, version = version + 1 WHERE sku = @sku");


    // A whole level written back: whatever changed the row since it was read is overwritten...
    private static readonly DbOperation WriteLevel = new(ShopOperations.InventoryWriteLevel, "inventory", "UPDATE",
        "UPDATE inventory SET initial_stock = @initialStock, available = @available, version = version + 1 WHERE sku = @sku");

    // ...unless the write checks that the row still has the version it was read at.
    private static readonly DbOperation WriteLevelVersioned = new(ShopOperations.InventoryWriteLevelVersioned, "inventory", "UPDATE",
        "UPDATE inventory SET initial_stock = @initialStock, available = @available, version = version + 1 WHERE sku = @sku AND version = @version");

    public Task<InventoryRecord?> LoadAsync(string sku, CancellationToken cancellationToken = default) =>
        db.RunAsync(Load, async connection =>
        {
            await using var results = await connection.QueryMultipleAsync(
                new CommandDefinition(Load.Statement, new { sku }, cancellationToken: cancellationToken));
            var stock = await results.ReadSingleOrDefaultAsync<StockRow>();
            var reservations = (await results.ReadAsync<ReservationRow>())
                .Select(row => new ReservationRecord(Guid.Parse(row.order_id), (int)row.quantity, ShopKeys.FromUnixMs(row.expires_at)))
                .ToList();
            return stock is null
                ? null
                : new InventoryRecord(stock.ToLevel(), reservations);
        }, cancellationToken, sku);

    /// <returns>False when the row no longer had the stock (nothing was written).</returns>
    /// <summary>Holds stock for an order: the stock row and the reservation in one transaction.</summary>
    /// <returns>
    /// <see cref="ReservationWrite.Reserved"/>; <see cref="ReservationWrite.OutOfStock"/> when the row has too little available;
    /// <see cref="ReservationWrite.AlreadyThere"/> when a reservation of this order is stored already (written by another
    /// activation of the SKU's grain, e.g. one whose silo was presumed dead): nothing is written, the caller reloads.
    /// </returns>
    public Task<ReservationWrite> ReserveAsync(string sku, ReservationRecord reservation, CancellationToken cancellationToken = default) =>
        db.InTransactionAsync(Reserve, async (connection, transaction) =>
        {
            // Two statements, one transaction: the guard on available makes the insert conditional, and the insert the update.
            var updated = await connection.ExecuteAsync(new CommandDefinition(Reserve.Parts[0],
                new { sku, quantity = reservation.Quantity }, transaction, cancellationToken: cancellationToken));
            if (updated == 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                return ReservationWrite.OutOfStock;
            }

            var inserted = await connection.ExecuteAsync(new CommandDefinition(Reserve.Parts[1],
                new { orderId = reservation.OrderId.ToString(), sku, quantity = reservation.Quantity, expiresAt = ShopKeys.ToUnixMs(reservation.ExpiresAt) },
                transaction, cancellationToken: cancellationToken));
            if (inserted == 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                return ReservationWrite.AlreadyThere;
            }

            return ReservationWrite.Reserved;
        }, cancellationToken, sku);

    /// <summary>
    /// SKUs holding reservations that expired before <paramref name="expiredBefore"/>. Their grain releases them, but only
    /// while it is active: one whose silo died with it is activated again only by the next call for that SKU. Housekeeping
    /// outside the traced pipeline, like <see cref="OrderRepository.FindUnsettledAsync"/>.
    /// </summary>
    public async Task<IReadOnlyList<string>> FindExpiredReservationSkusAsync(DateTimeOffset expiredBefore, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenUntracedAsync(cancellationToken);
        return (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT sku FROM reservations WHERE expires_at < @before ORDER BY sku LIMIT @limit",
            new { before = ShopKeys.ToUnixMs(expiredBefore), limit }, cancellationToken: cancellationToken))).ToList();
    }

    public Task<bool> ReturnAsync(string sku, int quantity, CancellationToken cancellationToken = default) =>
        db.RunAsync(Return, async connection => await connection.ExecuteAsync(
            new CommandDefinition(Return.Statement, new { sku, quantity }, cancellationToken: cancellationToken)) == 1, cancellationToken, sku);

    public Task<bool> CommitAsync(string sku, ReservationRecord reservation, CancellationToken cancellationToken = default) =>
        MoveReservationAsync(Commit, sku, reservation, cancellationToken);

    public Task<bool> ReleaseAsync(string sku, ReservationRecord reservation, CancellationToken cancellationToken = default) =>
        MoveReservationAsync(Release, sku, reservation, cancellationToken);

    /// <summary>Deletes the reservation and moves its units; does nothing if the reservation is already gone.</summary>
    private Task<bool> MoveReservationAsync(DbOperation operation, string sku, ReservationRecord reservation, CancellationToken cancellationToken)
    {
        return db.InTransactionAsync(operation, async (connection, transaction) =>
        {
            var parameters = new { orderId = reservation.OrderId.ToString(), sku, quantity = reservation.Quantity };
            var deleted = await connection.ExecuteAsync(new CommandDefinition(operation.Parts[0], parameters, transaction, cancellationToken: cancellationToken));
            if (deleted == 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                return false;
            }

            await connection.ExecuteAsync(new CommandDefinition(operation.Parts[1], parameters, transaction, cancellationToken: cancellationToken));
            return true;
        }, cancellationToken, sku);
    }

    /// <summary>Adds received units to the row, relative to whatever it holds now (the single writer's restock).</summary>
    public Task<bool> RestockAsync(string sku, int quantity, CancellationToken cancellationToken = default) =>
        db.RunAsync(Restock, async connection => await connection.ExecuteAsync(
            new CommandDefinition(Restock.Statement, new { sku, quantity }, cancellationToken: cancellationToken)) == 1, cancellationToken, sku);

    /// <summary>The stock rows of <paramref name="skus"/> with their versions, in one query.</summary>
    public Task<IReadOnlyList<VersionedStock>> ReadLevelsAsync(IReadOnlyCollection<string> skus, CancellationToken cancellationToken = default) =>
        db.RunAsync(_readLevels, async connection => (IReadOnlyList<VersionedStock>)(await connection.QueryAsync<StockRow>(
                new CommandDefinition(_readLevels.Statement, new { skus = skus.ToArray() }, cancellationToken: cancellationToken)))
            .Select(row => new VersionedStock(row.ToLevel(), row.version))
            .ToList(), cancellationToken);

    /// <summary>
    /// Writes a whole level back (initial stock and available). With <paramref name="expectedVersion"/> only while the row
    /// still has that version; without, unconditionally (last writer wins).
    /// </summary>
    /// <returns>False when the version no longer matched (nothing was written).</returns>
    public Task<bool> WriteLevelAsync(string sku, int initialStock, int available, long? expectedVersion, CancellationToken cancellationToken = default)
    {
        var operation = expectedVersion is null ? WriteLevel : WriteLevelVersioned;
        return db.RunAsync(operation, async connection => await connection.ExecuteAsync(new CommandDefinition(operation.Statement,
            new { sku, initialStock, available, version = expectedVersion ?? 0 }, cancellationToken: cancellationToken)) == 1, cancellationToken, sku);
    }

    private sealed record StockRow(string sku, long initial_stock, long available, long reserved, long sold, long version)
    {
        public StockLevel ToLevel() => new(sku, (int)initial_stock, (int)available, (int)reserved, (int)sold);
    }

    private sealed record ReservationRow(string order_id, long quantity, long expires_at);
}

/// <summary>A stock row as read, with the version its next version-checked write must match.</summary>
public sealed record VersionedStock(StockLevel Stock, long Version);

public sealed record ReservationRecord(Guid OrderId, int Quantity, DateTimeOffset ExpiresAt);

public sealed record InventoryRecord(StockLevel Stock, IReadOnlyList<ReservationRecord> Reservations);

/// <summary>What a reservation write did.</summary>
public enum ReservationWrite
{
    Reserved,
    OutOfStock,
    AlreadyThere,
}
