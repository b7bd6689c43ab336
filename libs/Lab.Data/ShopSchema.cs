namespace Lab.Data;

/// <summary>The shop database's tables. Money is stored in cents and times in Unix milliseconds so the
/// same statements serve every provider.</summary>
internal static class ShopSchema
{
    public const string Version = "1";

    /// <summary>The tables; their secondary indexes are <see cref="ShopIndexes"/>.</summary>
    public const string Create = """
        CREATE TABLE IF NOT EXISTS lab_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS products (
            sku TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            price_cents INTEGER NOT NULL,
            description TEXT NOT NULL,
            popularity_rank INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 1);
        CREATE TABLE IF NOT EXISTS inventory (
            sku TEXT PRIMARY KEY,
            initial_stock INTEGER NOT NULL,
            available INTEGER NOT NULL,
            reserved INTEGER NOT NULL,
            sold INTEGER NOT NULL,
            version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS reservations (
            order_id TEXT NOT NULL,
            sku TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            PRIMARY KEY (order_id, sku));
        CREATE TABLE IF NOT EXISTS customers (
            customer_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS cart_lines (
            customer_id INTEGER NOT NULL,
            sku TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            unit_price_cents INTEGER NOT NULL,
            PRIMARY KEY (customer_id, sku));
        CREATE TABLE IF NOT EXISTS orders (
            order_id TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            total_cents INTEGER NOT NULL,
            failure_reason TEXT NULL,
            payment_id TEXT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_sequence INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS order_lines (
            order_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            sku TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            unit_price_cents INTEGER NOT NULL,
            PRIMARY KEY (order_id, line_no));
        CREATE TABLE IF NOT EXISTS order_status_view (
            order_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            last_sequence INTEGER NOT NULL,
            events_applied INTEGER NOT NULL,
            updated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS order_outbox (
            order_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            occurred_at INTEGER NOT NULL,
            detail TEXT NULL,
            PRIMARY KEY (order_id, sequence));
        CREATE TABLE IF NOT EXISTS grain_state (
            grain_type TEXT NOT NULL,
            grain_id TEXT NOT NULL,
            state TEXT NOT NULL,
            etag TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (grain_type, grain_id));
        CREATE TABLE IF NOT EXISTS order_dead_letters (
            order_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            occurred_at INTEGER NOT NULL,
            detail TEXT NULL,
            attempts INTEGER NOT NULL,
            reason TEXT NOT NULL,
            dead_lettered_at INTEGER NOT NULL,
            PRIMARY KEY (order_id, sequence));
        CREATE TABLE IF NOT EXISTS shipments (
            shipment_id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL);
        """;
}
