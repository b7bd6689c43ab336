using Lab.Shop;
using Dapper;
using Lab.Contracts;

namespace Lab.Data;

public sealed class CartRepository(LabDb db)
{
    private static readonly DbOperation Load = new(ShopOperations.CartLoad, "cart_lines", "SELECT",
        "SELECT sku, quantity, unit_price_cents FROM cart_lines WHERE customer_id = @customerId ORDER BY sku");

    private static readonly DbOperation Upsert = new(ShopOperations.CartUpsertLine, "cart_lines", "INSERT",
        """
        INSERT INTO cart_lines (customer_id, sku, quantity, unit_price_cents) VALUES (@customerId, @sku, @quantity, @unitPriceCents)
        ON CONFLICT (customer_id, sku) DO UPDATE SET quantity = excluded.quantity, unit_price_cents = excluded.unit_price_cents
        """);

    private static readonly DbOperation Remove = new(ShopOperations.CartRemoveLine, "cart_lines", "DELETE",
        "DELETE FROM cart_lines WHERE customer_id = @customerId AND sku = @sku");

    private static readonly DbOperation Clear = new(ShopOperations.CartClear, "cart_lines", "DELETE",
        "DELETE FROM cart_lines WHERE customer_id = @customerId");

    public Task<List<CartLine>> LoadAsync(int customerId, CancellationToken cancellationToken = default) =>
        db.RunAsync(Load, async connection =>
            (await connection.QueryAsync<LineRow>(new CommandDefinition(Load.Statement, new { customerId }, cancellationToken: cancellationToken)))
            .Select(row => new CartLine(row.sku, (int)row.quantity, ShopKeys.FromCents(row.unit_price_cents)))
            .ToList(), cancellationToken);

    public Task<int> UpsertLineAsync(int customerId, CartLine line, CancellationToken cancellationToken = default) =>
        db.RunAsync(Upsert, connection => connection.ExecuteAsync(new CommandDefinition(Upsert.Statement,
            new { customerId, sku = line.Sku, quantity = line.Quantity, unitPriceCents = ShopKeys.ToCents(line.UnitPrice) },
            cancellationToken: cancellationToken)), cancellationToken);

    public Task<int> RemoveLineAsync(int customerId, string sku, CancellationToken cancellationToken = default) =>
        db.RunAsync(Remove, connection => connection.ExecuteAsync(
            new CommandDefinition(Remove.Statement, new { customerId, sku }, cancellationToken: cancellationToken)), cancellationToken);

    public Task<int> ClearAsync(int customerId, CancellationToken cancellationToken = default) =>
        db.RunAsync(Clear, connection => connection.ExecuteAsync(
            new CommandDefinition(Clear.Statement, new { customerId }, cancellationToken: cancellationToken)), cancellationToken);

    private sealed record LineRow(string sku, long quantity, long unit_price_cents);
}
