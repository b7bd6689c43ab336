namespace Lab.Data;

/// <summary>A secondary index of the shop's schema and the queries that rely on it.</summary>
/// <param name="Serves">What would scan the whole table without it.</param>
public sealed record ShopIndex(string Name, string Table, string Columns, string Serves)
{
    public string CreateStatement => $"CREATE INDEX IF NOT EXISTS {Name} ON {Table} ({Columns})";

    public string DropStatement => $"DROP INDEX IF EXISTS {Name}";
}

/// <summary>
/// The secondary indexes the shop's queries rely on: created with the schema (and again by every silo at start-up, as a
/// migration would), and the one place their definitions live.
/// </summary>
public static class ShopIndexes
{
    public static ShopIndex OrdersByCustomer { get; } = new("ix_orders_customer", "orders", "customer_id, created_at",
        "a customer's order history (customer.order-history: WHERE customer_id = ? ORDER BY created_at DESC)");

    public static IReadOnlyList<ShopIndex> All { get; } =
    [
        new("ix_products_category", "products", "category", "catalog search within a category"),
        new("ix_reservations_sku", "reservations", "sku", "the reservations of a SKU (inventory.load)"),
        OrdersByCustomer,
        new("ix_orders_status", "orders", "status", "the recovery sweep's unsettled orders"),
        new("ix_order_outbox_occurred", "order_outbox", "occurred_at", "the recovery sweep's unacknowledged events"),
    ];

    /// <summary>Every index's CREATE INDEX IF NOT EXISTS, for the schema script.</summary>
    internal static string CreateAll => string.Join(";\n", All.Select(index => index.CreateStatement)) + ";";

    public static ShopIndex? Find(string name) => All.FirstOrDefault(index => string.Equals(index.Name, name, StringComparison.Ordinal));
}
