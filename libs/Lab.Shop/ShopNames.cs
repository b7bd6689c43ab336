using System.Diagnostics;

namespace Lab.Shop;

/// <summary>
/// The names of the shop's repository operations (the lab.db.operation of their spans, the repositoryOperation of a
/// scenario's target). Repositories and scenarios use these constants, so a rename breaks the build, not a scenario.
/// </summary>
public static class ShopOperations
{
    public const string CartClear = "cart.clear";
    public const string CartLoad = "cart.load";
    public const string CartRemoveLine = "cart.remove-line";
    public const string CartUpsertLine = "cart.upsert-line";
    public const string CatalogChangePrice = "catalog.change-price";
    public const string CatalogCurrentPrices = "catalog.current-prices";
    public const string CatalogGetProduct = "catalog.get-product";
    public const string CatalogSearch = "catalog.search";
    public const string CatalogSearchCandidates = "catalog.search-candidates";
    public const string CustomerExists = "customer.exists";
    public const string CustomerOrderHistory = "customer.order-history";
    public const string CustomerOrderHistoryLines = "customer.order-history-lines";
    public const string CustomerOrderLines = "customer.order-lines";
    public const string GrainStateClear = "grain-state.clear";
    public const string GrainStateRead = "grain-state.read";
    public const string GrainStateWrite = "grain-state.write";
    public const string InventoryCommit = "inventory.commit";
    public const string InventoryLoad = "inventory.load";
    public const string InventoryReadLevels = "inventory.read-levels";
    public const string InventoryRelease = "inventory.release";
    public const string InventoryReserve = "inventory.reserve";
    public const string InventoryRestock = "inventory.restock";
    public const string InventoryReturn = "inventory.return";
    public const string InventoryWriteLevel = "inventory.write-level";
    public const string InventoryWriteLevelVersioned = "inventory.write-level-versioned";
    public const string OrderGet = "order.get";
    public const string OrderInsert = "order.insert";
    public const string OrderOutbox = "order.outbox";
    public const string OrderUpdateStatus = "order.update-status";
    public const string PaymentsByOrder = "payments.by-order";
    public const string PaymentsCharge = "payments.charge";
    public const string PaymentsGet = "payments.get";
    public const string PaymentsRefund = "payments.refund";
    public const string ProjectionAcknowledge = "projection.acknowledge";
    public const string ProjectionDeadLetter = "projection.dead-letter";
    public const string ProjectionGet = "projection.get";
    public const string ProjectionReplayDeadLetters = "projection.replay-dead-letters";
    public const string ProjectionSave = "projection.save";
    public const string ReportSales = "report.sales";
    public const string ShippingGet = "shipping.get";
    public const string ShippingInsert = "shipping.insert";

    /// <summary>The prefix every inventory write shares.</summary>
    public const string InventoryPrefix = "inventory.";
}

/// <summary>HTTP routes of the shop that hooks and scenarios match on.</summary>
public static class ShopRoutes
{
    /// <summary>Payments' charges (POST creates one).</summary>
    public const string Charges = "/api/charges";

    public const string Checkout = "/api/carts/{customerId}/checkout";

    public const string OrderHistory = "/api/customers/{customerId}/orders";

    public const string ProductSearch = "/api/catalog/search";

    public const string SalesReport = "/api/admin/reports/sales";
}

/// <summary>A cache entry that cache hooks can reason about: when it was last loaded (null = never).</summary>
public interface ICachedEntry
{
    DateTimeOffset? LoadedAt { get; }
}

/// <summary>
/// The database this process's repositories use ("sqlite" or "postgresql", the db.system.name), for scenarios whose
/// mechanism exists on one provider only. Set by the repository pipeline when it is created.
/// </summary>
public static class ShopDatabaseSystem
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgresql";

    private static volatile string s_current = Sqlite;

    public static string Current
    {
        get => s_current;
        set => s_current = value;
    }
}

/// <summary>The lab.db.lock_wait_ms attribute of a db span: every wait for a database lock inside the call, summed.</summary>
public static class DbLockWait
{
    public const string Tag = "lab.db.lock_wait_ms";

    public static void Add(Activity? activity, TimeSpan waited)
    {
        if (activity is null)
        {
            return;
        }

        var before = activity.GetTagItem(Tag) as double? ?? 0;
        activity.SetTag(Tag, Math.Round(before + waited.TotalMilliseconds, 3));
    }
}
